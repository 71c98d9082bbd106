//! Retrieval core for RaGenie: extraction, chunking, analysis, immutable BM25 index segments,
//! query-time merged search, compaction, and the dense-retrieval port with rank fusion.
//!
//! Pure library: no I/O beyond the bytes handed in, no AWS, no async runtime. The documents
//! function calls [`index_document`] on upload and a [`SegmentSet`] on search.

pub mod analyze;
pub mod beir;
pub mod chunk;
mod codec;
pub mod dense;
/// Extraction lives in its own crate (small enough to build with the release profile in the
/// hostile-file suite); `ragenie_retrieval::extract` is it.
pub use ragenie_extract as extract;
pub mod search;
pub mod segment;
mod snippet;
pub mod tokens;

pub use chunk::{Chunk, ChunkConfig, chunk_document, chunk_text};
pub use dense::{
    ChunkKey, DenseError, DenseHit, DenseRetriever, Embedded, Embedder, EmbeddingRetriever,
    VectorIndex, chunk_embedding_text, fuse, reciprocal_rank_fusion, weighted_rank_fusion,
};
pub use extract::{
    ACCEPTED_MEDIA_TYPES, ExtractError, Extracted, MediaSniffer, extract, normalize_media_type,
    sniff_media_type,
};
pub use search::{
    Bm25Params, FUSION_DEPTH, Fusion, Hit, QueryVector, SearchOptions, SegmentSet, search,
};
pub use segment::{DocEntry, FORMAT_VERSION, MAX_VECTOR_DIMENSIONS, Segment, SegmentError};
pub use tokens::count_tokens;

/// Everything an upload produces: the text, its chunks, its token count and its segment.
#[derive(Debug, Clone)]
pub struct IndexedDocument {
    pub extracted: Extracted,
    pub chunks: Vec<Chunk>,
    /// Tokens of the whole extracted text (what sending the document whole costs).
    pub token_count: usize,
    pub segment: Segment,
}

/// The upload path in one call: extract `bytes` as `media_type`, chunk, count tokens and build
/// the document version's segment (store it with `segment.to_bytes()`).
pub fn index_document(
    doc_id: &str,
    version: u64,
    title: &str,
    media_type: &str,
    bytes: &[u8],
    config: &ChunkConfig,
) -> Result<IndexedDocument, ExtractError> {
    let extracted = extract(media_type, bytes)?;
    let (chunks, token_count) = chunk_document(&extracted.text, config);
    let segment = Segment::build(doc_id, version, title, &chunks);
    Ok(IndexedDocument {
        extracted,
        chunks,
        token_count,
        segment,
    })
}
