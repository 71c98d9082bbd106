//! Asynchronous ingestion. An upload stores the bytes and records the document `pending`; an
//! [`IngestJob`] goes through the [`Queue`] port to whoever ingests: on AWS the `ingest`
//! function (SQS, retries, a dead-letter queue), locally a background task of the server
//! ([`Corpus::spawn_local_worker`]). Both run [`Corpus::handle_ingest_message`], which moves the
//! document `pending → processing → ready | failed(reason)`. A failed document, or one stalled in
//! `pending`/`processing` (a message lost, a function killed mid-way), can be retried
//! ([`Corpus::retry_ingest`]). Without a queue (tests, a function that never uploads) ingestion
//! runs inside the request, as it did before.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ragenie_common::accounts::UserId;
use ragenie_common::clock;
use ragenie_common::storage::{Queue, StoreError, retry_transient};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::{Corpus, CorpusError, CorpusResult, Document, DocumentStatus, keys};

/// How ingestion runs.
#[derive(Clone, Default)]
pub(crate) enum Ingestion {
    /// Inside the request that stored the bytes.
    #[default]
    Inline,
    /// By the consumer of this queue.
    Queued(Arc<dyn Queue>),
}

/// A document `pending` or `processing` for longer than this counts as stalled and may be
/// retried: the ingest function's timeout (15 minutes) and a queue delay are well inside it.
/// The web app offers retry after the same time (`frontend/src/pages/DocumentsPage.tsx`).
pub const INGEST_STALLED_AFTER: Duration = Duration::from_secs(20 * 60);

/// Why a document failed whose ingestion the store interrupted (inline ingestion).
pub const STORE_FAILURE_REASON: &str =
    "storing the document's index failed for a moment; retry, or upload the same file again";

/// Why a document failed whose job the queue would not take.
const QUEUE_FAILURE_REASON: &str = "ingestion could not be queued; retry in a moment";

/// How the reason of a document whose queued ingestion failed on its last attempt begins.
const ATTEMPTS_FAILURE_PREFIX: &str = "ingestion failed after ";

/// Ingestion jobs the local worker runs at once (extraction is CPU-bound).
const LOCAL_WORKERS: usize = 2;

/// The message that asks for one document version to be ingested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestJob {
    pub user_id: UserId,
    pub document_id: String,
    pub version: u64,
}

impl IngestJob {
    pub fn of(user: UserId, doc: &Document) -> Self {
        Self {
            user_id: user,
            document_id: doc.id.clone(),
            version: doc.version,
        }
    }
}

/// What became of one queue message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The document ended `ready`.
    Ready,
    /// The document ended `failed` with a reason (unreadable file, bytes gone, attempts spent).
    Failed,
    /// Nothing to do: the document was deleted, replaced, already ingested or not waiting.
    Skipped,
}

impl Document {
    /// Whether ingestion of this document has stalled (see [`INGEST_STALLED_AFTER`]).
    pub fn ingestion_stalled(&self, after: Duration) -> bool {
        matches!(
            self.status,
            DocumentStatus::Pending | DocumentStatus::Processing
        ) && self.updated_at.plus(after) <= clock::now()
    }
}

impl Document {
    /// Whether this document failed because the store or the queue did for a moment (not
    /// because of its content): an identical upload starts its ingestion again.
    pub fn failed_for_a_moment(&self) -> bool {
        self.status == DocumentStatus::Failed
            && self.failure_reason.as_deref().is_some_and(|r| {
                r == STORE_FAILURE_REASON
                    || r == QUEUE_FAILURE_REASON
                    || r.starts_with(ATTEMPTS_FAILURE_PREFIX)
            })
    }
}

impl Corpus {
    /// Ingests through `queue` from now on: uploads answer `pending` at once, and whoever
    /// consumes the queue runs [`Corpus::handle_ingest_message`].
    pub fn with_queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.ingestion = Ingestion::Queued(queue);
        self
    }

    /// How long `pending`/`processing` lasts before a retry is allowed (tests shorten it).
    pub fn with_stall_after(mut self, after: Duration) -> Self {
        self.stall_after = after;
        self
    }

    /// Whether uploads are ingested by a queue's consumer (else inside the request).
    pub fn ingests_in_background(&self) -> bool {
        matches!(self.ingestion, Ingestion::Queued(_))
    }

    /// Drains a local queue on background tasks, a few jobs at a time: the local server's
    /// ingestion worker. Each message is tried once (a store failure fails the document, which
    /// can then be retried), as there is no dead-letter queue to hand it to.
    pub fn spawn_local_worker(
        self: &Arc<Self>,
        mut receiver: UnboundedReceiver<String>,
    ) -> tokio::task::JoinHandle<()> {
        let corpus = self.clone();
        let slots = Arc::new(tokio::sync::Semaphore::new(LOCAL_WORKERS));
        tokio::spawn(async move {
            while let Some(message) = receiver.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                let corpus = corpus.clone();
                tokio::spawn(async move {
                    if let Err(e) = corpus.handle_ingest_message(&message, 1, 1).await {
                        tracing::warn!(error = %e, "local ingestion failed");
                    }
                    drop(slot);
                });
            }
        })
    }

    /// Starts ingesting a stored version: inline, or by queueing a job (a queue that cannot
    /// take it fails the document with a reason, so it never waits for a job nobody has).
    pub(crate) async fn start_ingest(
        &self,
        user: UserId,
        mut doc: Document,
        bytes: Option<Bytes>,
    ) -> CorpusResult<Document> {
        match &self.ingestion {
            Ingestion::Inline => {
                let bytes = match bytes {
                    Some(bytes) => Ok(bytes),
                    None => self.stored_bytes(user, &doc).await.and_then(|b| {
                        b.ok_or_else(|| {
                            CorpusError::Unexpected(anyhow::anyhow!(
                                "the document's bytes are gone"
                            ))
                        })
                    }),
                };
                match bytes {
                    Ok(bytes) => match self.ingest(user, doc.clone(), &bytes).await {
                        Ok(doc) => Ok(doc),
                        Err(e) => Err(self.interrupted(user, doc, e).await),
                    },
                    Err(e) => Err(self.interrupted(user, doc, e).await),
                }
            }
            Ingestion::Queued(queue) => {
                let job = serde_json::to_string(&IngestJob::of(user, &doc))
                    .map_err(anyhow::Error::from)?;
                if let Err(e) = queue.send(job).await {
                    tracing::error!(doc_id = %doc.id, error = %e, "ingestion could not be queued");
                    doc = self.fail(user, doc, QUEUE_FAILURE_REASON.into()).await?;
                }
                Ok(doc)
            }
        }
    }

    /// Inline ingestion failed (the store, mostly): the document ends `failed` with a reason
    /// that says to retry, rather than `pending` with nothing left to finish it.
    async fn interrupted(&self, user: UserId, doc: Document, error: CorpusError) -> CorpusError {
        tracing::warn!(doc_id = %doc.id, error = %error, "ingesting a document was interrupted");
        if let Err(e) = self.fail(user, doc, STORE_FAILURE_REASON.into()).await {
            tracing::error!(error = %e, "the document stays pending; fsck lists it");
        }
        error
    }

    /// Marks `doc` failed with `reason`, trying again when the store fails for a moment: a
    /// failure nobody records leaves the document `pending` until it counts as stalled.
    async fn fail(
        &self,
        user: UserId,
        mut doc: Document,
        reason: String,
    ) -> CorpusResult<Document> {
        doc.status = DocumentStatus::Failed;
        doc.failure_reason = Some(reason);
        doc.token_count = None;
        doc.embedding_model = None;
        doc.updated_at = clock::now();
        retry_transient(|| async {
            match self.write_status(user, &doc).await {
                Err(CorpusError::Store(e)) => Err(e),
                Err(other) => Err(StoreError::Unexpected(anyhow::anyhow!(other.to_string()))),
                Ok(()) => Ok(()),
            }
        })
        .await?;
        Ok(doc)
    }

    async fn stored_bytes(&self, user: UserId, doc: &Document) -> CorpusResult<Option<Bytes>> {
        Ok(self
            .blobs
            .get(&keys::content_blob(user, &doc.content_hash))
            .await?
            .map(|b| b.body))
    }

    /// Handles one queue message. `attempt` is the delivery count (SQS's
    /// `ApproximateReceiveCount`, from 1) and `max_attempts` the deliveries the queue makes before
    /// the dead-letter queue; an error asks the queue to deliver again, and on the last attempt
    /// the document is first marked `failed` with the reason, so the user sees it and can
    /// retry. A message that is not a job is dropped (logged): delivering it again cannot help.
    pub async fn handle_ingest_message(
        &self,
        message: &str,
        attempt: u32,
        max_attempts: u32,
    ) -> CorpusResult<IngestOutcome> {
        let job: IngestJob = match serde_json::from_str(message) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(error = %e, "dropped a queue message that is not an ingest job");
                return Ok(IngestOutcome::Skipped);
            }
        };
        match self.run_job(&job).await {
            Ok(outcome) => Ok(outcome),
            Err(e) if attempt >= max_attempts => {
                tracing::error!(doc_id = %job.document_id, attempt, error = %e, "ingestion failed on its last attempt");
                if let Err(failing) = self.fail_job(&job, attempt).await {
                    tracing::error!(doc_id = %job.document_id, error = %failing, "the document stays processing until it counts as stalled");
                }
                Err(e)
            }
            Err(e) => {
                tracing::warn!(doc_id = %job.document_id, attempt, error = %e, "ingestion failed; the queue delivers it again");
                Err(e)
            }
        }
    }

    /// The job's last attempt failed: its document (if still this version and not ready)
    /// ends `failed`, so the user sees it and can retry.
    async fn fail_job(&self, job: &IngestJob, attempt: u32) -> CorpusResult<()> {
        let (pk, sk) = (job.user_id.partition(), keys::document_sk(&job.document_id));
        let Some(item) = retry_transient(|| self.table.get(&pk, &sk)).await? else {
            return Ok(());
        };
        let doc: Document = item.decode()?;
        if doc.version == job.version && doc.status != DocumentStatus::Ready {
            let reason =
                format!("{ATTEMPTS_FAILURE_PREFIX}{attempt} attempt(s); retry to try again");
            self.fail(job.user_id, doc, reason).await?;
        }
        Ok(())
    }

    async fn run_job(&self, job: &IngestJob) -> CorpusResult<IngestOutcome> {
        let user = job.user_id;
        let mut doc = match self.get(user, &job.document_id).await {
            Ok(doc) => doc,
            Err(CorpusError::NotFound) => return Ok(IngestOutcome::Skipped),
            Err(e) => return Err(e),
        };
        // A replaced version has its own job; a ready one was ingested by an earlier delivery;
        // a failed one waits for the user's retry, which queues a new job.
        let waiting = matches!(
            doc.status,
            DocumentStatus::Pending | DocumentStatus::Processing
        );
        if doc.version != job.version || !waiting {
            return Ok(IngestOutcome::Skipped);
        }
        doc.status = DocumentStatus::Processing;
        doc.updated_at = clock::now();
        self.write_status(user, &doc).await?;
        let Some(bytes) = self.stored_bytes(user, &doc).await? else {
            doc.status = DocumentStatus::Failed;
            doc.failure_reason = Some("the stored file is missing; upload it again".into());
            doc.updated_at = clock::now();
            self.write_status(user, &doc).await?;
            return Ok(IngestOutcome::Failed);
        };
        let doc = self.ingest(user, doc, &bytes).await?;
        Ok(match doc.status {
            DocumentStatus::Ready => IngestOutcome::Ready,
            _ => IngestOutcome::Failed,
        })
    }

    /// Ingests a failed or stalled document again from its stored bytes: `pending`, then as an
    /// upload. Anything else is a conflict (a ready document is re-indexed, not retried).
    pub async fn retry_ingest(&self, user: UserId, doc_id: &str) -> CorpusResult<Document> {
        let doc = self.get(user, doc_id).await?;
        if doc.status != DocumentStatus::Failed && !doc.ingestion_stalled(self.stall_after) {
            return Err(CorpusError::Conflict(format!(
                "the document is {}; only a failed ingestion, or one stalled for {} minutes, can be retried",
                doc.status.as_str(),
                self.stall_after.as_secs() / 60
            )));
        }
        self.restart_ingest(user, doc, None).await
    }

    /// Ingests `doc` again: `pending`, then as an upload (from `bytes`, else its stored ones).
    pub(crate) async fn restart_ingest(
        &self,
        user: UserId,
        mut doc: Document,
        bytes: Option<Bytes>,
    ) -> CorpusResult<Document> {
        doc.status = DocumentStatus::Pending;
        doc.failure_reason = None;
        doc.token_count = None;
        doc.updated_at = clock::now();
        self.write_status(user, &doc).await?;
        self.start_ingest(user, doc, bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DocumentKind, NewDocument};
    use ragenie_common::storage::LocalQueue;
    use ragenie_common::testing::{embedded_state, test_user};
    use tokio::sync::mpsc::UnboundedReceiver;

    fn file(name: &str, media_type: &str, body: &[u8]) -> NewDocument {
        NewDocument {
            name: name.into(),
            folder: String::new(),
            kind: DocumentKind::Dataset,
            media_type: media_type.into(),
            bytes: Bytes::from(body.to_vec()),
        }
    }

    const BROKEN_PDF: &[u8] = b"%PDF-1.7\n1 0 obj garbage";

    /// A corpus that queues its ingestion, and the queue's receiving end.
    fn queued(state: &ragenie_common::AppState) -> (Corpus, UnboundedReceiver<String>) {
        let (queue, receiver) = LocalQueue::new();
        let corpus =
            Corpus::new(state.table.clone(), state.blobs.clone()).with_queue(Arc::new(queue));
        (corpus, receiver)
    }

    #[tokio::test]
    async fn a_queued_upload_is_pending_until_its_job_runs_then_ready_and_searchable() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let (corpus, mut jobs) = queued(&state);
        let (user, _) = test_user();
        let (doc, created) = corpus
            .upload(user, file("a.md", "text/markdown", b"apples and pears"))
            .await
            .unwrap();
        assert!(created);
        assert_eq!(doc.status, DocumentStatus::Pending);
        assert!(
            corpus
                .search(user, None, "apples", 5)
                .await
                .unwrap()
                .is_empty()
        );

        let message = jobs.try_recv().unwrap();
        let job: IngestJob = serde_json::from_str(&message).unwrap();
        assert_eq!(job, IngestJob::of(user, &doc));
        assert_eq!(
            corpus.handle_ingest_message(&message, 1, 3).await.unwrap(),
            IngestOutcome::Ready
        );
        let ready = corpus.get(user, &doc.id).await.unwrap();
        assert_eq!(ready.status, DocumentStatus::Ready);
        assert!(ready.token_count.is_some());
        assert_eq!(
            corpus.search(user, None, "apples", 5).await.unwrap().len(),
            1
        );

        // SQS delivers at least once: a second delivery changes nothing.
        assert_eq!(
            corpus.handle_ingest_message(&message, 1, 3).await.unwrap(),
            IngestOutcome::Skipped
        );
        // A message for a deleted document, or one that is not a job, is dropped.
        corpus.delete(user, &doc.id).await.unwrap();
        for message in [message.as_str(), "{\"not\": \"a job\"}", "garbage"] {
            assert_eq!(
                corpus.handle_ingest_message(message, 1, 3).await.unwrap(),
                IngestOutcome::Skipped
            );
        }
    }

    #[tokio::test]
    async fn an_unreadable_file_ends_failed_with_a_reason_and_a_retry_queues_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let (corpus, mut jobs) = queued(&state);
        let (user, _) = test_user();
        let (doc, _) = corpus
            .upload(user, file("broken.pdf", "application/pdf", BROKEN_PDF))
            .await
            .unwrap();
        // Waiting for its job: not stalled yet, so not retryable.
        assert!(matches!(
            corpus.retry_ingest(user, &doc.id).await,
            Err(CorpusError::Conflict(_))
        ));
        let message = jobs.try_recv().unwrap();
        assert_eq!(
            corpus.handle_ingest_message(&message, 1, 3).await.unwrap(),
            IngestOutcome::Failed
        );
        let failed = corpus.get(user, &doc.id).await.unwrap();
        assert_eq!(failed.status, DocumentStatus::Failed);
        assert!(failed.failure_reason.is_some());
        // A failed document's old message does not run again by itself…
        assert_eq!(
            corpus.handle_ingest_message(&message, 2, 3).await.unwrap(),
            IngestOutcome::Skipped
        );
        // …the user's retry does: pending, without the old reason, and a new job.
        let retried = corpus.retry_ingest(user, &doc.id).await.unwrap();
        assert_eq!(retried.status, DocumentStatus::Pending);
        let stored = corpus.get(user, &doc.id).await.unwrap();
        assert_eq!(stored.status, DocumentStatus::Pending);
        assert_eq!(stored.failure_reason, None);
        let again = jobs.try_recv().unwrap();
        assert_eq!(
            corpus.handle_ingest_message(&again, 1, 3).await.unwrap(),
            IngestOutcome::Failed
        );
        // A ready document is re-indexed, not retried.
        let (ok, _) = corpus
            .upload(user, file("ok.md", "text/markdown", b"fine"))
            .await
            .unwrap();
        let message = jobs.try_recv().unwrap();
        corpus.handle_ingest_message(&message, 1, 3).await.unwrap();
        assert!(matches!(
            corpus.retry_ingest(user, &ok.id).await,
            Err(CorpusError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn a_document_stalled_in_pending_can_be_retried() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let (corpus, mut jobs) = queued(&state);
        let corpus = corpus.with_stall_after(Duration::ZERO);
        let (user, _) = test_user();
        let (doc, _) = corpus
            .upload(user, file("a.md", "text/markdown", b"apples"))
            .await
            .unwrap();
        // The first job is lost (a crash before it ran); the retry queues another.
        jobs.try_recv().unwrap();
        corpus.retry_ingest(user, &doc.id).await.unwrap();
        let message = jobs.try_recv().unwrap();
        assert_eq!(
            corpus.handle_ingest_message(&message, 1, 3).await.unwrap(),
            IngestOutcome::Ready
        );
    }

    #[tokio::test]
    async fn a_store_failure_is_delivered_again_and_fails_the_document_on_the_last_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let (corpus, mut jobs) = queued(&state);
        let (user, _) = test_user();
        let (doc, _) = corpus
            .upload(user, file("a.md", "text/markdown", b"apples"))
            .await
            .unwrap();
        let message = jobs.try_recv().unwrap();
        // The blob store breaks: its folder is now a file, so reading the bytes fails.
        let blobs = dir.path().join("blobs");
        std::fs::rename(&blobs, dir.path().join("moved")).unwrap();
        std::fs::write(&blobs, b"not a folder").unwrap();
        assert!(corpus.handle_ingest_message(&message, 1, 2).await.is_err());
        let doc_now = corpus.get(user, &doc.id).await.unwrap();
        assert_eq!(doc_now.status, DocumentStatus::Processing);
        // The last delivery fails too: the document says so (the message goes to the DLQ).
        assert!(corpus.handle_ingest_message(&message, 2, 2).await.is_err());
        let failed = corpus.get(user, &doc.id).await.unwrap();
        assert_eq!(failed.status, DocumentStatus::Failed);
        assert!(
            failed
                .failure_reason
                .as_deref()
                .unwrap()
                .contains("2 attempt"),
            "{failed:?}"
        );
    }

    #[tokio::test]
    async fn the_local_worker_ingests_queued_uploads_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let (corpus, jobs) = queued(&state);
        let corpus = Arc::new(corpus);
        corpus.spawn_local_worker(jobs);
        let (user, _) = test_user();
        let mut ids = Vec::new();
        for i in 0..5 {
            let body = format!("note {i} about apples");
            let (doc, _) = corpus
                .upload(
                    user,
                    file(&format!("{i}.md"), "text/markdown", body.as_bytes()),
                )
                .await
                .unwrap();
            ids.push(doc.id);
        }
        let (broken, _) = corpus
            .upload(user, file("broken.pdf", "application/pdf", BROKEN_PDF))
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let docs = corpus.all(user).await.unwrap();
            let settled = docs
                .iter()
                .all(|d| matches!(d.status, DocumentStatus::Ready | DocumentStatus::Failed));
            if settled {
                for d in &docs {
                    let want = if d.id == broken.id {
                        DocumentStatus::Failed
                    } else {
                        DocumentStatus::Ready
                    };
                    assert_eq!(d.status, want, "{}", d.name);
                }
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{docs:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            corpus.search(user, None, "apples", 10).await.unwrap().len(),
            5
        );
    }
}
