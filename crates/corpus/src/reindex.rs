//! Background re-indexing: when the embedding model is set or changed, the documents indexed
//! without its vectors are embedded again from their stored bytes, one at a time, off the
//! request path. The queue lives in the table (each document's `reindex` marker), so it survives
//! a restart: asking for the progress or starting a re-index again resumes it, and documents
//! already embedded with the model are skipped. Uploads are never blocked: they embed their own
//! chunks, and a replaced document drops out of the queue (its new version was embedded).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ragenie_common::storage::{Condition, StoreError, TxOp, Update};

use ragenie_common::accounts::UserId;
use ragenie_common::clock;

use crate::{Corpus, CorpusError, CorpusResult, Document, DocumentStatus, ReindexState, keys};

/// How long embedding one document's chunks may take: nobody waits on it, but a stalled
/// provider must not hold the queue forever.
const REINDEX_EMBED_TIMEOUT: Duration = Duration::from_secs(600);

/// A user's re-index, counted over their ready documents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ReindexProgress {
    /// The configured embedding model; absent: search is BM25 alone, nothing to re-index.
    pub model: Option<String>,
    /// Ready documents.
    pub documents: usize,
    /// Of them, those whose chunks carry the configured model's vectors (hybrid search).
    pub embedded: usize,
    /// Waiting for, or being, embedded.
    pub queued: usize,
    /// Whose embedding failed (they still rank by BM25; a new re-index tries them again).
    pub failed: usize,
    /// Whether this process is working through the user's queue right now.
    pub running: bool,
}

impl Corpus {
    fn needs_embedding(&self, doc: &Document) -> bool {
        doc.status == DocumentStatus::Ready
            && self.embedding_model().is_some()
            && doc.embedding_model.as_deref() != self.embedding_model()
    }

    /// The user's re-index progress.
    pub async fn reindex_progress(&self, user: UserId) -> CorpusResult<ReindexProgress> {
        let docs = self.all(user).await?;
        Ok(self.progress_of(user, &docs))
    }

    fn progress_of(&self, user: UserId, docs: &[Document]) -> ReindexProgress {
        let ready: Vec<&Document> = docs
            .iter()
            .filter(|d| d.status == DocumentStatus::Ready)
            .collect();
        let model = self.embedding_model();
        let count = |state: ReindexState| ready.iter().filter(|d| d.reindex == Some(state)).count();
        ReindexProgress {
            model: model.map(str::to_owned),
            documents: ready.len(),
            embedded: ready
                .iter()
                .filter(|d| model.is_some() && d.embedding_model.as_deref() == model)
                .count(),
            queued: count(ReindexState::Queued) + count(ReindexState::Embedding),
            failed: count(ReindexState::Failed),
            running: self
                .reindexing
                .lock()
                .expect("reindex lock")
                .contains(&user),
        }
    }

    /// Queues the user's ready documents (or only `doc_id`) that lack the configured model's
    /// vectors. Idempotent: queued or embedded documents are left as they are.
    pub async fn queue_reindex(
        &self,
        user: UserId,
        doc_id: Option<&str>,
    ) -> CorpusResult<ReindexProgress> {
        if self.embedding_model().is_none() {
            return Err(CorpusError::Conflict(
                "no embedding model is configured (RAGENIE_EMBEDDING_MODEL): search is BM25 alone"
                    .into(),
            ));
        }
        let docs = match doc_id {
            Some(id) => {
                let doc = self.get(user, id).await?;
                if doc.status != DocumentStatus::Ready {
                    return Err(CorpusError::Conflict(format!(
                        "the document is {}; only a ready document can be re-indexed",
                        doc.status.as_str()
                    )));
                }
                vec![doc]
            }
            None => self.all(user).await?,
        };
        for doc in &docs {
            let waiting = matches!(
                doc.reindex,
                Some(ReindexState::Queued | ReindexState::Embedding)
            );
            if self.needs_embedding(doc) && !waiting {
                self.mark(user, doc, Some(ReindexState::Queued)).await?;
            }
        }
        self.reindex_progress(user).await
    }

    /// Sets (or clears) a document's re-index marker, only while it is still the same version.
    async fn mark(
        &self,
        user: UserId,
        doc: &Document,
        state: Option<ReindexState>,
    ) -> CorpusResult<()> {
        let update = match state {
            Some(s) => Update::new().set("reindex", s.as_str()),
            None => Update::new().remove("reindex"),
        };
        self.update_if_current(user, doc, update).await?;
        Ok(())
    }

    /// Applies `update` to the document while it is still at `doc`'s version; false when a
    /// newer version (or a delete) came first.
    async fn update_if_current(
        &self,
        user: UserId,
        doc: &Document,
        update: Update,
    ) -> CorpusResult<bool> {
        // The corpus version moves with it, so every process's catalog and segment set see the
        // new vectors (or marker) on their next read.
        let pk = user.partition();
        let ops = vec![
            TxOp::Update {
                pk: pk.clone(),
                sk: keys::document_sk(&doc.id),
                update,
                condition: Condition::AttrEquals("version".into(), doc.version.into()),
            },
            crate::catalog::bump(&pk),
        ];
        match self.table.transact(ops).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Works through the user's queue on a background task, unless this process already does.
    pub fn start_reindex(self: &Arc<Self>, user: UserId) {
        if !self.reindexing.lock().expect("reindex lock").insert(user) {
            return;
        }
        let corpus = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = corpus.run_reindex(user).await {
                    tracing::warn!(error = %e, "re-index stopped; asking again resumes it");
                }
                corpus
                    .reindexing
                    .lock()
                    .expect("reindex lock")
                    .remove(&user);
                // A document queued after the last look would wait for the next request:
                // look once more, and go on if it is there and nobody else took it.
                let more = match corpus.all(user).await {
                    Ok(docs) => docs.iter().any(|d| d.reindex == Some(ReindexState::Queued)),
                    Err(_) => false,
                };
                if !more || !corpus.reindexing.lock().expect("reindex lock").insert(user) {
                    break;
                }
            }
        });
    }

    /// Embeds every queued document of the user (and any queued while it runs); returns how
    /// many it embedded.
    pub async fn run_reindex(&self, user: UserId) -> CorpusResult<usize> {
        let mut embedded = 0;
        loop {
            let queued: Vec<Document> = self
                .all(user)
                .await?
                .into_iter()
                .filter(|d| {
                    matches!(
                        d.reindex,
                        Some(ReindexState::Queued | ReindexState::Embedding)
                    )
                })
                .collect();
            if queued.is_empty() {
                return Ok(embedded);
            }
            for doc in queued {
                if self.reindex_one(user, doc).await? {
                    embedded += 1;
                }
            }
        }
    }

    /// Embeds one document's current version from its stored bytes and rewrites its segment;
    /// true when it did.
    async fn reindex_one(&self, user: UserId, doc: Document) -> CorpusResult<bool> {
        if !self.needs_embedding(&doc) {
            self.mark(user, &doc, None).await?;
            return Ok(false);
        }
        self.mark(user, &doc, Some(ReindexState::Embedding)).await?;
        let Some(blob) = self
            .blobs
            .get(&keys::content_blob(user, &doc.content_hash))
            .await?
        else {
            tracing::warn!(doc_id = %doc.id, "re-index: the document's bytes are gone");
            self.mark(user, &doc, Some(ReindexState::Failed)).await?;
            return Ok(false);
        };
        let indexed = self.index(&doc, blob.body).await?;
        let Ok(mut indexed) = indexed else {
            self.mark(user, &doc, Some(ReindexState::Failed)).await?;
            return Ok(false);
        };
        let embedded = self
            .embed_chunks(user, &doc, &mut indexed, REINDEX_EMBED_TIMEOUT)
            .await
            .unwrap_or_else(|refusal| {
                // The document stays ready on BM25; a re-index later tries it again.
                tracing::info!(doc_id = %doc.id, reason = %refusal, "re-index: embeddings refused");
                None
            });
        let Some(model) = embedded else {
            self.mark(user, &doc, Some(ReindexState::Failed)).await?;
            return Ok(false);
        };
        self.blobs
            .put(
                &keys::segment_blob(user, &doc.id, doc.version),
                Bytes::from(indexed.segment.to_bytes()),
                "application/octet-stream",
            )
            .await?;
        let update = Update::new()
            .set("embedding_model", model)
            .set("updated_at", clock::now())
            .remove("reindex");
        if !self.update_if_current(user, &doc, update).await? {
            // Replaced meanwhile (the new version embedded itself at upload), or deleted: then
            // the segment just written must not outlive the document's text.
            if matches!(self.get(user, &doc.id).await, Err(CorpusError::NotFound)) {
                self.blobs
                    .delete(&keys::segment_blob(user, &doc.id, doc.version))
                    .await?;
            }
            return Ok(false);
        }
        // The merged segment holds this version without vectors: drop it (the next search
        // reads the separate segments; compaction writes a new one). A compaction finishing
        // later sees the changed model and drops its own result (`discard_merged_if_stale`).
        self.blobs.delete(&keys::merged_segment_blob(user)).await?;
        Ok(true)
    }
}
