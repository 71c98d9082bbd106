//! Index segments: the immutable, self-contained BM25 index of one or more document versions.
//!
//! A segment stores raw statistics only (term frequencies, field lengths), never scores, so
//! any set of segments written independently can be searched together with statistics merged
//! at query time, and `merge` can compact many of them into one without changing a ranking.

use rustc_hash::FxHashMap as HashMap;

use crate::analyze::analyze_spans;
use crate::chunk::Chunk;
use crate::codec::{Reader, Writer};

const MAGIC: &[u8; 4] = b"RGSG";
/// Bumped whenever the byte layout changes; readers reject versions they do not know.
/// Version 2 appends the chunks' embedding vectors; version 1 segments are still read.
pub const FORMAT_VERSION: u8 = 2;
/// The largest embedding a segment stores (the biggest common models use 3,072 dimensions).
pub const MAX_VECTOR_DIMENSIONS: usize = 8192;
const HEADER_LEN: usize = MAGIC.len() + 1 + 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("not an index segment")]
    NotASegment,
    #[error(
        "index segment format version {0} is not supported (this build reads {FORMAT_VERSION})"
    )]
    UnsupportedVersion(u8),
    #[error("index segment is corrupt: {0}")]
    Corrupt(String),
}

/// A document version and what it contributes to a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocEntry {
    pub doc_id: String,
    pub version: u64,
    pub title: String,
    pub(crate) first_chunk: u32,
    pub(crate) chunk_count: u32,
    /// Sums over the document's chunks, so query-time statistics cost O(documents).
    pub(crate) body_len_sum: u64,
    pub(crate) context_len_sum: u64,
}

impl DocEntry {
    pub fn chunk_count(&self) -> u32 {
        self.chunk_count
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkEntry {
    pub(crate) doc: u32,
    pub(crate) index: u32,
    pub(crate) heading_path: Vec<String>,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) token_count: u32,
    /// Analyzed terms in the chunk's text.
    pub(crate) body_len: u32,
    /// Analyzed terms in the chunk's context field: the document title and heading path.
    pub(crate) context_len: u32,
    pub(crate) text: String,
}

/// Where a term occurs: the segment-local chunk and the term's frequency in each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Posting {
    pub(crate) chunk: u32,
    pub(crate) body_tf: u32,
    pub(crate) context_tf: u32,
}

/// The chunks' embedding vectors, all from one model: each unit-length vector is kept as
/// signed bytes (scaled so its largest component is ±127) and the factor that brings the byte
/// vector back to unit length — a quarter of the size of `f32`s, with cosine similarities
/// within about 1% of the exact ones. Only chunks with a vector take room (a merged segment may
/// mix embedded and plain chunks), so decoding allocates in proportion to the bytes read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChunkVectors {
    pub(crate) model: String,
    pub(crate) dimensions: usize,
    /// Per chunk: its row in `codes`/`scales`, or `NO_VECTOR`.
    pub(crate) rows: Vec<u32>,
    /// `rows × dimensions` codes.
    pub(crate) codes: Vec<i8>,
    /// Per row: `1 / |codes|`, so `scale × codes · query` is the cosine with a unit query.
    pub(crate) scales: Vec<f32>,
}

const NO_VECTOR: u32 = u32::MAX;

impl ChunkVectors {
    fn empty(model: &str, dimensions: usize) -> Self {
        Self {
            model: model.to_owned(),
            dimensions,
            rows: Vec::new(),
            codes: Vec::new(),
            scales: Vec::new(),
        }
    }

    fn push_absent(&mut self) {
        self.rows.push(NO_VECTOR);
    }

    fn push_codes(&mut self, codes: &[i8], scale: f32) {
        self.rows.push(to_u32(self.scales.len()));
        self.codes.extend_from_slice(codes);
        self.scales.push(scale);
    }

    /// Quantizes one vector; a zero vector or one with a non-finite component is refused.
    fn push_vector(&mut self, vector: &[f32]) -> Result<(), String> {
        if vector.iter().any(|x| !x.is_finite()) {
            return Err("a vector has a component that is not a finite number".into());
        }
        let max = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
        if max <= 0.0 {
            return Err("a vector is zero".into());
        }
        let codes: Vec<i8> = vector
            .iter()
            .map(|x| (x / max * 127.0).round().clamp(-127.0, 127.0) as i8)
            .collect();
        let norm = codes
            .iter()
            .map(|c| f32::from(*c) * f32::from(*c))
            .sum::<f32>()
            .sqrt();
        self.push_codes(&codes, 1.0 / norm);
        Ok(())
    }

    /// The codes and scale of chunk `chunk`'s vector, if it has one.
    pub(crate) fn vector_of(&self, chunk: usize) -> Option<(&[i8], f32)> {
        let row = *self.rows.get(chunk)?;
        if row == NO_VECTOR {
            return None;
        }
        let row = row as usize;
        Some((
            &self.codes[row * self.dimensions..(row + 1) * self.dimensions],
            self.scales[row],
        ))
    }

    pub(crate) fn chunk_count(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn vector_count(&self) -> usize {
        self.scales.len()
    }

    /// Cosine similarity of chunk `chunk` with a query (`None`: no vector). Both sides are
    /// bytes, so the dot product is integer arithmetic, which the compiler vectorizes (a float
    /// sum it may not reorder); this is the inner loop of every hybrid search.
    pub(crate) fn cosine(&self, chunk: usize, query: &QuantizedQuery) -> Option<f32> {
        let (codes, scale) = self.vector_of(chunk)?;
        Some(dot_i8(codes, &query.codes) as f32 * scale * query.scale)
    }
}

fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    // |a·b| ≤ 127² × 8,192 dimensions < 2³¹: no overflow.
    a.iter()
        .zip(b)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum()
}

/// A query vector quantized like the chunks' (largest component ±127), with the factor that
/// turns a byte dot product into the cosine with the unit-length query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuantizedQuery {
    pub(crate) codes: Vec<i8>,
    pub(crate) scale: f32,
}

impl QuantizedQuery {
    /// `None` for a zero or non-finite vector.
    pub(crate) fn new(vector: &[f32]) -> Option<Self> {
        if vector.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let max = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if max <= 0.0 || norm <= 0.0 {
            return None;
        }
        let codes = vector
            .iter()
            .map(|x| (x / max * 127.0).round().clamp(-127.0, 127.0) as i8)
            .collect();
        // unit_i = x_i / norm ≈ code_i × max / (127 × norm)
        Some(Self {
            codes,
            scale: max / (127.0 * norm),
        })
    }
}

/// An immutable inverted index over the chunks of some document versions, with their
/// embedding vectors when an embedding model is configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub(crate) docs: Vec<DocEntry>,
    pub(crate) chunks: Vec<ChunkEntry>,
    /// Sorted, unique.
    pub(crate) terms: Vec<Box<str>>,
    /// `postings[offsets[t]..offsets[t + 1]]` belong to `terms[t]`, in chunk order.
    pub(crate) offsets: Vec<u32>,
    pub(crate) postings: Vec<Posting>,
    /// Per chunk, packed for the scoring loop (derived from `chunks`, not stored).
    pub(crate) scoring: Vec<ChunkScoring>,
    pub(crate) vectors: Option<ChunkVectors>,
}

/// What scoring needs of a chunk, kept apart from its text so the loop stays in cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkScoring {
    pub(crate) doc: u32,
    pub(crate) body_len: u32,
    pub(crate) context_len: u32,
}

fn scoring_of(chunks: &[ChunkEntry]) -> Vec<ChunkScoring> {
    chunks
        .iter()
        .map(|c| ChunkScoring {
            doc: c.doc,
            body_len: c.body_len,
            context_len: c.context_len,
        })
        .collect()
}

/// The text of a chunk's context field: the title, then each heading that is not the title.
fn context_text(title: &str, heading_path: &[String]) -> String {
    let mut parts: Vec<&str> = vec![title];
    for heading in heading_path {
        if !heading.trim().eq_ignore_ascii_case(title.trim()) {
            parts.push(heading);
        }
    }
    parts.join("\n")
}

fn count_terms(text: &str, counts: &mut HashMap<String, (u32, u32)>, field: usize) -> u32 {
    let mut len = 0;
    analyze_spans(text, |term, _, _| {
        len += 1;
        let entry = match counts.get_mut(term) {
            Some(entry) => entry,
            None => counts.entry(term.to_owned()).or_default(),
        };
        if field == 0 {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    });
    len
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl Segment {
    /// Indexes one document version: each chunk's text is the body field; the title and the
    /// chunk's heading path form its context field.
    pub fn build(doc_id: &str, version: u64, title: &str, chunks: &[Chunk]) -> Segment {
        let mut entries = Vec::with_capacity(chunks.len());
        let mut by_term: HashMap<String, Vec<Posting>> = HashMap::default();
        let mut counts: HashMap<String, (u32, u32)> = HashMap::default();
        for (ordinal, chunk) in chunks.iter().enumerate() {
            counts.clear();
            let body_len = count_terms(&chunk.text, &mut counts, 0);
            let context_len =
                count_terms(&context_text(title, &chunk.heading_path), &mut counts, 1);
            for (term, (body_tf, context_tf)) in counts.drain() {
                by_term.entry(term).or_default().push(Posting {
                    chunk: to_u32(ordinal),
                    body_tf,
                    context_tf,
                });
            }
            entries.push(ChunkEntry {
                doc: 0,
                index: chunk.index,
                heading_path: chunk.heading_path.clone(),
                start: chunk.start as u64,
                end: chunk.end as u64,
                token_count: to_u32(chunk.token_count),
                body_len,
                context_len,
                text: chunk.text.clone(),
            });
        }
        let doc = DocEntry {
            doc_id: doc_id.to_owned(),
            version,
            title: title.to_owned(),
            first_chunk: 0,
            chunk_count: to_u32(entries.len()),
            body_len_sum: entries.iter().map(|c| u64::from(c.body_len)).sum(),
            context_len_sum: entries.iter().map(|c| u64::from(c.context_len)).sum(),
        };
        let mut terms: Vec<(String, Vec<Posting>)> = by_term.into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Self::assemble(vec![doc], entries, terms)
    }

    fn assemble(
        docs: Vec<DocEntry>,
        chunks: Vec<ChunkEntry>,
        terms: Vec<(String, Vec<Posting>)>,
    ) -> Segment {
        let mut offsets = Vec::with_capacity(terms.len() + 1);
        let mut postings = Vec::with_capacity(terms.iter().map(|t| t.1.len()).sum());
        let mut names = Vec::with_capacity(terms.len());
        offsets.push(0);
        for (term, list) in terms {
            names.push(term.into_boxed_str());
            postings.extend(list);
            offsets.push(to_u32(postings.len()));
        }
        Segment {
            scoring: scoring_of(&chunks),
            docs,
            chunks,
            terms: names,
            offsets,
            postings,
            vectors: None,
        }
    }

    /// Stores the chunks' embedding vectors (one per chunk, in chunk order) from `model`.
    pub fn attach_vectors(&mut self, model: &str, vectors: &[Vec<f32>]) -> Result<(), String> {
        if vectors.len() != self.chunks.len() {
            return Err(format!(
                "{} vectors for {} chunks",
                vectors.len(),
                self.chunks.len()
            ));
        }
        let dimensions = vectors.first().map_or(0, Vec::len);
        if vectors.iter().any(|v| v.len() != dimensions)
            || !(1..=MAX_VECTOR_DIMENSIONS).contains(&dimensions)
        {
            return Err(format!(
                "vectors must all have the same size, 1 to {MAX_VECTOR_DIMENSIONS} dimensions"
            ));
        }
        if model.is_empty() {
            return Err("the embedding model needs a name".into());
        }
        let mut stored = ChunkVectors::empty(model, dimensions);
        for vector in vectors {
            stored.push_vector(vector)?;
        }
        self.vectors = Some(stored);
        Ok(())
    }

    /// The model whose vectors this segment holds, if any.
    pub fn embedding_model(&self) -> Option<&str> {
        self.vectors.as_ref().map(|v| v.model.as_str())
    }

    /// How many chunks carry a vector.
    pub fn vector_count(&self) -> usize {
        self.vectors.as_ref().map_or(0, ChunkVectors::vector_count)
    }

    /// The document versions this segment covers, in order.
    pub fn documents(&self) -> &[DocEntry] {
        &self.docs
    }

    /// `(doc_id, version)` of every document version covered.
    pub fn covers(&self) -> impl Iterator<Item = (&str, u64)> {
        self.docs.iter().map(|d| (d.doc_id.as_str(), d.version))
    }

    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// Postings of the term with ordinal `t` (an index into the sorted term list).
    pub(crate) fn postings_at(&self, t: usize) -> &[Posting] {
        &self.postings[self.offsets[t] as usize..self.offsets[t + 1] as usize]
    }

    pub(crate) fn term_postings(&self, term: &str) -> &[Posting] {
        match self.terms.binary_search_by(|t| (**t).cmp(term)) {
            Ok(t) => {
                let (from, to) = (self.offsets[t] as usize, self.offsets[t + 1] as usize);
                &self.postings[from..to]
            }
            Err(_) => &[],
        }
    }

    /// Compacts segments into one covering all their document versions. When a document
    /// appears in several versions only the newest is kept; when the same version appears
    /// twice (an original next to an earlier merge) the first copy is kept.
    pub fn merge(segments: &[Segment]) -> Segment {
        Self::merge_where(segments, |_, _| true)
    }

    /// Like `merge`, keeping only the document versions for which `keep(doc_id, version)`
    /// holds, so compaction also drops deleted documents.
    pub fn merge_where(segments: &[Segment], keep: impl Fn(&str, u64) -> bool) -> Segment {
        Self::merge_keeping(segments, keep, None)
    }

    /// Like `merge_where`, keeping the vectors of `model` (the one queries are embedded with)
    /// when any chunk has them; otherwise those of the model most chunks use. Right after the
    /// embedding model changes, most chunks still carry the old one: compaction must not drop
    /// the new vectors in its favour.
    pub fn merge_keeping(
        segments: &[Segment],
        keep: impl Fn(&str, u64) -> bool,
        model: Option<&str>,
    ) -> Segment {
        let refs: Vec<&Segment> = segments.iter().collect();
        let live = crate::search::live_documents(&refs);
        let mut docs = Vec::new();
        let mut chunks = Vec::new();
        // Where each kept chunk came from: (segment, chunk there), to carry its vector over.
        let mut sources: Vec<(usize, usize)> = Vec::new();
        let mut by_term: HashMap<&str, Vec<Posting>> = HashMap::default();
        for (s, (segment, live)) in segments.iter().zip(&live).enumerate() {
            // Old chunk number → new, for the chunks of documents that survive.
            let mut remap: Vec<Option<u32>> = vec![None; segment.chunks.len()];
            for (d, doc) in segment.docs.iter().enumerate() {
                if !live[d] || !keep(&doc.doc_id, doc.version) {
                    continue;
                }
                let new_doc = to_u32(docs.len());
                let first_chunk = to_u32(chunks.len());
                let range = doc.first_chunk as usize..(doc.first_chunk + doc.chunk_count) as usize;
                for c in range {
                    if let Some(chunk) = segment.chunks.get(c) {
                        remap[c] = Some(to_u32(chunks.len()));
                        sources.push((s, c));
                        chunks.push(ChunkEntry {
                            doc: new_doc,
                            ..chunk.clone()
                        });
                    }
                }
                docs.push(DocEntry {
                    first_chunk,
                    ..doc.clone()
                });
            }
            for (t, term) in segment.terms.iter().enumerate() {
                let list =
                    &segment.postings[segment.offsets[t] as usize..segment.offsets[t + 1] as usize];
                for posting in list {
                    if let Some(chunk) = remap[posting.chunk as usize] {
                        by_term
                            .entry(term)
                            .or_default()
                            .push(Posting { chunk, ..*posting });
                    }
                }
            }
        }
        let mut terms: Vec<(String, Vec<Posting>)> = by_term
            .into_iter()
            .map(|(term, list)| (term.to_owned(), list))
            .collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut merged = Self::assemble(docs, chunks, terms);
        merged.vectors = merge_vectors(segments, &sources, model);
        merged
    }

    /// Serializes the segment: magic, format version, CRC-32 of the payload, payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.varint(self.docs.len() as u64);
        for doc in &self.docs {
            w.str(&doc.doc_id);
            w.varint(doc.version);
            w.str(&doc.title);
            w.varint(u64::from(doc.chunk_count));
        }
        for chunk in &self.chunks {
            w.varint(u64::from(chunk.index));
            w.varint(chunk.heading_path.len() as u64);
            for heading in &chunk.heading_path {
                w.str(heading);
            }
            w.varint(chunk.start);
            w.varint(chunk.end.saturating_sub(chunk.start));
            w.varint(u64::from(chunk.token_count));
            w.varint(u64::from(chunk.body_len));
            w.varint(u64::from(chunk.context_len));
            w.str(&chunk.text);
        }
        w.varint(self.terms.len() as u64);
        let mut previous: &str = "";
        for (t, term) in self.terms.iter().enumerate() {
            // Front coding: sorted terms share long prefixes.
            let shared = previous
                .bytes()
                .zip(term.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            w.varint(shared as u64);
            w.varint((term.len() - shared) as u64);
            w.bytes.extend_from_slice(&term.as_bytes()[shared..]);
            let list = &self.postings[self.offsets[t] as usize..self.offsets[t + 1] as usize];
            w.varint(list.len() as u64);
            let mut last = 0;
            for (i, posting) in list.iter().enumerate() {
                let delta = if i == 0 {
                    posting.chunk
                } else {
                    posting.chunk - last
                };
                last = posting.chunk;
                w.varint(u64::from(delta));
                w.varint(u64::from(posting.body_tf));
                w.varint(u64::from(posting.context_tf));
            }
            previous = term;
        }
        // Without vectors the layout is version 1's, so a build from before hybrid retrieval
        // (a rollback, or old and new functions side by side during a deploy) still reads it.
        let version = match &self.vectors {
            None => 1,
            Some(v) => {
                w.varint(1);
                w.str(&v.model);
                w.varint(v.dimensions as u64);
                for c in 0..v.chunk_count() {
                    match v.vector_of(c) {
                        Some((codes, scale)) => {
                            w.bytes.push(1);
                            w.bytes.extend_from_slice(&scale.to_le_bytes());
                            w.bytes.extend(codes.iter().map(|x| *x as u8));
                        }
                        None => w.bytes.push(0),
                    }
                }
                FORMAT_VERSION
            }
        };
        let payload = w.bytes;
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.push(version);
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        bytes
    }

    /// Reads a segment written by `to_bytes`, validating the header, checksum and structure.
    pub fn from_bytes(bytes: &[u8]) -> Result<Segment, SegmentError> {
        if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return Err(SegmentError::NotASegment);
        }
        let version = bytes[MAGIC.len()];
        if !(1..=FORMAT_VERSION).contains(&version) {
            return Err(SegmentError::UnsupportedVersion(version));
        }
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&bytes[MAGIC.len() + 1..HEADER_LEN]);
        let payload = &bytes[HEADER_LEN..];
        if crc32fast::hash(payload) != u32::from_le_bytes(crc) {
            return Err(SegmentError::Corrupt("checksum mismatch".into()));
        }
        Self::decode(payload, version).map_err(SegmentError::Corrupt)
    }

    fn decode(payload: &[u8], version: u8) -> Result<Segment, String> {
        let mut r = Reader::new(payload);
        let doc_count = r.count(4)?;
        let mut docs = Vec::with_capacity(doc_count);
        let mut total_chunks: u64 = 0;
        for _ in 0..doc_count {
            let doc_id = r.str()?.to_owned();
            let version = r.varint()?;
            let title = r.str()?.to_owned();
            let chunk_count = r.u32()?;
            docs.push(DocEntry {
                doc_id,
                version,
                title,
                first_chunk: u32::try_from(total_chunks).map_err(|_| "too many chunks")?,
                chunk_count,
                body_len_sum: 0,
                context_len_sum: 0,
            });
            total_chunks += u64::from(chunk_count);
        }
        let chunk_total = usize::try_from(total_chunks)
            .ok()
            .filter(|n| *n <= r.remaining() / 8)
            .ok_or("chunk count exceeds the remaining data")?;
        let mut chunks = Vec::with_capacity(chunk_total);
        for (d, doc) in docs.iter_mut().enumerate() {
            for _ in 0..doc.chunk_count {
                let index = r.u32()?;
                let headings = r.count(1)?;
                let mut heading_path = Vec::with_capacity(headings);
                for _ in 0..headings {
                    heading_path.push(r.str()?.to_owned());
                }
                let start = r.varint()?;
                let end = start
                    .checked_add(r.varint()?)
                    .ok_or("chunk offsets overflow")?;
                let token_count = r.u32()?;
                let body_len = r.u32()?;
                let context_len = r.u32()?;
                let text = r.str()?.to_owned();
                doc.body_len_sum += u64::from(body_len);
                doc.context_len_sum += u64::from(context_len);
                chunks.push(ChunkEntry {
                    doc: to_u32(d),
                    index,
                    heading_path,
                    start,
                    end,
                    token_count,
                    body_len,
                    context_len,
                    text,
                });
            }
        }
        let term_count = r.count(3)?;
        let mut terms: Vec<Box<str>> = Vec::with_capacity(term_count);
        let mut offsets = Vec::with_capacity(term_count + 1);
        let mut postings = Vec::new();
        offsets.push(0);
        let mut term = Vec::new();
        for _ in 0..term_count {
            let shared = r.count(0)?;
            if shared > term.len() {
                return Err("term prefix longer than the previous term".into());
            }
            term.truncate(shared);
            let suffix_len = r.count(1)?;
            term.extend_from_slice(r.bytes(suffix_len)?);
            let text = std::str::from_utf8(&term).map_err(|_| "term is not UTF-8")?;
            if terms.last().is_some_and(|last| **last >= *text) {
                return Err("terms are not sorted".into());
            }
            terms.push(text.into());
            let list_len = r.count(3)?;
            let mut chunk: u64 = 0;
            for i in 0..list_len {
                let delta = r.varint()?;
                if i > 0 && delta == 0 {
                    return Err("postings are not in chunk order".into());
                }
                chunk = chunk.checked_add(delta).ok_or("posting overflows")?;
                if chunk >= chunks.len() as u64 {
                    return Err(format!("posting names chunk {chunk} of {}", chunks.len()));
                }
                postings.push(Posting {
                    chunk: chunk as u32,
                    body_tf: r.u32()?,
                    context_tf: r.u32()?,
                });
            }
            offsets.push(u32::try_from(postings.len()).map_err(|_| "too many postings")?);
        }
        let vectors = if version >= 2 {
            if r.varint()? != 1 {
                return Err("a version 2 segment without vectors".into());
            }
            let model = r.str()?.to_owned();
            let dimensions = r.count(0)?;
            if !(1..=MAX_VECTOR_DIMENSIONS).contains(&dimensions) {
                return Err(format!("{dimensions} vector dimensions"));
            }
            let mut v = ChunkVectors::empty(&model, dimensions);
            for _ in 0..chunks.len() {
                match r.bytes(1)?[0] {
                    0 => v.push_absent(),
                    1 => {
                        let mut scale = [0u8; 4];
                        scale.copy_from_slice(r.bytes(4)?);
                        let scale = f32::from_le_bytes(scale);
                        if !scale.is_finite() || scale <= 0.0 {
                            return Err("vector scale out of range".into());
                        }
                        let codes: Vec<i8> =
                            r.bytes(dimensions)?.iter().map(|b| *b as i8).collect();
                        v.push_codes(&codes, scale);
                    }
                    other => return Err(format!("vector flag {other}")),
                }
            }
            if v.vector_count() == 0 {
                return Err("vectors section without a vector".into());
            }
            Some(v)
        } else {
            None
        };
        if r.remaining() != 0 {
            return Err(format!("{} trailing bytes", r.remaining()));
        }
        Ok(Segment {
            scoring: scoring_of(&chunks),
            docs,
            chunks,
            terms,
            offsets,
            postings,
            vectors,
        })
    }
}

/// The vectors of a merged segment: those of the model most of the kept chunks were embedded
/// with (a changed embedding model leaves older chunks to BM25 until they are re-indexed).
fn merge_vectors(
    segments: &[Segment],
    sources: &[(usize, usize)],
    preferred_model: Option<&str>,
) -> Option<ChunkVectors> {
    let mut counts: Vec<(&str, usize, usize)> = Vec::new();
    for (s, c) in sources {
        if let Some(v) = &segments[*s].vectors
            && v.vector_of(*c).is_some()
        {
            match counts
                .iter_mut()
                .find(|(m, d, _)| *m == v.model && *d == v.dimensions)
            {
                Some(entry) => entry.2 += 1,
                None => counts.push((&v.model, v.dimensions, 1)),
            }
        }
    }
    let preferred = counts
        .iter()
        .copied()
        .filter(|(m, _, _)| Some(*m) == preferred_model)
        .max_by_key(|(_, _, n)| *n);
    let (model, dimensions, _) = preferred.or_else(|| {
        counts
            .iter()
            .copied()
            .reduce(|best, next| if next.2 > best.2 { next } else { best })
    })?;
    let mut merged = ChunkVectors::empty(model, dimensions);
    for (s, c) in sources {
        match &segments[*s].vectors {
            Some(v) if v.model == model && v.dimensions == dimensions => match v.vector_of(*c) {
                Some((codes, scale)) => merged.push_codes(codes, scale),
                None => merged.push_absent(),
            },
            _ => merged.push_absent(),
        }
    }
    Some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{ChunkConfig, chunk_text};

    fn sample() -> Segment {
        let text = "# Guide\n\nCats chase mice. Dogs chase cats.\n\n## Food\n\nCats eat fish.";
        Segment::build(
            "doc-1",
            3,
            "Pet guide",
            &chunk_text(text, &ChunkConfig::default()),
        )
    }

    #[test]
    fn a_segment_round_trips_through_bytes() {
        let segment = sample();
        let bytes = segment.to_bytes();
        assert_eq!(&bytes[..4], b"RGSG");
        assert_eq!(bytes[4], 1, "without vectors, the version 1 layout");
        assert_eq!(Segment::from_bytes(&bytes).unwrap(), segment);
    }

    #[test]
    fn build_records_term_frequencies_per_chunk_and_field() {
        let segment = sample();
        assert_eq!(segment.chunk_count(), 2);
        let cat = segment.term_postings("cat");
        assert_eq!(cat.len(), 2);
        assert_eq!((cat[0].chunk, cat[0].body_tf, cat[0].context_tf), (0, 2, 0));
        let pet = segment.term_postings("pet");
        assert_eq!(
            pet.iter().map(|p| p.context_tf).collect::<Vec<_>>(),
            vec![1, 1]
        );
        let food = segment.term_postings("food");
        assert_eq!((food.len(), food[0].chunk, food[0].context_tf), (1, 1, 1));
        assert!(segment.term_postings("absent").is_empty());
    }

    #[test]
    fn wrong_magic_version_or_checksum_is_rejected() {
        let bytes = sample().to_bytes();
        assert_eq!(Segment::from_bytes(b"nope"), Err(SegmentError::NotASegment));
        let mut future = bytes.clone();
        future[4] = FORMAT_VERSION + 1;
        assert_eq!(
            Segment::from_bytes(&future),
            Err(SegmentError::UnsupportedVersion(FORMAT_VERSION + 1))
        );
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(matches!(
            Segment::from_bytes(&flipped),
            Err(SegmentError::Corrupt(_))
        ));
    }

    /// A merged segment mixing a chunk with a vector and chunks without.
    fn sample_with_vectors() -> Segment {
        let mut embedded = sample();
        embedded.attach_vectors("m", &vectors(2, 6, 5)).unwrap();
        let chunks = chunk_text("plain words", &ChunkConfig::default());
        Segment::merge(&[embedded, Segment::build("doc-2", 1, "Plain", &chunks)])
    }

    #[test]
    fn every_truncation_and_single_byte_corruption_is_an_error_or_a_valid_segment() {
        for segment in [sample(), sample_with_vectors()] {
            every_corruption_is_an_error_or_a_valid_segment(&segment);
        }
    }

    fn every_corruption_is_an_error_or_a_valid_segment(segment: &Segment) {
        let bytes = segment.to_bytes();
        let version = bytes[4];
        for len in 0..bytes.len() {
            assert!(
                Segment::from_bytes(&bytes[..len]).is_err(),
                "truncated to {len}"
            );
        }
        // With the checksum recomputed, the structural checks alone must hold the line.
        for i in HEADER_LEN..bytes.len() {
            for value in [0x00, 0x7f, 0x80, 0xff] {
                let mut payload = bytes[HEADER_LEN..].to_vec();
                payload[i - HEADER_LEN] = value;
                let _ = Segment::decode(&payload, version);
            }
        }
    }

    /// Deterministic pseudo-random vectors (xorshift), so the tests need no extra crate.
    fn vectors(count: usize, dimensions: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 20_001) as f32 / 10_000.0 - 1.0
        };
        (0..count)
            .map(|_| (0..dimensions).map(|_| next()).collect())
            .collect()
    }

    #[test]
    fn vectors_round_trip_and_quantized_cosines_stay_within_a_percent() {
        let mut segment = sample();
        let exact = vectors(2, 384, 7);
        segment.attach_vectors("embed-small", &exact).unwrap();
        let bytes = segment.to_bytes();
        let again = Segment::from_bytes(&bytes).unwrap();
        assert_eq!(again, segment);
        assert_eq!(again.embedding_model(), Some("embed-small"));
        assert_eq!(again.vector_count(), 2);
        let stored = again.vectors.as_ref().unwrap();
        for query in vectors(20, 384, 99) {
            let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
            let unit: Vec<f32> = query.iter().map(|x| x / norm).collect();
            let quantized = QuantizedQuery::new(&query).unwrap();
            for (c, chunk) in exact.iter().enumerate() {
                let chunk_norm = chunk.iter().map(|x| x * x).sum::<f32>().sqrt();
                let truth: f32 =
                    chunk.iter().zip(&unit).map(|(a, b)| a * b).sum::<f32>() / chunk_norm;
                let got = stored.cosine(c, &quantized).unwrap();
                assert!((got - truth).abs() < 0.01, "{got} vs {truth}");
            }
        }
        // Four bytes a dimension would be 3 KB for these two chunks; codes take a quarter.
        let plain = sample().to_bytes().len();
        assert!(
            bytes.len() - plain < 2 * (384 + 6) + 32,
            "{}",
            bytes.len() - plain
        );
    }

    #[test]
    fn vectors_that_do_not_fit_the_chunks_are_refused() {
        let mut segment = sample();
        assert!(segment.attach_vectors("m", &vectors(1, 8, 1)).is_err());
        assert!(
            segment
                .attach_vectors("m", &[vec![1.0; 8], vec![1.0; 9]])
                .is_err()
        );
        assert!(
            segment
                .attach_vectors("m", &[vec![1.0; 8], vec![0.0; 8]])
                .is_err()
        );
        assert!(
            segment
                .attach_vectors("m", &[vec![1.0; 8], vec![f32::NAN; 8]])
                .is_err()
        );
        let mut partly_nan = vec![1.0; 8];
        partly_nan[3] = f32::NAN;
        assert!(
            segment
                .attach_vectors("m", &[vec![1.0; 8], partly_nan])
                .is_err()
        );
        assert!(segment.attach_vectors("", &vectors(2, 8, 1)).is_err());
        assert_eq!(segment.embedding_model(), None);
    }

    #[test]
    fn only_a_segment_with_vectors_uses_version_2_so_older_builds_read_the_rest() {
        let plain = sample().to_bytes();
        assert_eq!(plain[4], 1);
        // Version 1's reader: the same payload, no trailing vectors section.
        assert_eq!(Segment::decode(&plain[HEADER_LEN..], 1).unwrap(), sample());
        let mut embedded = sample();
        embedded.attach_vectors("m", &vectors(2, 8, 1)).unwrap();
        let bytes = embedded.to_bytes();
        assert_eq!(bytes[4], FORMAT_VERSION);
        // A version 1 reader would see trailing bytes and refuse: never a wrong ranking.
        assert!(Segment::decode(&bytes[HEADER_LEN..], 1).is_err());
    }

    #[test]
    fn a_vector_section_that_cannot_be_right_is_refused() {
        let mut embedded = sample();
        embedded.attach_vectors("m", &vectors(2, 8, 1)).unwrap();
        let bytes = embedded.to_bytes();
        let payload_len = bytes.len() - HEADER_LEN;
        // Version 2 with the "no vectors" flag: the writer never produces it.
        let plain = sample().to_bytes();
        let mut flagged = plain[HEADER_LEN..].to_vec();
        flagged.push(0);
        assert!(Segment::decode(&flagged, 2).is_err());
        // Every chunk marked absent: refused, not an empty section.
        let mut absent = bytes[HEADER_LEN..].to_vec();
        let per_chunk = 1 + 4 + 8;
        let first = payload_len - 2 * per_chunk;
        absent.truncate(first);
        absent.extend([0, 0]);
        assert!(Segment::decode(&absent, 2).is_err());
    }

    #[test]
    fn merge_keeps_the_vectors_of_the_model_most_chunks_use() {
        let chunks = |text: &str| chunk_text(text, &ChunkConfig::default());
        let mut a = Segment::build("a", 1, "A", &chunks("alpha words"));
        a.attach_vectors("new-model", &vectors(1, 4, 3)).unwrap();
        let mut b = Segment::build("b", 1, "B", &chunks("beta words"));
        b.attach_vectors("new-model", &vectors(1, 4, 5)).unwrap();
        let mut c = Segment::build("c", 1, "C", &chunks("gamma words"));
        c.attach_vectors("old-model", &vectors(1, 8, 9)).unwrap();
        let d = Segment::build("d", 1, "D", &chunks("delta words"));
        let merged = Segment::merge(&[c, a.clone(), d, b.clone()]);
        assert_eq!(merged.embedding_model(), Some("new-model"));
        let stored = merged.vectors.as_ref().unwrap();
        let has: Vec<bool> = (0..4).map(|c| stored.vector_of(c).is_some()).collect();
        assert_eq!(has, vec![false, true, false, true]);
        assert_eq!(
            stored.vector_of(1),
            a.vectors.as_ref().unwrap().vector_of(0)
        );
        assert_eq!(
            stored.vector_of(3),
            b.vectors.as_ref().unwrap().vector_of(0)
        );
        assert_eq!(Segment::from_bytes(&merged.to_bytes()).unwrap(), merged);
        // Right after a model change most chunks carry the old model; the configured one wins.
        let mut fresh = Segment::build("e", 1, "E", &chunks("epsilon words"));
        fresh.attach_vectors("newest", &vectors(1, 4, 11)).unwrap();
        let kept = Segment::merge_keeping(&[merged.clone(), fresh], |_, _| true, Some("newest"));
        assert_eq!(kept.embedding_model(), Some("newest"));
        assert_eq!(kept.vector_count(), 1);
        let fallback = Segment::merge_keeping(&[merged], |_, _| true, Some("absent-model"));
        assert_eq!(fallback.embedding_model(), Some("new-model"));
        let plain = Segment::merge(&[Segment::build("d", 1, "D", &chunks("delta"))]);
        assert_eq!(plain.embedding_model(), None);
    }

    #[test]
    fn merge_covers_every_document_and_keeps_only_the_newest_version() {
        let chunks = |text: &str| chunk_text(text, &ChunkConfig::default());
        let a1 = Segment::build("a", 1, "A", &chunks("old words"));
        let b1 = Segment::build("b", 1, "B", &chunks("bee words"));
        let a2 = Segment::build("a", 2, "A", &chunks("new words"));
        let merged = Segment::merge(&[a1, b1, a2.clone()]);
        let covers: Vec<(&str, u64)> = merged.covers().collect();
        assert_eq!(covers, vec![("b", 1), ("a", 2)]);
        assert!(merged.term_postings("old").is_empty());
        assert_eq!(merged.term_postings("word").len(), 2);
        let again = Segment::from_bytes(&merged.to_bytes()).unwrap();
        assert_eq!(again, merged);
        let without_b = Segment::merge_where(&[merged, a2], |id, _| id != "b");
        assert_eq!(without_b.covers().collect::<Vec<_>>(), vec![("a", 2)]);
    }
}
