//! Dense retrieval port and rank fusion. The embedding provider call lives with the LLM
//! gateway; this module defines what it must offer, an exact in-memory vector index, and
//! reciprocal rank fusion to combine dense hits with BM25 hits.

use std::collections::HashMap;
use std::hash::Hash;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::search::Hit;

/// Names one chunk of one document version, the unit both retrievers rank.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChunkKey {
    pub doc_id: String,
    pub version: u64,
    pub chunk: u32,
}

impl From<&Hit> for ChunkKey {
    fn from(hit: &Hit) -> Self {
        Self {
            doc_id: hit.doc_id.clone(),
            version: hit.version,
            chunk: hit.chunk,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseHit {
    pub key: ChunkKey,
    /// Cosine similarity of the query and chunk vectors.
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum DenseError {
    #[error("embedding provider failed: {0}")]
    Provider(String),
    #[error("vector has {got} dimensions, the index has {expected}")]
    Dimensions { expected: usize, got: usize },
}

/// Ranks chunks by vector similarity to a query (embed the query, then nearest neighbours).
#[async_trait]
pub trait DenseRetriever: Send + Sync {
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<DenseHit>, DenseError>;
}

/// Turns texts into vectors; implemented over a provider's embedding API by the gateway.
#[async_trait]
pub trait Embedder: Send + Sync {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, DenseError>;

    /// [`embed`](Self::embed), with the tokens the provider billed when it reports them (a
    /// provider embedder overrides this; a built-in model bills nothing).
    async fn embed_billed(&self, texts: &[String]) -> Result<Embedded, DenseError> {
        Ok(Embedded {
            vectors: self.embed(texts).await?,
            billed_tokens: None,
        })
    }
}

/// What one embedding call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// In the order of the texts.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens the provider reported billing; `None` when it reported none.
    pub billed_tokens: Option<u64>,
}

/// What is embedded for a chunk: the document's title and the chunk's headings go with its
/// text, since a chunk's meaning often depends on them.
pub fn chunk_embedding_text(title: &str, chunk: &crate::Chunk) -> String {
    let mut context = vec![title];
    context.extend(chunk.heading_path.iter().map(String::as_str));
    format!("{}\n\n{}", context.join(" › "), chunk.text)
}

/// Exact cosine-similarity search over chunk vectors held in memory; a user's chunks number in
/// the thousands, where a linear scan takes well under a millisecond.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VectorIndex {
    dimensions: usize,
    keys: Vec<ChunkKey>,
    /// Unit-length vectors, `dimensions` floats each, back to back.
    vectors: Vec<f32>,
}

fn normalized(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        vector.iter().map(|x| x / norm).collect()
    } else {
        vec![0.0; vector.len()]
    }
}

impl VectorIndex {
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn insert(&mut self, key: ChunkKey, vector: &[f32]) -> Result<(), DenseError> {
        self.check(vector)?;
        self.keys.push(key);
        self.vectors.extend(normalized(vector));
        Ok(())
    }

    /// Drops every chunk of a document (all versions).
    pub fn remove_document(&mut self, doc_id: &str) {
        let dimensions = self.dimensions;
        let mut kept_keys = Vec::with_capacity(self.keys.len());
        let mut kept_vectors = Vec::with_capacity(self.vectors.len());
        for (key, vector) in self
            .keys
            .drain(..)
            .zip(self.vectors.chunks_exact(dimensions.max(1)))
        {
            if key.doc_id != doc_id {
                kept_keys.push(key);
                kept_vectors.extend_from_slice(vector);
            }
        }
        self.keys = kept_keys;
        self.vectors = kept_vectors;
    }

    fn check(&self, vector: &[f32]) -> Result<(), DenseError> {
        if vector.len() == self.dimensions {
            Ok(())
        } else {
            Err(DenseError::Dimensions {
                expected: self.dimensions,
                got: vector.len(),
            })
        }
    }

    /// The `k` chunks most similar to `query`, best first.
    pub fn nearest(&self, query: &[f32], k: usize) -> Result<Vec<DenseHit>, DenseError> {
        self.check(query)?;
        let query = normalized(query);
        let mut scored: Vec<(f32, usize)> = self
            .vectors
            .chunks_exact(self.dimensions.max(1))
            .map(|v| v.iter().zip(&query).map(|(a, b)| a * b).sum::<f32>())
            .zip(0..)
            .collect();
        scored.sort_unstable_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(self.keys[a.1].cmp(&self.keys[b.1]))
        });
        scored.truncate(k);
        Ok(scored
            .into_iter()
            .map(|(score, i)| DenseHit {
                key: self.keys[i].clone(),
                score,
            })
            .collect())
    }
}

/// A `DenseRetriever` made of an embedder and a vector index.
pub struct EmbeddingRetriever<E> {
    pub embedder: E,
    pub index: VectorIndex,
}

#[async_trait]
impl<E: Embedder> DenseRetriever for EmbeddingRetriever<E> {
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<DenseHit>, DenseError> {
        let vectors = self.embedder.embed(&[query.to_owned()]).await?;
        let vector = vectors
            .into_iter()
            .next()
            .ok_or_else(|| DenseError::Provider("no vector returned for the query".into()))?;
        self.index.nearest(&vector, k)
    }
}

/// Reciprocal rank fusion (Cormack et al., 2009): each list contributes `1 / (k + rank)` for
/// every item it ranks (rank from 1); items are returned by summed score, best first. `k = 60`
/// is the customary constant. Ties keep the order in which items were first seen.
pub fn reciprocal_rank_fusion<K: Clone + Eq + Hash>(lists: &[Vec<K>], k: f64) -> Vec<(K, f64)> {
    let weighted: Vec<(Vec<K>, f64)> = lists.iter().map(|l| (l.clone(), 1.0)).collect();
    weighted_rank_fusion(&weighted, k)
}

/// Reciprocal rank fusion where each list's contributions are multiplied by its weight.
pub fn weighted_rank_fusion<K: Clone + Eq + Hash>(
    lists: &[(Vec<K>, f64)],
    k: f64,
) -> Vec<(K, f64)> {
    let mut scores: HashMap<K, (f64, usize)> = HashMap::new();
    let mut seen = 0;
    for (list, weight) in lists {
        for (rank, item) in list.iter().enumerate() {
            let entry = scores.entry(item.clone()).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            entry.0 += weight / (k + rank as f64 + 1.0);
        }
    }
    let mut fused: Vec<(K, f64, usize)> = scores
        .into_iter()
        .map(|(key, (score, first))| (key, score, first))
        .collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .map(|(key, score, _)| (key, score))
        .collect()
}

/// Fuses BM25 hits with dense hits by RRF (k = 60); returns chunk keys with fused scores.
pub fn fuse(bm25: &[Hit], dense: &[DenseHit]) -> Vec<(ChunkKey, f64)> {
    let lexical: Vec<ChunkKey> = bm25.iter().map(ChunkKey::from).collect();
    let semantic: Vec<ChunkKey> = dense.iter().map(|h| h.key.clone()).collect();
    reciprocal_rank_fusion(&[lexical, semantic], 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(doc: &str, chunk: u32) -> ChunkKey {
        ChunkKey {
            doc_id: doc.into(),
            version: 1,
            chunk,
        }
    }

    #[test]
    fn rrf_rewards_items_ranked_well_by_both_lists() {
        let fused = reciprocal_rank_fusion(&[vec!["a", "b", "c"], vec!["c", "b", "d"]], 60.0);
        let order: Vec<&str> = fused.iter().map(|(k, _)| *k).collect();
        // b is 2nd in both (2/62); c is 3rd and 1st (1/63 + 1/61, slightly more).
        assert_eq!(order, vec!["c", "b", "a", "d"]);
        assert!((fused[1].1 - 2.0 / 62.0).abs() < 1e-12);
        assert!(fused[0].1 > fused[1].1);
    }

    #[test]
    fn weighted_fusion_lets_the_heavier_list_win_a_disagreement() {
        let lists = [(vec!["a", "b"], 1.0), (vec!["b", "a"], 2.0)];
        let fused = weighted_rank_fusion(&lists, 60.0);
        assert_eq!(fused[0].0, "b");
        assert!((fused[0].1 - (1.0 / 62.0 + 2.0 / 61.0)).abs() < 1e-12);
        let even = weighted_rank_fusion(&[(vec!["a", "b"], 1.0), (vec!["b", "a"], 1.0)], 60.0);
        assert_eq!(even[0].0, "a", "a tie keeps first-seen order");
    }

    #[test]
    fn rrf_of_one_list_keeps_its_order_and_of_none_is_empty() {
        let fused = reciprocal_rank_fusion(&[vec![3, 1, 2]], 60.0);
        assert_eq!(
            fused.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![3, 1, 2]
        );
        assert!(reciprocal_rank_fusion::<u8>(&[], 60.0).is_empty());
    }

    #[test]
    fn vector_index_ranks_by_cosine_and_checks_dimensions() {
        let mut index = VectorIndex::new(2);
        index.insert(key("east", 0), &[1.0, 0.0]).unwrap();
        index.insert(key("north", 0), &[0.0, 5.0]).unwrap();
        index.insert(key("northeast", 0), &[1.0, 1.0]).unwrap();
        let hits = index.nearest(&[0.1, 1.0], 2).unwrap();
        assert_eq!(hits[0].key, key("north", 0));
        assert_eq!(hits[1].key, key("northeast", 0));
        assert!(matches!(
            index.insert(key("x", 0), &[1.0]),
            Err(DenseError::Dimensions {
                expected: 2,
                got: 1
            })
        ));
        index.remove_document("north");
        assert_eq!(index.len(), 2);
        assert_eq!(
            index.nearest(&[0.0, 1.0], 1).unwrap()[0].key,
            key("northeast", 0)
        );
    }

    /// Embeds text as counts of a few keywords: enough to exercise the port without a provider.
    struct KeywordEmbedder;

    #[async_trait]
    impl Embedder for KeywordEmbedder {
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, DenseError> {
            Ok(texts
                .iter()
                .map(|t| {
                    ["cat", "dog", "fish"]
                        .iter()
                        .map(|w| t.matches(w).count() as f32)
                        .collect()
                })
                .collect())
        }
    }

    #[test]
    fn an_embedding_retriever_embeds_the_query_and_returns_nearest_chunks() {
        let mut index = VectorIndex::new(3);
        index.insert(key("cats", 0), &[1.0, 0.0, 0.0]).unwrap();
        index.insert(key("dogs", 0), &[0.0, 1.0, 0.0]).unwrap();
        let retriever: Box<dyn DenseRetriever> = Box::new(EmbeddingRetriever {
            embedder: KeywordEmbedder,
            index,
        });
        let hits = futures::executor::block_on(retriever.retrieve("a dog and a dog", 1)).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].key, key("dogs", 0));
    }
}
