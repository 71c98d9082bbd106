//! Search: BM25 over the user's segments, fused with the question's embedding when the
//! documents carry vectors of the configured model.

use super::*;
use crate::metering::EmbedFailure;

impl Corpus {
    /// The query's embedding, or `None` (BM25 alone) without embeddings, when the provider
    /// fails or when the user's quota refuses the call (metered like every embedding).
    pub(crate) async fn embed_query(&self, user: UserId, query: &str) -> Option<Arc<Vec<f32>>> {
        let embeddings = self.embeddings.as_ref()?;
        let key = (user, query.to_owned());
        if let Some(hit) = embeddings.queries.lock().expect("query cache").get(&key) {
            return Some(hit.clone());
        }
        let call = self.embed_for(
            user,
            std::slice::from_ref(&key.1),
            1,
            embeddings.query_timeout,
        );
        match call.await {
            Ok(mut vectors) if vectors.len() == 1 => {
                let vector = Arc::new(vectors.pop()?);
                let mut cache = embeddings.queries.lock().expect("query cache");
                if cache.len() >= QUERY_CACHE_CAPACITY {
                    cache.clear();
                }
                cache.insert(key, vector.clone());
                Some(vector)
            }
            Ok(_) => None,
            Err(EmbedFailure::Refused(refusal)) => {
                tracing::info!(reason = %refusal, "query embedding refused; ranking by BM25 alone");
                None
            }
            Err(EmbedFailure::Failed(e)) => {
                tracing::warn!(error = %e, "query not embedded; ranking by BM25 alone");
                None
            }
        }
    }

    /// Ranks the chunks of the user's ready documents (of `scope` when given) for `query`;
    /// BM25 statistics are merged across the documents' segments at query time, and with
    /// embeddings configured the BM25 ranking is fused with the query-embedding similarity.
    ///
    /// Timed (`ragenie_search_duration_seconds`, by bm25 or hybrid) in a `search` span.
    pub async fn search(
        &self,
        user: UserId,
        scope: Option<&HashSet<String>>,
        query: &str,
        k: usize,
    ) -> CorpusResult<Vec<SearchHit>> {
        let selection = match scope {
            Some(ids) => Selection::Documents(ids),
            None => Selection::Ready,
        };
        self.search_timed(user, selection, query, k).await
    }

    /// [`search`](Self::search) over every ready dataset of the user (no profile chosen).
    pub async fn search_datasets(
        &self,
        user: UserId,
        query: &str,
        k: usize,
    ) -> CorpusResult<Vec<SearchHit>> {
        self.search_timed(user, Selection::Datasets, query, k).await
    }

    async fn search_timed(
        &self,
        user: UserId,
        selection: Selection<'_>,
        query: &str,
        k: usize,
    ) -> CorpusResult<Vec<SearchHit>> {
        use tracing::Instrument;
        let span = tracing::info_span!("search", k, hybrid = tracing::field::Empty);
        let started = std::time::Instant::now();
        let (hits, hybrid) = self
            .search_inner(user, selection, query, k)
            .instrument(span.clone())
            .await?;
        span.record("hybrid", hybrid);
        ragenie_common::metrics::search(hybrid, started.elapsed());
        Ok(hits)
    }

    /// The cost of a search does not grow with the library: one read of the corpus version
    /// decides whether the catalog and segment set in memory are current.
    async fn search_inner(
        &self,
        user: UserId,
        selection: Selection<'_>,
        query: &str,
        k: usize,
    ) -> CorpusResult<(Vec<SearchHit>, bool)> {
        // The set covers every ready document (so one cached set serves every profile); the
        // selection picks documents within it, statistics included.
        let catalog = self.catalog(user).await?;
        let is_ready = |id: &String| {
            catalog
                .get(id)
                .is_some_and(|d| d.status == DocumentStatus::Ready)
        };
        let doc_ids: Option<Arc<HashSet<String>>> = match selection {
            Selection::Ready => None,
            Selection::Datasets => Some(catalog.ready_datasets().clone()),
            Selection::Documents(ids) => Some(Arc::new(
                ids.iter().filter(|id| is_ready(id)).cloned().collect(),
            )),
        };
        let selected = doc_ids
            .as_ref()
            .map_or(catalog.ready_count(), |ids| ids.len());
        if selected == 0 || query.trim().is_empty() {
            return Ok((Vec::new(), false));
        }
        // A selection of every ready document filters nothing: skip the per-query filter.
        let doc_ids = doc_ids.filter(|_| selected < catalog.ready_count());
        let set = self.segment_set(user, &catalog).await?;
        let model = self.embedding_model().unwrap_or_default().to_owned();
        // Only documents embedded with the configured model can use the question's embedding;
        // for the others the provider call would be cost and latency for nothing.
        let query_vector = if set.has_vectors(&model) {
            self.embed_query(user, query).await
        } else {
            None
        };
        let hybrid = query_vector.is_some();
        let options = SearchOptions {
            k,
            doc_ids,
            ..SearchOptions::default()
        };
        let query = query.to_owned();
        let hits: Vec<Hit> = tokio::task::spawn_blocking(move || {
            let dense = query_vector.as_deref().map(|vector| QueryVector {
                model: &model,
                vector: vector.as_slice(),
            });
            set.hybrid_search(&query, dense, &options)
        })
        .await
        .map_err(|e| anyhow::anyhow!("search task failed: {e}"))?;
        let hits: Vec<SearchHit> = hits
            .into_iter()
            .map(|h| SearchHit {
                document_name: catalog
                    .get(&h.doc_id)
                    .map_or(h.title.as_str(), |d| d.name.as_str())
                    .to_owned(),
                document_id: h.doc_id,
                version: h.version,
                chunk: h.chunk,
                heading_path: h.heading_path,
                start: h.start,
                end: h.end,
                score: h.score,
                snippet: h.snippet,
                text: h.text,
                token_count: h.token_count,
            })
            .collect();
        Ok((hits, hybrid))
    }
}

/// Which of the user's ready documents a search covers.
enum Selection<'a> {
    Ready,
    Datasets,
    Documents(&'a HashSet<String>),
}
