//! A user's documents: metadata and versions in the table, content stored once per user in the
//! blob store, ingest (extract → chunk → count tokens → one immutable index segment per
//! version), segments cached in memory, and search merged across segments at query time.
//!
//! Used by the documents function (the API) and the chat function (context assembly).

pub mod catalog;
mod documents;
pub mod embedding;
mod folder_move;
mod ingest;
mod ingestion;
pub mod keys;
pub mod metering;
mod model;
pub mod providers;
mod recovery;
mod reindex;
mod search;
mod segments;
mod uploads;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ragenie_common::accounts::UserId;
use ragenie_common::clock;
use ragenie_common::error::ApiError;
use ragenie_common::storage::{
    Blobs, Condition, Item, PresignedUrl, Query, StoreError, Table, TxOp, Update, retry_transient,
};
use ragenie_retrieval::{
    ChunkConfig, Embedder, ExtractError, Hit, QueryVector, SearchOptions, Segment, SegmentSet,
};
use sha2::{Digest, Sha256};

pub use catalog::{Catalog, FolderSummary};
pub use folder_move::{
    DEFAULT_MOVE_BATCH, FolderMove, MAX_MOVE_BATCH, MOVE_TIME_BUDGET, map_folder, remap_references,
};
pub use ingestion::{INGEST_STALLED_AFTER, IngestJob, IngestOutcome, STORE_FAILURE_REASON};
pub use model::{Document, DocumentKind, DocumentStatus, DocumentVersion, ReindexState};
pub use providers::{ProviderState, ProviderUse, StartupError};
pub use reindex::ReindexProgress;

/// The largest file a presigned upload may announce and commit (100 MiB; the ingest function is
/// sized for it): the presign and the commit's HEAD check both compare against this one value.
pub const MAX_PRESIGNED_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
// The local store's `/_blobs` must take every upload the presign allows.
const _: () = assert!(
    MAX_PRESIGNED_UPLOAD_BYTES <= ragenie_common::storage::embedded::MAX_PRESIGNED_PUT_BYTES as u64
);
/// How long a presigned upload URL stays valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a download URL stays valid.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(5 * 60);
pub const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("document not found")]
    NotFound,
    /// No document is in the folder or below it (and no profile references it).
    #[error("folder not found")]
    FolderNotFound,
    #[error("unsupported media type `{media_type}`; accepted: {}", accepted.join(", "))]
    Unsupported {
        media_type: String,
        accepted: Vec<&'static str>,
    },
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; the limit is {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<CorpusError> for ApiError {
    fn from(e: CorpusError) -> Self {
        match e {
            CorpusError::NotFound => ApiError::not_found("document"),
            CorpusError::FolderNotFound => ApiError::not_found("folder"),
            e @ CorpusError::Unsupported { .. } => ApiError::UnsupportedMediaType(e.to_string()),
            CorpusError::Empty => ApiError::BadRequest("the file is empty".into()),
            e @ CorpusError::TooLarge { .. } => ApiError::PayloadTooLarge(e.to_string()),
            CorpusError::Invalid { field, message } => ApiError::validation(field, message),
            CorpusError::Conflict(m) => ApiError::Conflict(m),
            CorpusError::Store(e) => e.into(),
            CorpusError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

pub type CorpusResult<T> = Result<T, CorpusError>;

/// A file to store as a new document.
pub struct NewDocument {
    pub name: String,
    /// The folder path as given (normalised and checked on upload); `""`: the root.
    pub folder: String,
    pub kind: DocumentKind,
    /// As sent; `application/octet-stream` or empty means "guess from the name and bytes".
    pub media_type: String,
    pub bytes: Bytes,
}

/// What starting a presigned upload returns.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PendingUpload {
    pub document_id: String,
    pub upload: PresignedUrl,
}

/// One search result, with where it comes from.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub document_id: String,
    pub document_name: String,
    pub version: u64,
    pub chunk: u32,
    pub heading_path: Vec<String>,
    /// Character offsets of the chunk in the document's extracted text.
    pub start: u64,
    pub end: u64,
    /// Higher ranks first: the BM25 score, or with hybrid retrieval the reciprocal-rank-fusion
    /// score of the BM25 and embedding rankings. Comparable within one result list only.
    pub score: f32,
    /// HTML-escaped, with matched terms in `<mark>`.
    pub snippet: String,
    pub text: String,
    pub token_count: u32,
}

pub struct Corpus {
    table: Arc<dyn Table>,
    blobs: Arc<dyn Blobs>,
    chunking: ChunkConfig,
    cache: Mutex<HashMap<String, Arc<Segment>>>,
    /// Per user: the catalog of their documents as of a corpus version (see [`catalog`]).
    catalogs: Mutex<HashMap<UserId, Arc<Catalog>>>,
    /// Per user: the searchable set of the ready documents' segments, with the corpus version
    /// it was built from (rebuilt when the version moves).
    sets: Mutex<HashMap<UserId, (i64, Arc<SegmentSet>)>>,
    /// Hybrid retrieval: chunks are embedded at ingest and queries at search time.
    embeddings: Option<Embeddings>,
    /// Users whose re-index queue a task of this process is working through.
    reindexing: Mutex<HashSet<UserId>>,
    /// The background compaction started last (see `segments`).
    compaction: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Inside the request, or through a queue (see `ingestion`).
    ingestion: ingestion::Ingestion,
    /// When a `pending`/`processing` document may be retried.
    stall_after: Duration,
}

struct Embeddings {
    embedder: Arc<dyn Embedder>,
    /// Bills a provider's calls to the user they are made for (none: the built-in model, free).
    meter: Option<Arc<dyn metering::EmbeddingMeter>>,
    /// The model label segments record (see `embedding::model_label`).
    model: String,
    /// Recent query embeddings per (user, question): the composer's estimate embeds the
    /// question while the user types, so sending it costs no second provider call (and no
    /// added wait for the answer). Per user, so timing cannot tell what others asked.
    queries: Mutex<HashMap<UserQuery, Arc<Vec<f32>>>>,
    /// A search waits this long for the question's embedding, then ranks by BM25 alone.
    query_timeout: Duration,
    /// An upload waits this long for its chunks' embeddings, then is stored without them:
    /// well inside the documents function's 29 s, so a slow provider never strands `pending`.
    ingest_timeout: Duration,
}

/// (user id, question).
type UserQuery = (UserId, String);

/// Query embeddings kept per process.
const QUERY_CACHE_CAPACITY: usize = 512;
/// Default wait for a question's embedding (a provider answers in ~100–300 ms).
pub const QUERY_EMBED_TIMEOUT: Duration = Duration::from_secs(3);
/// Default wait for an upload's chunk embeddings.
pub const INGEST_EMBED_TIMEOUT: Duration = Duration::from_secs(15);

/// Texts per embedding request at ingest (the gateway splits further to provider limits).
const EMBED_BATCH: usize = 256;

pub fn validate_name(name: &str) -> CorpusResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CorpusError::Invalid {
            field: "name",
            message: "a document needs a name".into(),
        });
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(CorpusError::Invalid {
            field: "name",
            message: format!("at most {MAX_NAME_CHARS} characters, no control characters"),
        });
    }
    if name.contains(['/', '\\']) {
        return Err(CorpusError::Invalid {
            field: "name",
            message:
                "a name cannot contain `/` or `\\`; put the document in a folder with `folder`"
                    .into(),
        });
    }
    Ok(name.to_owned())
}

/// A folder path in its normalised form (see [`ragenie_common::folders::normalize_folder`]).
pub fn validate_folder(folder: &str) -> CorpusResult<String> {
    ragenie_common::folders::normalize_folder(folder).map_err(|e| CorpusError::Invalid {
        field: "folder",
        message: e.0,
    })
}

/// The error for a name already taken in a folder.
fn name_taken(folder: &str, name: &str, holder: &str) -> CorpusError {
    let place = if folder.is_empty() {
        "at the root".to_owned()
    } else {
        format!("in folder `{folder}`")
    };
    CorpusError::Conflict(format!(
        "a document named `{name}` is already {place} ({holder}); names are unique per folder: \
         choose another name or folder, or replace its content with PUT /documents/{holder}/content"
    ))
}

impl Corpus {
    pub fn new(table: Arc<dyn Table>, blobs: Arc<dyn Blobs>) -> Self {
        Self {
            table,
            blobs,
            chunking: ChunkConfig::default(),
            cache: Mutex::new(HashMap::new()),
            catalogs: Mutex::new(HashMap::new()),
            sets: Mutex::new(HashMap::new()),
            embeddings: None,
            reindexing: Mutex::default(),
            compaction: Mutex::new(None),
            ingestion: ingestion::Ingestion::Inline,
            stall_after: INGEST_STALLED_AFTER,
        }
    }

    /// Turns on hybrid retrieval: chunks ingested from now on are embedded with `embedder`
    /// (recorded as `model`), and searches fuse BM25 with the similarity to the query's
    /// embedding. Documents indexed without vectors keep ranking through BM25.
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>, model: impl Into<String>) -> Self {
        self.embeddings = Some(Embeddings {
            embedder,
            meter: None,
            model: model.into(),
            queries: Mutex::new(HashMap::new()),
            query_timeout: QUERY_EMBED_TIMEOUT,
            ingest_timeout: INGEST_EMBED_TIMEOUT,
        });
        self
    }

    /// Bills the embedder's calls through `meter` (with embeddings on; see [`metering`]).
    pub fn with_embedding_meter(mut self, meter: Arc<dyn metering::EmbeddingMeter>) -> Self {
        if let Some(e) = self.embeddings.as_mut() {
            e.meter = Some(meter);
        }
        self
    }

    /// How long searches and uploads wait for the embedding provider (with embeddings on).
    pub fn with_embedding_timeouts(mut self, query: Duration, ingest: Duration) -> Self {
        if let Some(e) = self.embeddings.as_mut() {
            e.query_timeout = query;
            e.ingest_timeout = ingest;
        }
        self
    }

    /// The model label of the configured embeddings, if any.
    pub fn embedding_model(&self) -> Option<&str> {
        self.embeddings.as_ref().map(|e| e.model.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segments::discard_merged_if_stale;
    use ragenie_common::testing::{embedded_state, test_user};

    fn text(name: &str, body: &str) -> NewDocument {
        NewDocument {
            name: name.into(),
            folder: String::new(),
            kind: DocumentKind::Dataset,
            media_type: "text/markdown".into(),
            bytes: Bytes::from(body.to_owned()),
        }
    }

    /// How many dataset passages a search for `query` finds (at most 5).
    async fn hit_count(corpus: &Corpus, user: UserId, query: &str) -> usize {
        corpus.search_datasets(user, query, 5).await.unwrap().len()
    }

    /// Uploads documents `from..to`, a few at a time (each a distinct one-chunk text).
    async fn upload_many(corpus: &Corpus, user: UserId, from: usize, to: usize) {
        let mut next = from;
        while next < to {
            let batch = (next..to.min(next + 16)).map(|i| {
                let mut doc = text(&format!("note-{i}.md"), &format!("note{i} shared words"));
                doc.folder = format!("notes/{}", i % 3);
                corpus.upload(user, doc)
            });
            for result in futures::future::join_all(batch).await {
                result.unwrap();
            }
            next = to.min(next + 16);
        }
    }

    #[tokio::test]
    async fn a_warm_search_reads_the_table_once_whatever_the_number_of_documents() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let table = Arc::new(ragenie_common::storage::counting::CountingTable::new(
            state.table.clone(),
        ));
        let corpus = Corpus::new(table.clone(), state.blobs.clone());
        let (user, _) = test_user();
        let mut warm_reads = Vec::new();
        let mut uploaded = 0;
        for size in [10, 1000] {
            upload_many(&corpus, user, uploaded, size).await;
            uploaded = size;
            // The first search after a change reads the document list again.
            let before = table.calls();
            assert_eq!(hit_count(&corpus, user, "shared").await, 5);
            assert!((table.calls() - before).reads > 1);
            // A compaction that search started reads the table in the background.
            corpus.compaction_finished().await;
            for query in ["shared words", "note3"] {
                let before = table.calls();
                let hits = corpus.search_datasets(user, query, 5).await.unwrap();
                assert!(!hits.is_empty(), "{query}");
                warm_reads.push((table.calls() - before).reads);
            }
            let scope: HashSet<String> = corpus
                .list(user, None, 3, None)
                .await
                .unwrap()
                .0
                .into_iter()
                .map(|d| d.id)
                .collect();
            let before = table.calls();
            let hits = corpus
                .search(user, Some(&scope), "shared", 50)
                .await
                .unwrap();
            assert_eq!(hits.len(), 3, "only the profile's documents");
            warm_reads.push((table.calls() - before).reads);
            // A profile's folder scope resolves against the cached catalog: no document list.
            let before = table.calls();
            let catalog = corpus.catalog(user).await.unwrap();
            let in_folder: HashSet<String> = catalog
                .in_folders(&["notes/1".to_owned()])
                .into_iter()
                .map(|d| d.id.clone())
                .collect();
            assert_eq!(in_folder.len(), size / 3);
            let hits = corpus
                .search(user, Some(&in_folder), "shared", 50)
                .await
                .unwrap();
            assert_eq!(hits.len(), 50.min(size / 3));
            warm_reads.push((table.calls() - before).reads);
        }
        assert_eq!(
            warm_reads,
            [1, 1, 1, 2, 1, 1, 1, 2],
            "reads per warm search at 10 and 1,000 documents"
        );
    }

    #[tokio::test]
    async fn a_search_sees_every_change_to_the_documents_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let corpus = Corpus::new(state.table.clone(), state.blobs.clone());
        let (user, _) = test_user();
        let (doc, _) = corpus.upload(user, text("a.md", "apples")).await.unwrap();
        let first = corpus.search_datasets(user, "apples", 5).await.unwrap();
        assert_eq!(first[0].document_name, "a.md");
        let catalog = corpus.catalog(user).await.unwrap();

        corpus.rename(user, &doc.id, "renamed.md").await.unwrap();
        let hits = corpus.search_datasets(user, "apples", 5).await.unwrap();
        assert_eq!(hits[0].document_name, "renamed.md");
        assert!(corpus.catalog(user).await.unwrap().version() > catalog.version());

        corpus
            .replace(user, &doc.id, "text/markdown", Bytes::from("pears"))
            .await
            .unwrap();
        assert_eq!(hit_count(&corpus, user, "apples").await, 0);
        assert_eq!(hit_count(&corpus, user, "pears").await, 1);

        corpus.upload(user, text("b.md", "plums")).await.unwrap();
        assert_eq!(hit_count(&corpus, user, "plums").await, 1);

        corpus.delete(user, &doc.id).await.unwrap();
        assert_eq!(hit_count(&corpus, user, "pears").await, 0);
        assert!(corpus.catalog(user).await.unwrap().get(&doc.id).is_none());
    }

    #[tokio::test]
    async fn another_process_sees_this_ones_changes_through_the_corpus_version() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        // Two Lambda instances: each caches its own catalog and segment set.
        let writer = Corpus::new(state.table.clone(), state.blobs.clone());
        let reader = Corpus::new(state.table.clone(), state.blobs.clone());
        let (user, _) = test_user();
        writer.upload(user, text("a.md", "apples")).await.unwrap();
        assert_eq!(hit_count(&reader, user, "apples").await, 1);
        let (b, _) = writer
            .upload(user, text("b.md", "apples pears"))
            .await
            .unwrap();
        assert_eq!(hit_count(&reader, user, "apples").await, 2);
        writer.delete(user, &b.id).await.unwrap();
        assert_eq!(hit_count(&reader, user, "apples").await, 1);
    }

    #[tokio::test]
    async fn a_search_without_a_profile_covers_datasets_only() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let corpus = Corpus::new(state.table.clone(), state.blobs.clone());
        let (user, _) = test_user();
        corpus.upload(user, text("a.md", "apples")).await.unwrap();
        let mut rule = text("rule.md", "always mention apples");
        rule.kind = DocumentKind::Instructions;
        corpus.upload(user, rule).await.unwrap();
        let hits = corpus.search_datasets(user, "apples", 5).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].document_name, "a.md");
    }

    /// Counts the texts it embeds; every text gets the same direction.
    struct CountingEmbedder(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl Embedder for CountingEmbedder {
        async fn embed(
            &self,
            texts: &[String],
        ) -> Result<Vec<Vec<f32>>, ragenie_retrieval::DenseError> {
            self.0
                .fetch_add(texts.len(), std::sync::atomic::Ordering::SeqCst);
            Ok(texts.iter().map(|_| vec![1.0, 0.5]).collect())
        }
    }

    #[tokio::test]
    async fn a_repeated_question_is_embedded_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let embedder = Arc::new(CountingEmbedder(Default::default()));
        let corpus = Corpus::new(state.table.clone(), state.blobs.clone())
            .with_embedder(embedder.clone(), "counting");
        let (user, _) = test_user();
        corpus.upload(user, text("a.md", "apples")).await.unwrap();
        let embedded = || embedder.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(embedded(), 1, "one chunk embedded at upload");
        // Estimate while typing, then send: the same question.
        for _ in 0..3 {
            let hits = corpus.search(user, None, "which fruit?", 5).await.unwrap();
            assert_eq!(hits.len(), 1);
        }
        assert_eq!(embedded(), 2);
        corpus.search(user, None, "another one", 5).await.unwrap();
        assert_eq!(embedded(), 3);
    }

    /// Admits while `refuse` is false; keeps what it settles; a token per character.
    #[derive(Default)]
    struct RecordingMeter {
        refuse: std::sync::atomic::AtomicBool,
        settled: Mutex<Vec<(UserId, metering::Tally)>>,
    }

    #[async_trait::async_trait]
    impl metering::EmbeddingMeter for RecordingMeter {
        fn count_tokens(&self, texts: &[String]) -> u64 {
            texts.iter().map(|t| t.chars().count() as u64).sum()
        }
        async fn admit(
            &self,
            user: UserId,
            _estimated_tokens: u64,
        ) -> CorpusResult<Result<metering::MeterHold, ragenie_common::accounts::limits::Refusal>>
        {
            if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(Err(ragenie_common::accounts::limits::Refusal::QuotaSpent {
                    limit_usd: 1.0,
                    committed_usd: 1.0,
                    renews_on: "2027-01-01".into(),
                    retry_after_secs: 60,
                }));
            }
            Ok(Ok(metering::MeterHold {
                user,
                reservation: None,
                price: Some(1.0),
            }))
        }
        async fn settle(&self, hold: metering::MeterHold, used: &metering::Tally) {
            self.settled.lock().unwrap().push((hold.user, used.clone()));
        }
    }

    #[tokio::test]
    async fn embeddings_are_metered_per_user_and_a_refusal_fails_the_upload_without_a_call() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let embedder = Arc::new(CountingEmbedder(Default::default()));
        let meter = Arc::new(RecordingMeter::default());
        let corpus = Corpus::new(state.table.clone(), state.blobs.clone())
            .with_embedder(embedder.clone(), "counting")
            .with_embedding_meter(meter.clone());
        let embedded = || embedder.0.load(std::sync::atomic::Ordering::SeqCst);
        let (user, _) = test_user();
        let (doc, _) = corpus.upload(user, text("a.md", "apples")).await.unwrap();
        assert_eq!(doc.status, DocumentStatus::Ready);
        // This embedder reports no tokens: the meter's count is billed, flagged estimated.
        // What is embedded for the one chunk: the title, then the text.
        let chunk = "a.md\n\napples";
        let expected = metering::Tally {
            calls: 1,
            tokens: chunk.chars().count() as u64,
            estimated: true,
        };
        assert_eq!(*meter.settled.lock().unwrap(), [(user, expected)]);
        // The question is billed to the user who asked it.
        let (other, _) = test_user();
        corpus.upload(other, text("b.md", "apples")).await.unwrap();
        corpus.search(other, None, "fruit", 5).await.unwrap();
        let settled = meter.settled.lock().unwrap().clone();
        assert_eq!(settled.len(), 3);
        assert_eq!(settled[2].0, other);
        assert_eq!(settled[2].1.tokens, "fruit".len() as u64);

        // Refused: the upload fails with the reason, the search ranks by BM25; no provider call.
        meter
            .refuse
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let before = embedded();
        let (doc, _) = corpus.upload(user, text("c.md", "pears")).await.unwrap();
        assert_eq!(doc.status, DocumentStatus::Failed);
        let reason = doc.failure_reason.unwrap();
        assert!(
            reason.starts_with("monthly spend limit reached"),
            "{reason}"
        );
        assert!(reason.contains("2027-01-01"), "{reason}");
        let hits = corpus.search(user, None, "apples now", 5).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(embedded(), before);
        assert_eq!(meter.settled.lock().unwrap().len(), 3, "nothing billed");
    }

    /// Never answers, like a provider that accepted the connection and stalled.
    struct StalledEmbedder;

    #[async_trait::async_trait]
    impl Embedder for StalledEmbedder {
        async fn embed(
            &self,
            _texts: &[String],
        ) -> Result<Vec<Vec<f32>>, ragenie_retrieval::DenseError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_stalled_provider_leaves_uploads_ready_and_search_on_bm25_within_the_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let wait = Duration::from_millis(200);
        let corpus = Corpus::new(state.table.clone(), state.blobs.clone())
            .with_embedder(Arc::new(StalledEmbedder), "stalled")
            .with_embedding_timeouts(wait, wait);
        let (user, _) = test_user();
        let started = std::time::Instant::now();
        let (doc, _) = corpus.upload(user, text("a.md", "apples")).await.unwrap();
        assert_eq!(doc.status, DocumentStatus::Ready);
        let hits = corpus.search(user, None, "apples", 5).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_question_is_not_embedded_when_no_document_has_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let (user, _) = test_user();
        // Uploaded before an embedding model was configured.
        Corpus::new(state.table.clone(), state.blobs.clone())
            .upload(user, text("a.md", "apples"))
            .await
            .unwrap();
        let embedder = Arc::new(CountingEmbedder(Default::default()));
        let corpus = Corpus::new(state.table.clone(), state.blobs.clone())
            .with_embedder(embedder.clone(), "counting");
        let hits = corpus.search(user, None, "apples", 5).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(embedder.0.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn the_query_cache_is_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let embedder = Arc::new(CountingEmbedder(Default::default()));
        let corpus = Corpus::new(state.table.clone(), state.blobs.clone())
            .with_embedder(embedder.clone(), "counting");
        let embedded = || embedder.0.load(std::sync::atomic::Ordering::SeqCst);
        let mut users = Vec::new();
        for _ in 0..2 {
            let (user, _) = test_user();
            corpus.upload(user, text("a.md", "apples")).await.unwrap();
            users.push(user);
        }
        let before = embedded();
        for user in &users {
            corpus
                .search(*user, None, "same question", 5)
                .await
                .unwrap();
        }
        assert_eq!(
            embedded() - before,
            2,
            "each user's question is embedded for them"
        );
    }

    #[tokio::test]
    async fn a_merged_segment_written_after_a_delete_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let corpus = Corpus::new(state.table.clone(), state.blobs.clone());
        let (user, _) = test_user();
        let (kept, _) = corpus
            .upload(user, text("kept.md", "apples"))
            .await
            .unwrap();
        let (gone, _) = corpus.upload(user, text("gone.md", "pears")).await.unwrap();
        let merged_key = keys::merged_segment_blob(user);
        let mut parts = Vec::new();
        for doc in [&kept, &gone] {
            let blob = state
                .blobs
                .get(&keys::segment_blob(user, &doc.id, 1))
                .await
                .unwrap()
                .unwrap();
            parts.push(Segment::from_bytes(&blob.body).unwrap());
        }
        let merged = Bytes::from(Segment::merge(&parts).to_bytes());
        let covered: HashMap<String, Option<String>> =
            [(kept.id.clone(), None), (gone.id.clone(), None)].into();
        // Writes the merged segment as a finishing compaction does, then runs its check.
        let compaction_finishes = || async {
            state
                .blobs
                .put(&merged_key, merged.clone(), "application/octet-stream")
                .await
                .unwrap();
            discard_merged_if_stale(state.table.as_ref(), state.blobs.as_ref(), user, &covered)
                .await
                .unwrap()
        };

        // While both documents exist, the merged segment stays.
        assert!(!compaction_finishes().await);
        assert!(state.blobs.get(&merged_key).await.unwrap().is_some());

        // A compaction that began before the delete writes its merged segment after it.
        corpus.delete(user, &gone.id).await.unwrap();
        assert!(compaction_finishes().await);
        assert!(state.blobs.get(&merged_key).await.unwrap().is_none());
        let hits = corpus.search(user, None, "pears", 10).await.unwrap();
        assert!(hits.is_empty());
        assert_eq!(
            corpus.search(user, None, "apples", 10).await.unwrap().len(),
            1
        );
    }
}
