//! Search: BM25F over any set of segments, with collection statistics (chunk count, average
//! field lengths, document frequencies) summed across the segments at query time.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::analyze::analyze;
use crate::dense::weighted_rank_fusion;
use rustc_hash::FxHashMap;

use crate::segment::{Posting, QuantizedQuery, Segment};
use crate::snippet::snippet;

/// BM25F parameters. A chunk's two fields (body text; context = document title + heading
/// path) are length-normalised separately, weighted, and saturated together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bm25Params {
    pub k1: f32,
    pub b: f32,
    pub context_weight: f32,
    pub context_b: f32,
}

impl Default for Bm25Params {
    /// Tuned on SciFact's train queries (see docs/retrieval.md).
    fn default() -> Self {
        Self {
            k1: 1.5,
            b: 0.6,
            context_weight: 3.0,
            context_b: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// Number of hits to return.
    pub k: usize,
    pub params: Bm25Params,
    /// Only these documents (all versions rules still apply); `None` means every document.
    /// Statistics are computed over the selected documents only. Shared, so a large selection
    /// a caller keeps (a user's datasets) is not copied per query.
    pub doc_ids: Option<Arc<HashSet<String>>>,
    /// At most this many chunks of one document in the hits (`Some(1)` ranks documents).
    pub max_chunks_per_doc: Option<usize>,
    /// Approximate length of each hit's snippet, in characters; 0 skips snippets.
    pub snippet_chars: usize,
    /// How hybrid search fuses the BM25 and embedding rankings.
    pub fusion: Fusion,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            k: 10,
            params: Bm25Params::default(),
            doc_ids: None,
            max_chunks_per_doc: None,
            snippet_chars: 240,
            fusion: Fusion::default(),
        }
    }
}

/// Weighted reciprocal rank fusion: a chunk scores `1 / (rrf_k + bm25 rank)` plus
/// `dense_weight / (rrf_k + embedding rank)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fusion {
    pub rrf_k: f64,
    pub dense_weight: f64,
}

impl Default for Fusion {
    /// The customary RRF constant (Cormack et al., 2009) and equal weights.
    fn default() -> Self {
        Self {
            rrf_k: 60.0,
            dense_weight: 1.0,
        }
    }
}

/// One ranked chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub doc_id: String,
    pub version: u64,
    pub title: String,
    /// The chunk's index within its document.
    pub chunk: u32,
    pub heading_path: Vec<String>,
    /// Character offsets of the chunk in the document's extracted text.
    pub start: u64,
    pub end: u64,
    pub token_count: u32,
    pub score: f32,
    /// HTML-escaped excerpt with matched words wrapped in `<mark>`…`</mark>`.
    pub snippet: String,
    /// The chunk's full text, for context assembly.
    pub text: String,
}

/// For each segment, for each of its documents: does that entry count? The newest version of
/// each document wins; when one version sits in several segments (a merged segment next to
/// the original it absorbed), its first occurrence wins.
pub(crate) fn live_documents(segments: &[&Segment]) -> Vec<Vec<bool>> {
    let mut newest: HashMap<&str, u64> = HashMap::new();
    for segment in segments {
        for doc in &segment.docs {
            let version = newest.entry(doc.doc_id.as_str()).or_insert(doc.version);
            *version = (*version).max(doc.version);
        }
    }
    let mut seen: HashSet<(&str, u64)> = HashSet::new();
    segments
        .iter()
        .map(|segment| {
            segment
                .docs
                .iter()
                .map(|doc| {
                    newest.get(doc.doc_id.as_str()) == Some(&doc.version)
                        && seen.insert((doc.doc_id.as_str(), doc.version))
                })
                .collect()
        })
        .collect()
}

/// A searchable set of segments, e.g. a merged segment plus the segments written after it.
/// Build it once per set (it resolves which document versions are live) and reuse it.
#[derive(Debug, Clone)]
pub struct SegmentSet {
    segments: Vec<Arc<Segment>>,
    live: Vec<Vec<bool>>,
    /// Every document entry of the segment is live.
    all_live: Vec<bool>,
    /// Offset of each segment's chunks in the global chunk numbering.
    base: Vec<usize>,
    total_chunks: usize,
    stats: Stats,
    /// With many segments (before compaction), term → (segment, term ordinal) for every
    /// segment holding the term, so a query does not probe each segment's dictionary.
    term_index: Option<TermIndex>,
}

type TermIndex = FxHashMap<Box<str>, Vec<(u32, u32)>>;

/// From this many segments on, a set builds its own term index.
const TERM_INDEX_MIN_SEGMENTS: usize = 8;

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    chunks: u64,
    body_len: u64,
    context_len: u64,
}

impl SegmentSet {
    pub fn new(segments: Vec<Arc<Segment>>) -> Self {
        let refs: Vec<&Segment> = segments.iter().map(|s| &**s).collect();
        let live = live_documents(&refs);
        let all_live = live.iter().map(|l| l.iter().all(|x| *x)).collect();
        let mut base = Vec::with_capacity(segments.len());
        let mut total_chunks = 0;
        for segment in &segments {
            base.push(total_chunks);
            total_chunks += segment.chunks.len();
        }
        let term_index = (segments.len() >= TERM_INDEX_MIN_SEGMENTS).then(|| {
            let mut index = TermIndex::default();
            for (s, segment) in segments.iter().enumerate() {
                for (t, term) in segment.terms.iter().enumerate() {
                    let places = match index.get_mut(&**term) {
                        Some(places) => places,
                        None => index.entry(term.clone()).or_default(),
                    };
                    places.push((s as u32, t as u32));
                }
            }
            index
        });
        let mut set = Self {
            segments,
            live,
            all_live,
            base,
            total_chunks,
            stats: Stats::default(),
            term_index,
        };
        set.stats = set.stats_for(&set.live);
        set
    }

    pub fn segments(&self) -> &[Arc<Segment>] {
        &self.segments
    }

    /// Whether any segment holds vectors of `model`: without them a query embedding is useless,
    /// and the provider call can be skipped.
    pub fn has_vectors(&self, model: &str) -> bool {
        self.segments
            .iter()
            .any(|s| s.embedding_model() == Some(model))
    }

    /// Number of live chunks.
    pub fn chunk_count(&self) -> u64 {
        self.stats.chunks
    }

    fn stats_for(&self, live: &[Vec<bool>]) -> Stats {
        let mut stats = Stats::default();
        for (segment, live) in self.segments.iter().zip(live) {
            for (doc, _) in segment.docs.iter().zip(live).filter(|(_, l)| **l) {
                stats.chunks += u64::from(doc.chunk_count);
                stats.body_len += doc.body_len_sum;
                stats.context_len += doc.context_len_sum;
            }
        }
        stats
    }

    /// Ranks the live chunks for `query` by BM25.
    pub fn search(&self, query: &str, options: &SearchOptions) -> Vec<Hit> {
        self.hybrid_search(query, None, options)
    }

    /// Ranks the live chunks for `query`: by BM25 alone, or — given the query's embedding —
    /// by reciprocal rank fusion of the BM25 ranking and the cosine ranking of the chunks
    /// embedded with the same model (the best `FUSION_DEPTH` of each). A hit's `score` is
    /// then its fused score. Chunks without a vector of that model still rank through BM25.
    pub fn hybrid_search(
        &self,
        query: &str,
        dense: Option<QueryVector<'_>>,
        options: &SearchOptions,
    ) -> Vec<Hit> {
        let mut query_terms: Vec<(String, u32)> = Vec::new();
        for term in analyze(query) {
            match query_terms.iter_mut().find(|(t, _)| *t == term) {
                Some((_, count)) => *count += 1,
                None => query_terms.push((term, 1)),
            }
        }
        let dense = dense.filter(|d| d.vector.iter().any(|x| *x != 0.0));
        if (query_terms.is_empty() && dense.is_none()) || options.k == 0 {
            return Vec::new();
        }

        let filtered;
        let (live, all_live, stats): (&[Vec<bool>], Vec<bool>, Stats) = match &options.doc_ids {
            None => (&self.live, self.all_live.clone(), self.stats),
            Some(ids) => {
                filtered = self
                    .segments
                    .iter()
                    .zip(&self.live)
                    .map(|(segment, live)| {
                        segment
                            .docs
                            .iter()
                            .zip(live)
                            .map(|(doc, live)| *live && ids.contains(&doc.doc_id))
                            .collect::<Vec<bool>>()
                    })
                    .collect::<Vec<_>>();
                let all_live = filtered.iter().map(|l| l.iter().all(|x| *x)).collect();
                let stats = self.stats_for(&filtered);
                (&filtered, all_live, stats)
            }
        };
        if stats.chunks == 0 {
            return Vec::new();
        }
        let chunk_live = |s: usize, chunk: u32| -> bool {
            all_live[s] || {
                let segment = &self.segments[s];
                live[s][segment.scoring[chunk as usize].doc as usize]
            }
        };

        let (scores, touched) =
            self.bm25(&query_terms, options.params, stats, &all_live, chunk_live);

        let locate = |global: u32| -> (usize, usize) {
            let s = self.base.partition_point(|b| *b <= global as usize) - 1;
            (s, global as usize - self.base[s])
        };
        let key = |global: u32| {
            let (s, c) = locate(global);
            let segment = &self.segments[s];
            let chunk = &segment.chunks[c];
            let doc = &segment.docs[chunk.doc as usize];
            (doc.doc_id.as_str(), doc.version, chunk.index)
        };
        // Ties break on (document, version, chunk), so a ranking does not depend on how the
        // chunks are spread over segments.
        let top = |mut candidates: Vec<u32>, scores: &[f32], k: usize| -> Vec<u32> {
            let order = |a: &u32, b: &u32| -> Ordering {
                scores[*b as usize]
                    .total_cmp(&scores[*a as usize])
                    .then_with(|| key(*a).cmp(&key(*b)))
            };
            if candidates.len() > k {
                candidates.select_nth_unstable_by(k - 1, order);
                candidates.truncate(k);
            }
            candidates.sort_unstable_by(order);
            candidates
        };

        let (scores, ranked): (Vec<f32>, Vec<u32>) = match dense {
            None => {
                let k = match options.max_chunks_per_doc {
                    None => options.k,
                    Some(_) => usize::MAX,
                };
                let ranked = top(touched, &scores, k);
                (scores, ranked)
            }
            Some(dense) => {
                // With a per-document limit the best chunks of a few documents can crowd the
                // top of both rankings: fuse them whole so `k` hits can still be found.
                let depth = match options.max_chunks_per_doc {
                    None => options.k.max(FUSION_DEPTH),
                    Some(_) => usize::MAX,
                };
                let lexical = top(touched, &scores, depth);
                let (similarity, embedded) = self.cosine(dense, chunk_live);
                let semantic = top(embedded, &similarity, depth);
                let mut fused_scores = vec![0f32; self.total_chunks];
                let fusion = options.fusion;
                let fused: Vec<u32> = weighted_rank_fusion(
                    &[(lexical, 1.0), (semantic, fusion.dense_weight)],
                    fusion.rrf_k,
                )
                .into_iter()
                .map(|(global, score)| {
                    fused_scores[global as usize] = score as f32;
                    global
                })
                .collect();
                let ranked = top(fused, &fused_scores, usize::MAX);
                (fused_scores, ranked)
            }
        };
        let selected: Vec<u32> = match options.max_chunks_per_doc {
            None => ranked.into_iter().take(options.k).collect(),
            Some(limit) => {
                let mut per_doc: HashMap<(&str, u64), usize> = HashMap::new();
                let mut selected = Vec::with_capacity(options.k);
                for global in ranked {
                    let (doc_id, version, _) = key(global);
                    let count = per_doc.entry((doc_id, version)).or_default();
                    if *count < limit {
                        *count += 1;
                        selected.push(global);
                        if selected.len() == options.k {
                            break;
                        }
                    }
                }
                selected
            }
        };

        let query_term_set: HashSet<&str> = query_terms.iter().map(|(t, _)| t.as_str()).collect();
        selected
            .into_iter()
            .map(|global| {
                let (s, c) = locate(global);
                let segment = &self.segments[s];
                let chunk = &segment.chunks[c];
                let doc = &segment.docs[chunk.doc as usize];
                Hit {
                    doc_id: doc.doc_id.clone(),
                    version: doc.version,
                    title: doc.title.clone(),
                    chunk: chunk.index,
                    heading_path: chunk.heading_path.clone(),
                    start: chunk.start,
                    end: chunk.end,
                    token_count: chunk.token_count,
                    score: scores[global as usize],
                    snippet: if options.snippet_chars == 0 {
                        String::new()
                    } else {
                        snippet(&chunk.text, &query_term_set, options.snippet_chars)
                    },
                    text: chunk.text.clone(),
                }
            })
            .collect()
    }

    /// BM25F scores of every chunk (indexed by global chunk number) and the chunks that scored.
    fn bm25(
        &self,
        query_terms: &[(String, u32)],
        p: Bm25Params,
        stats: Stats,
        all_live: &[bool],
        chunk_live: impl Fn(usize, u32) -> bool,
    ) -> (Vec<f32>, Vec<u32>) {
        let n = stats.chunks as f32;
        let avg_body = (stats.body_len as f32 / n).max(1e-6);
        let avg_context = (stats.context_len as f32 / n).max(1e-6);
        let mut scores = vec![0f32; self.total_chunks];
        let mut touched: Vec<u32> = Vec::new();
        for (term, query_tf) in query_terms {
            let lists: Vec<(usize, &[Posting])> = match &self.term_index {
                Some(index) => index
                    .get(term.as_str())
                    .map(|places| {
                        places
                            .iter()
                            .map(|&(s, t)| {
                                (
                                    s as usize,
                                    self.segments[s as usize].postings_at(t as usize),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                None => self
                    .segments
                    .iter()
                    .map(|s| s.term_postings(term))
                    .enumerate()
                    .filter(|(_, list)| !list.is_empty())
                    .collect(),
            };
            let df: u64 = lists
                .iter()
                .map(|&(s, list)| {
                    if all_live[s] {
                        list.len() as u64
                    } else {
                        list.iter().filter(|p| chunk_live(s, p.chunk)).count() as u64
                    }
                })
                .sum();
            if df == 0 {
                continue;
            }
            let df = df as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln() * *query_tf as f32;
            for &(s, list) in &lists {
                let segment = &self.segments[s];
                for posting in list {
                    if !chunk_live(s, posting.chunk) {
                        continue;
                    }
                    let chunk = &segment.scoring[posting.chunk as usize];
                    let body = posting.body_tf as f32
                        / (1.0 - p.b + p.b * chunk.body_len as f32 / avg_body);
                    let context = posting.context_tf as f32
                        / (1.0 - p.context_b
                            + p.context_b * chunk.context_len as f32 / avg_context);
                    let tf = body + p.context_weight * context;
                    let add = idf * tf / (p.k1 + tf);
                    if add.is_nan() || add <= 0.0 {
                        continue;
                    }
                    let global = self.base[s] + posting.chunk as usize;
                    if scores[global] == 0.0 {
                        touched.push(global as u32);
                    }
                    scores[global] += add;
                }
            }
        }
        (scores, touched)
    }

    /// Cosine similarity of every live chunk embedded with the query's model (indexed by global
    /// chunk number), and the chunks more similar than orthogonal.
    fn cosine(
        &self,
        query: QueryVector<'_>,
        chunk_live: impl Fn(usize, u32) -> bool,
    ) -> (Vec<f32>, Vec<u32>) {
        let mut similarity = vec![0f32; self.total_chunks];
        let mut candidates = Vec::new();
        let Some(quantized) = QuantizedQuery::new(query.vector) else {
            return (similarity, candidates);
        };
        for (s, segment) in self.segments.iter().enumerate() {
            let Some(vectors) = &segment.vectors else {
                continue;
            };
            if vectors.model != query.model || vectors.dimensions != quantized.codes.len() {
                continue;
            }
            for c in 0..vectors.chunk_count() {
                if !chunk_live(s, c as u32) {
                    continue;
                }
                if let Some(cosine) = vectors.cosine(c, &quantized)
                    && cosine > 0.0
                {
                    let global = self.base[s] + c;
                    similarity[global] = cosine;
                    candidates.push(global as u32);
                }
            }
        }
        (similarity, candidates)
    }
}

/// A query's embedding and the model that made it (only chunks embedded by the same model
/// are compared with it).
#[derive(Debug, Clone, Copy)]
pub struct QueryVector<'a> {
    pub model: &'a str,
    pub vector: &'a [f32],
}

/// How many of each ranking's best chunks reciprocal rank fusion combines.
pub const FUSION_DEPTH: usize = 100;

/// Searches a one-off set of segments; prefer keeping a `SegmentSet` when searching the same
/// segments repeatedly.
pub fn search(segments: &[Arc<Segment>], query: &str, options: &SearchOptions) -> Vec<Hit> {
    SegmentSet::new(segments.to_vec()).search(query, options)
}
