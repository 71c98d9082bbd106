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
pub const FORMAT_VERSION: u8 = 1;
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

/// An immutable inverted index over the chunks of some document versions.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        }
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
        let refs: Vec<&Segment> = segments.iter().collect();
        let live = crate::search::live_documents(&refs);
        let mut docs = Vec::new();
        let mut chunks = Vec::new();
        let mut by_term: HashMap<&str, Vec<Posting>> = HashMap::default();
        for (segment, live) in segments.iter().zip(&live) {
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
        Self::assemble(docs, chunks, terms)
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
        let payload = w.bytes;
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.push(FORMAT_VERSION);
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
        if version != FORMAT_VERSION {
            return Err(SegmentError::UnsupportedVersion(version));
        }
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&bytes[MAGIC.len() + 1..HEADER_LEN]);
        let payload = &bytes[HEADER_LEN..];
        if crc32fast::hash(payload) != u32::from_le_bytes(crc) {
            return Err(SegmentError::Corrupt("checksum mismatch".into()));
        }
        Self::decode(payload).map_err(SegmentError::Corrupt)
    }

    fn decode(payload: &[u8]) -> Result<Segment, String> {
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
        })
    }
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
        assert_eq!(bytes[4], FORMAT_VERSION);
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

    #[test]
    fn every_truncation_and_single_byte_corruption_is_an_error_or_a_valid_segment() {
        let bytes = sample().to_bytes();
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
                let _ = Segment::decode(&payload);
            }
        }
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
