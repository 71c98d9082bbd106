//! A user's documents: metadata and versions in the table, content stored once per user in the
//! blob store, ingest (extract → chunk → count tokens → one immutable index segment per
//! version), segments cached in memory, and search merged across segments at query time.
//!
//! Used by the documents function (the API) and the chat function (context assembly).

pub mod embedding;
pub mod keys;
mod model;
pub mod providers;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ragenie_common::accounts::UserId;
use ragenie_common::clock;
use ragenie_common::error::ApiError;
use ragenie_common::storage::{
    Blobs, Condition, Item, PresignedUrl, Query, StoreError, Table, TxOp, Update,
};
use ragenie_retrieval::{
    ChunkConfig, Embedder, ExtractError, Hit, QueryVector, SearchOptions, Segment, SegmentSet,
};
use sha2::{Digest, Sha256};

pub use model::{Document, DocumentKind, DocumentStatus, DocumentVersion};
pub use providers::{ProviderState, ProviderUse, StartupError};

/// The largest file a presigned upload may commit.
pub const MAX_PRESIGNED_UPLOAD_BYTES: u64 = 64 * 1024 * 1024;
/// How long a presigned upload URL stays valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a download URL stays valid.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(5 * 60);
pub const MAX_NAME_CHARS: usize = 200;
/// Segments kept in memory per process; immutable per version, so a key never goes stale.
const SEGMENT_CACHE_CAPACITY: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("document not found")]
    NotFound,
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
    /// Per user: the searchable set of the ready documents' segments, with the fingerprint of
    /// the document versions it was built from (rebuilt when any changes).
    sets: Mutex<HashMap<UserId, (u64, Arc<SegmentSet>)>>,
    /// Hybrid retrieval: chunks are embedded at ingest and queries at search time.
    embeddings: Option<Embeddings>,
}

struct Embeddings {
    embedder: Arc<dyn Embedder>,
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

/// Separate segments loaded beyond a merged one before a new merged segment is written.
const COMPACT_AFTER: usize = 16;
/// Users whose searchable sets stay in memory.
const SET_CACHE_CAPACITY: usize = 256;

fn fingerprint(docs: &[Document]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut pairs: Vec<(&str, u64)> = docs.iter().map(|d| (d.id.as_str(), d.version)).collect();
    pairs.sort_unstable();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    pairs.hash(&mut hasher);
    hasher.finish()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

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
    Ok(name.to_owned())
}

/// The media type to extract the bytes as: the declared one when RaGenie reads it, else a guess
/// from the name and the bytes; 415 when neither is readable.
fn resolve_media_type(declared: &str, name: &str, bytes: &[u8]) -> CorpusResult<&'static str> {
    let declared_essence = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if let Some(known) = ragenie_retrieval::normalize_media_type(&declared_essence) {
        return Ok(known);
    }
    if declared_essence.is_empty() || declared_essence == "application/octet-stream" {
        let sniffed = ragenie_retrieval::sniff_media_type(name, bytes);
        if let Some(known) = ragenie_retrieval::normalize_media_type(sniffed) {
            return Ok(known);
        }
    }
    Err(CorpusError::Unsupported {
        media_type: if declared_essence.is_empty() {
            "unknown".into()
        } else {
            declared_essence
        },
        accepted: ragenie_retrieval::ACCEPTED_MEDIA_TYPES.to_vec(),
    })
}

fn failure_reason(e: &ExtractError) -> String {
    match e {
        ExtractError::Encrypted => "the file is encrypted; upload a decrypted copy".into(),
        other => other.to_string(),
    }
}

impl Corpus {
    pub fn new(table: Arc<dyn Table>, blobs: Arc<dyn Blobs>) -> Self {
        Self {
            table,
            blobs,
            chunking: ChunkConfig::default(),
            cache: Mutex::new(HashMap::new()),
            sets: Mutex::new(HashMap::new()),
            embeddings: None,
        }
    }

    /// Turns on hybrid retrieval: chunks ingested from now on are embedded with `embedder`
    /// (recorded as `model`), and searches fuse BM25 with the similarity to the query's
    /// embedding. Documents indexed without vectors keep ranking through BM25.
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>, model: impl Into<String>) -> Self {
        self.embeddings = Some(Embeddings {
            embedder,
            model: model.into(),
            queries: Mutex::new(HashMap::new()),
            query_timeout: QUERY_EMBED_TIMEOUT,
            ingest_timeout: INGEST_EMBED_TIMEOUT,
        });
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

    /// Embeds a new version's chunks into its segment. A provider failure leaves the version
    /// searchable by BM25 alone: an outage must not make uploads fail.
    async fn embed_chunks(
        &self,
        doc_id: &str,
        title: &str,
        segment: &mut Segment,
        chunks: &[ragenie_retrieval::Chunk],
    ) {
        let Some(embeddings) = &self.embeddings else {
            return;
        };
        if chunks.is_empty() {
            return;
        }
        // The title and headings go with the text: a chunk's meaning often depends on them.
        let texts: Vec<String> = chunks
            .iter()
            .map(|c| {
                let mut context = vec![title];
                context.extend(c.heading_path.iter().map(String::as_str));
                format!("{}\n\n{}", context.join(" › "), c.text)
            })
            .collect();
        let embed_all = async {
            let mut vectors = Vec::with_capacity(texts.len());
            for batch in texts.chunks(EMBED_BATCH) {
                vectors.extend(embeddings.embedder.embed(batch).await?);
            }
            Ok::<_, ragenie_retrieval::DenseError>(vectors)
        };
        let vectors = match tokio::time::timeout(embeddings.ingest_timeout, embed_all).await {
            Ok(Ok(vectors)) => vectors,
            Ok(Err(e)) => {
                tracing::warn!(doc_id, error = %e, "chunks not embedded; the document ranks by BM25 alone");
                return;
            }
            Err(_) => {
                tracing::warn!(
                    doc_id,
                    "embedding the chunks timed out; the document ranks by BM25 alone"
                );
                return;
            }
        };
        if let Err(e) = segment.attach_vectors(&embeddings.model, &vectors) {
            tracing::warn!(doc_id, error = %e, "embeddings unusable; the document ranks by BM25 alone");
        }
    }

    /// The query's embedding, or `None` (BM25 alone) without embeddings or when the provider
    /// fails.
    async fn embed_query(&self, user: UserId, query: &str) -> Option<Arc<Vec<f32>>> {
        let embeddings = self.embeddings.as_ref()?;
        let key = (user, query.to_owned());
        if let Some(hit) = embeddings.queries.lock().expect("query cache").get(&key) {
            return Some(hit.clone());
        }
        let call = embeddings.embedder.embed(std::slice::from_ref(&key.1));
        match tokio::time::timeout(embeddings.query_timeout, call).await {
            Ok(Ok(mut vectors)) if vectors.len() == 1 => {
                let vector = Arc::new(vectors.pop()?);
                let mut cache = embeddings.queries.lock().expect("query cache");
                if cache.len() >= QUERY_CACHE_CAPACITY {
                    cache.clear();
                }
                cache.insert(key, vector.clone());
                Some(vector)
            }
            Ok(Ok(_)) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "query not embedded; ranking by BM25 alone");
                None
            }
            Err(_) => {
                tracing::warn!("query embedding timed out; ranking by BM25 alone");
                None
            }
        }
    }

    pub async fn get(&self, user: UserId, doc_id: &str) -> CorpusResult<Document> {
        let item = self
            .table
            .get(&user.partition(), &keys::document_sk(doc_id))
            .await?;
        item.ok_or(CorpusError::NotFound)?
            .decode()
            .map_err(Into::into)
    }

    pub async fn versions(&self, user: UserId, doc_id: &str) -> CorpusResult<Vec<DocumentVersion>> {
        self.get(user, doc_id).await?;
        let query = Query::partition(user.partition())
            .prefix(keys::versions_prefix(doc_id))
            .descending()
            .limit(1000);
        let page = self.table.query(query).await?;
        page.items
            .iter()
            .map(|i| i.decode().map_err(Into::into))
            .collect()
    }

    /// A page of the user's documents, oldest first; of one kind when given.
    pub async fn list(
        &self,
        user: UserId,
        kind: Option<DocumentKind>,
        limit: usize,
        cursor: Option<String>,
    ) -> CorpusResult<(Vec<Document>, Option<String>)> {
        let page = match kind {
            Some(kind) => {
                self.table
                    .query_index(
                        Query::partition(keys::kind_index_pk(user, kind.as_str()))
                            .limit(limit)
                            .after(cursor),
                    )
                    .await?
            }
            None => {
                self.table
                    .query(
                        Query::partition(user.partition())
                            .prefix(keys::DOCUMENT_PREFIX)
                            .limit(limit)
                            .after(cursor),
                    )
                    .await?
            }
        };
        let docs = page
            .items
            .iter()
            .map(|i| i.decode())
            .collect::<Result<Vec<Document>, _>>()?;
        Ok((docs, page.next_cursor))
    }

    /// Every document of the user (all pages).
    pub async fn all(&self, user: UserId) -> CorpusResult<Vec<Document>> {
        all_documents(self.table.as_ref(), user).await
    }

    /// Stores a new document and indexes it. Identical content already stored by this user
    /// returns the existing document instead (`false`): one copy serves every profile.
    pub async fn upload(&self, user: UserId, new: NewDocument) -> CorpusResult<(Document, bool)> {
        self.create(user, &ulid::Ulid::new().to_string(), new).await
    }

    /// `upload` under a chosen id (the presigned flow announces the id before the bytes).
    async fn create(
        &self,
        user: UserId,
        doc_id: &str,
        new: NewDocument,
    ) -> CorpusResult<(Document, bool)> {
        let name = validate_name(&new.name)?;
        if new.bytes.is_empty() {
            return Err(CorpusError::Empty);
        }
        let media_type = resolve_media_type(&new.media_type, &name, &new.bytes)?;
        let hash = sha256_hex(&new.bytes);
        if let Some(existing) = self.owner_of(user, &hash).await? {
            return Ok((existing, false));
        }
        let doc_id = doc_id.to_owned();
        self.blobs
            .put(
                &keys::content_blob(user, &hash),
                new.bytes.clone(),
                media_type,
            )
            .await?;
        let stamp = clock::now();
        let doc = Document {
            id: doc_id.clone(),
            name,
            kind: new.kind,
            media_type: media_type.into(),
            size: new.bytes.len() as u64,
            content_hash: hash.clone(),
            token_count: None,
            version: 1,
            status: DocumentStatus::Pending,
            failure_reason: None,
            created_at: stamp,
            updated_at: stamp,
        };
        let pk = user.partition();
        let doc_item = Item::encode(pk.clone(), keys::document_sk(&doc_id), &doc)?
            .indexed(keys::kind_index_pk(user, doc.kind.as_str()), doc_id.clone());
        let ops = vec![
            TxOp::Put {
                item: doc_item,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: Item::encode(
                    pk.clone(),
                    keys::version_sk(&doc_id, 1),
                    &DocumentVersion::of(&doc),
                )?,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: hash_item(&pk, &hash, &doc_id, 1),
                condition: Condition::NotExists,
            },
        ];
        match self.table.transact(ops).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => {
                // The same content won a race with us: hand back the winner.
                return match self.owner_of(user, &hash).await? {
                    Some(existing) => Ok((existing, false)),
                    None => Err(CorpusError::Conflict(
                        "a concurrent upload conflicted; retry".into(),
                    )),
                };
            }
            Err(e) => return Err(e.into()),
        }
        Ok((self.ingest(user, doc, &new.bytes).await?, true))
    }

    /// The document whose current or past version holds this content, if any.
    async fn owner_of(&self, user: UserId, hash: &str) -> CorpusResult<Option<Document>> {
        let Some(item) = self
            .table
            .get(&user.partition(), &keys::content_hash_sk(hash))
            .await?
        else {
            return Ok(None);
        };
        let doc_id = item.str("doc_id").unwrap_or_default().to_owned();
        match self.get(user, &doc_id).await {
            Ok(doc) => Ok(Some(doc)),
            Err(CorpusError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Extracts, chunks and indexes a stored version, ending `ready` or `failed` with a reason —
    /// never left `pending` by bad input.
    async fn ingest(
        &self,
        user: UserId,
        mut doc: Document,
        bytes: &Bytes,
    ) -> CorpusResult<Document> {
        let (id, version, name, media_type, bytes_owned, chunking) = (
            doc.id.clone(),
            doc.version,
            doc.name.clone(),
            doc.media_type.clone(),
            bytes.clone(),
            self.chunking,
        );
        let indexed = tokio::task::spawn_blocking(move || {
            ragenie_retrieval::index_document(
                &id,
                version,
                &name,
                &media_type,
                &bytes_owned,
                &chunking,
            )
        })
        .await
        .map_err(|e| anyhow::anyhow!("indexing task failed: {e}"))?;
        match indexed {
            Ok(mut indexed) => {
                self.embed_chunks(&doc.id, &doc.name, &mut indexed.segment, &indexed.chunks)
                    .await;
                let segment = Bytes::from(indexed.segment.to_bytes());
                let text = Bytes::from(indexed.extracted.text.clone());
                self.blobs
                    .put(
                        &keys::text_blob(user, &doc.id, doc.version),
                        text,
                        "text/plain; charset=utf-8",
                    )
                    .await?;
                self.blobs
                    .put(
                        &keys::segment_blob(user, &doc.id, doc.version),
                        segment,
                        "application/octet-stream",
                    )
                    .await?;
                doc.status = DocumentStatus::Ready;
                doc.token_count = Some(indexed.token_count as u64);
                doc.failure_reason = None;
            }
            Err(e) => {
                tracing::info!(doc_id = %doc.id, error = %e, "document could not be extracted");
                doc.status = DocumentStatus::Failed;
                doc.failure_reason = Some(failure_reason(&e));
            }
        }
        doc.updated_at = clock::now();
        self.write_status(user, &doc).await?;
        Ok(doc)
    }

    async fn write_status(&self, user: UserId, doc: &Document) -> CorpusResult<()> {
        let pk = user.partition();
        let status = serde_json::to_value(doc.status).map_err(anyhow::Error::from)?;
        let mut update = Update::new()
            .set("status", status.clone())
            .set("updated_at", doc.updated_at);
        let mut version_update = Update::new().set("status", status);
        match (&doc.failure_reason, doc.token_count) {
            (Some(reason), _) => {
                update = update
                    .set("failure_reason", reason.clone())
                    .remove("token_count");
                version_update = version_update.set("failure_reason", reason.clone());
            }
            (None, Some(tokens)) => {
                update = update.set("token_count", tokens).remove("failure_reason");
                version_update = version_update.set("token_count", tokens);
            }
            (None, None) => {}
        }
        // Only the version being ingested may set the document's status: a newer replace wins.
        let current = Condition::AttrEquals("version".into(), doc.version.into());
        let ops = vec![
            TxOp::Update {
                pk: pk.clone(),
                sk: keys::document_sk(&doc.id),
                update,
                condition: current,
            },
            TxOp::Update {
                pk,
                sk: keys::version_sk(&doc.id, doc.version),
                update: version_update,
                condition: Condition::Exists,
            },
        ];
        match self.table.transact(ops).await {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores new content as the document's next version and indexes it.
    pub async fn replace(
        &self,
        user: UserId,
        doc_id: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> CorpusResult<Document> {
        let current = self.get(user, doc_id).await?;
        if bytes.is_empty() {
            return Err(CorpusError::Empty);
        }
        let media_type = resolve_media_type(media_type, &current.name, &bytes)?;
        let hash = sha256_hex(&bytes);
        if hash == current.content_hash {
            return Ok(current);
        }
        if let Some(owner) = self.owner_of(user, &hash).await? {
            return Err(CorpusError::Conflict(format!(
                "this content is already stored as document {} (`{}`)",
                owner.id, owner.name
            )));
        }
        self.blobs
            .put(&keys::content_blob(user, &hash), bytes.clone(), media_type)
            .await?;
        let mut doc = current.clone();
        doc.version = current.version + 1;
        doc.media_type = media_type.into();
        doc.size = bytes.len() as u64;
        doc.content_hash = hash.clone();
        doc.status = DocumentStatus::Pending;
        doc.token_count = None;
        doc.failure_reason = None;
        doc.updated_at = clock::now();
        let pk = user.partition();
        let doc_item = Item::encode(pk.clone(), keys::document_sk(doc_id), &doc)?.indexed(
            keys::kind_index_pk(user, doc.kind.as_str()),
            doc_id.to_owned(),
        );
        let ops = vec![
            // Two concurrent replaces: exactly one becomes the next version.
            TxOp::Put {
                item: doc_item,
                condition: Condition::AttrEquals("version".into(), current.version.into()),
            },
            TxOp::Put {
                item: Item::encode(
                    pk.clone(),
                    keys::version_sk(doc_id, doc.version),
                    &DocumentVersion::of(&doc),
                )?,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: hash_item(&pk, &hash, doc_id, doc.version),
                condition: Condition::NotExists,
            },
        ];
        match self.table.transact(ops).await {
            Ok(()) => self.ingest(user, doc, &bytes).await,
            Err(StoreError::ConditionFailed) => Err(CorpusError::Conflict(
                "the document changed meanwhile; retry".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn rename(&self, user: UserId, doc_id: &str, name: &str) -> CorpusResult<Document> {
        let name = validate_name(name)?;
        let update = Update::new()
            .set("name", name)
            .set("updated_at", clock::now());
        match self
            .table
            .update(
                &user.partition(),
                &keys::document_sk(doc_id),
                update,
                Condition::Exists,
            )
            .await
        {
            Ok(item) => Ok(item.decode()?),
            Err(StoreError::ConditionFailed) => Err(CorpusError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the document, every version's bytes, extracted text and index segment.
    pub async fn delete(&self, user: UserId, doc_id: &str) -> CorpusResult<()> {
        let versions = self.versions(user, doc_id).await?;
        let pk = user.partition();
        // The metadata goes first: from then on lists and searches no longer see the document,
        // whatever happens to the cleanup below.
        match self
            .table
            .delete(&pk, &keys::document_sk(doc_id), Condition::Exists)
            .await
        {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => return Err(CorpusError::NotFound),
            Err(e) => return Err(e.into()),
        }
        for v in versions {
            self.blobs
                .delete(&keys::segment_blob(user, doc_id, v.version))
                .await?;
            self.blobs
                .delete(&keys::text_blob(user, doc_id, v.version))
                .await?;
            let owned = Condition::AttrEquals("doc_id".into(), doc_id.into());
            match self
                .table
                .delete(&pk, &keys::content_hash_sk(&v.content_hash), owned)
                .await
            {
                Ok(()) => {
                    self.blobs
                        .delete(&keys::content_blob(user, &v.content_hash))
                        .await?
                }
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
            self.table
                .delete(&pk, &keys::version_sk(doc_id, v.version), Condition::None)
                .await?;
            self.cache
                .lock()
                .expect("cache lock")
                .remove(&keys::segment_blob(user, doc_id, v.version));
        }
        // The merged segment still holds the deleted text: drop it (the next search rebuilds one).
        self.blobs.delete(&keys::merged_segment_blob(user)).await?;
        Ok(())
    }

    /// The extracted text of the current version.
    pub async fn text(&self, user: UserId, doc_id: &str) -> CorpusResult<(Document, String)> {
        let doc = self.get(user, doc_id).await?;
        if doc.status != DocumentStatus::Ready {
            return Err(CorpusError::Conflict(format!(
                "the document is {}",
                doc.status.as_str()
            )));
        }
        let blob = self
            .blobs
            .get(&keys::text_blob(user, doc_id, doc.version))
            .await?
            .ok_or_else(|| {
                CorpusError::Unexpected(anyhow::anyhow!(
                    "extracted text of {doc_id} v{} is missing",
                    doc.version
                ))
            })?;
        let text = String::from_utf8(blob.body.to_vec()).map_err(anyhow::Error::from)?;
        Ok((doc, text))
    }

    pub async fn download_url(&self, user: UserId, doc_id: &str) -> CorpusResult<PresignedUrl> {
        let doc = self.get(user, doc_id).await?;
        Ok(self
            .blobs
            .presign_get(
                &keys::content_blob(user, &doc.content_hash),
                DOWNLOAD_URL_TTL,
            )
            .await?)
    }

    /// Starts a large upload: a presigned PUT the client sends the bytes to, then `commit`.
    pub async fn start_upload(
        &self,
        user: UserId,
        name: &str,
        kind: DocumentKind,
        media_type: &str,
        size: u64,
    ) -> CorpusResult<PendingUpload> {
        let name = validate_name(name)?;
        if size == 0 {
            return Err(CorpusError::Empty);
        }
        if size > MAX_PRESIGNED_UPLOAD_BYTES {
            return Err(CorpusError::TooLarge {
                size,
                limit: MAX_PRESIGNED_UPLOAD_BYTES,
            });
        }
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if ragenie_retrieval::normalize_media_type(&essence).is_none()
            && essence != "application/octet-stream"
        {
            return Err(CorpusError::Unsupported {
                media_type: essence,
                accepted: ragenie_retrieval::ACCEPTED_MEDIA_TYPES.to_vec(),
            });
        }
        let doc_id = ulid::Ulid::new().to_string();
        let expires = clock::unix_now() + UPLOAD_URL_TTL.as_secs() as i64 + 3600;
        let record = Item::new(user.partition(), keys::upload_sk(&doc_id))
            .with("name", name)
            .with("kind", kind.as_str())
            .with("media_type", essence.clone())
            .with("size", size)
            .expires_at(expires);
        self.table.put(record, Condition::NotExists).await?;
        let upload = self
            .blobs
            .presign_put(&keys::upload_blob(user, &doc_id), &essence, UPLOAD_URL_TTL)
            .await?;
        Ok(PendingUpload {
            document_id: doc_id,
            upload,
        })
    }

    /// Finishes a presigned upload: checks the bytes arrived whole, then stores and indexes them
    /// like a direct upload. A size mismatch is refused and nothing is kept.
    pub async fn commit_upload(
        &self,
        user: UserId,
        doc_id: &str,
    ) -> CorpusResult<(Document, bool)> {
        let pk = user.partition();
        let record = self
            .table
            .get(&pk, &keys::upload_sk(doc_id))
            .await?
            .ok_or(CorpusError::NotFound)?;
        let blob_key = keys::upload_blob(user, doc_id);
        let Some(blob) = self.blobs.get(&blob_key).await? else {
            return Err(CorpusError::Invalid {
                field: "upload",
                message: "nothing was uploaded to the URL yet".into(),
            });
        };
        let expected = record.i64("size").unwrap_or(-1);
        let cleanup = async {
            let _ = self.blobs.delete(&blob_key).await;
            let _ = self
                .table
                .delete(&pk, &keys::upload_sk(doc_id), Condition::None)
                .await;
        };
        if blob.body.len() as i64 != expected {
            cleanup.await;
            return Err(CorpusError::Invalid {
                field: "size",
                message: format!(
                    "{} bytes arrived but {expected} were announced; upload again",
                    blob.body.len()
                ),
            });
        }
        let kind = DocumentKind::parse(record.str("kind").unwrap_or_default())
            .ok_or_else(|| anyhow::anyhow!("upload record without kind"))?;
        let new = NewDocument {
            name: record.str("name").unwrap_or_default().to_owned(),
            kind,
            media_type: record.str("media_type").unwrap_or_default().to_owned(),
            bytes: blob.body,
        };
        let result = self.create(user, doc_id, new).await;
        cleanup.await;
        result
    }

    async fn load_segment(&self, key: &str) -> CorpusResult<Option<Arc<Segment>>> {
        if let Some(hit) = self.cache.lock().expect("cache lock").get(key) {
            return Ok(Some(hit.clone()));
        }
        let Some(blob) = self.blobs.get(key).await? else {
            return Ok(None);
        };
        let segment = tokio::task::spawn_blocking(move || Segment::from_bytes(&blob.body))
            .await
            .map_err(|e| anyhow::anyhow!("decoding task failed: {e}"))?
            .map_err(|e| anyhow::anyhow!("segment {key} is unreadable: {e}"))?;
        let segment = Arc::new(segment);
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= SEGMENT_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(key.to_owned(), segment.clone());
        Ok(Some(segment))
    }

    /// The searchable set of the user's ready documents: reused while no document changes;
    /// otherwise the user's merged segment plus the segments of versions it does not cover,
    /// compacted into a new merged segment in the background when those are many (so a user
    /// with thousands of small documents reads one blob, not thousands).
    async fn segment_set(&self, user: UserId, docs: &[Document]) -> CorpusResult<Arc<SegmentSet>> {
        let key = fingerprint(docs);
        if let Some((k, set)) = self.sets.lock().expect("sets lock").get(&user)
            && *k == key
        {
            return Ok(set.clone());
        }
        let merged_key = keys::merged_segment_blob(user);
        let merged = match self.blobs.get(&merged_key).await? {
            Some(blob) => tokio::task::spawn_blocking(move || Segment::from_bytes(&blob.body).ok())
                .await
                .map_err(|e| anyhow::anyhow!("decoding task failed: {e}"))?,
            None => None,
        };
        let covered: std::collections::HashSet<(String, u64)> = merged
            .iter()
            .flat_map(|m| m.covers().map(|(d, v)| (d.to_owned(), v)))
            .collect();
        let mut segments: Vec<Arc<Segment>> = merged.map(Arc::new).into_iter().collect();
        let mut separate = 0;
        for doc in docs {
            if covered.contains(&(doc.id.clone(), doc.version)) {
                continue;
            }
            if let Some(segment) = self
                .load_segment(&keys::segment_blob(user, &doc.id, doc.version))
                .await?
            {
                segments.push(segment);
                separate += 1;
            }
        }
        if separate >= COMPACT_AFTER {
            let live: std::collections::HashSet<(String, u64)> =
                docs.iter().map(|d| (d.id.clone(), d.version)).collect();
            let covered: HashSet<String> = live.iter().map(|(id, _)| id.clone()).collect();
            let (table, blobs, parts) = (self.table.clone(), self.blobs.clone(), segments.clone());
            let model = self.embedding_model().map(str::to_owned);
            tokio::spawn(async move {
                let merged = tokio::task::spawn_blocking(move || {
                    let owned: Vec<Segment> = parts.iter().map(|s| (**s).clone()).collect();
                    let keep = |d: &str, v: u64| live.contains(&(d.to_owned(), v));
                    Segment::merge_keeping(&owned, keep, model.as_deref()).to_bytes()
                })
                .await;
                let Ok(bytes) = merged else { return };
                if let Err(e) = blobs
                    .put(&merged_key, Bytes::from(bytes), "application/octet-stream")
                    .await
                {
                    tracing::warn!(error = %e, "could not write the merged segment");
                    return;
                }
                if let Err(e) =
                    discard_merged_if_stale(table.as_ref(), blobs.as_ref(), user, &covered).await
                {
                    tracing::warn!(error = %e, "could not check the merged segment");
                }
            });
        }
        let set = tokio::task::spawn_blocking(move || Arc::new(SegmentSet::new(segments)))
            .await
            .map_err(|e| anyhow::anyhow!("index task failed: {e}"))?;
        let mut sets = self.sets.lock().expect("sets lock");
        if sets.len() >= SET_CACHE_CAPACITY {
            sets.clear();
        }
        sets.insert(user, (key, set.clone()));
        Ok(set)
    }

    /// Ranks the chunks of the user's ready documents (of `scope` when given) for `query`;
    /// BM25 statistics are merged across the documents' segments at query time, and with
    /// embeddings configured the BM25 ranking is fused with the query-embedding similarity.
    pub async fn search(
        &self,
        user: UserId,
        scope: Option<&HashSet<String>>,
        query: &str,
        k: usize,
    ) -> CorpusResult<Vec<SearchHit>> {
        // The set covers every ready document (so one cached set serves every profile); the
        // scope selects documents within it, statistics included.
        let ready: Vec<Document> = self
            .all(user)
            .await?
            .into_iter()
            .filter(|d| d.status == DocumentStatus::Ready)
            .collect();
        let docs: Vec<Document> = ready
            .iter()
            .filter(|d| scope.is_none_or(|s| s.contains(&d.id)))
            .cloned()
            .collect();
        if docs.is_empty() || query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let set = self.segment_set(user, &ready).await?;
        let model = self.embedding_model().unwrap_or_default().to_owned();
        // Only documents embedded with the configured model can use the question's embedding;
        // for the others the provider call would be cost and latency for nothing.
        let query_vector = if set.has_vectors(&model) {
            self.embed_query(user, query).await
        } else {
            None
        };
        let names: HashMap<&str, &str> = docs
            .iter()
            .map(|d| (d.id.as_str(), d.name.as_str()))
            .collect();
        let options = SearchOptions {
            k,
            doc_ids: Some(docs.iter().map(|d| d.id.clone()).collect()),
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
        Ok(hits
            .into_iter()
            .map(|h| SearchHit {
                document_name: names
                    .get(h.doc_id.as_str())
                    .copied()
                    .unwrap_or(&h.title)
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
            .collect())
    }
}

/// Every document of the user, oldest first (all pages).
async fn all_documents(table: &dyn Table, user: UserId) -> CorpusResult<Vec<Document>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(user.partition())
                    .prefix(keys::DOCUMENT_PREFIX)
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            out.push(item.decode()?);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Closes the race between compaction and deletion: a compaction that started before a delete
/// can write the deleted document back into the merged segment after the delete dropped it.
/// Run after every merged-segment write: if a covered document is gone, the merged segment goes
/// too (the next search rebuilds it). Either this check sees the delete's metadata removal, or
/// the delete removes the merged segment after this write (it does that last). `Ok(true)` when
/// it was discarded.
async fn discard_merged_if_stale(
    table: &dyn Table,
    blobs: &dyn Blobs,
    user: UserId,
    covered: &HashSet<String>,
) -> CorpusResult<bool> {
    let existing: HashSet<String> = all_documents(table, user)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    if covered.iter().all(|id| existing.contains(id)) {
        return Ok(false);
    }
    blobs.delete(&keys::merged_segment_blob(user)).await?;
    Ok(true)
}

fn hash_item(pk: &str, hash: &str, doc_id: &str, version: u64) -> Item {
    Item::new(pk, keys::content_hash_sk(hash))
        .with("doc_id", doc_id)
        .with("version", version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ragenie_common::testing::{embedded_state, test_user};

    fn text(name: &str, body: &str) -> NewDocument {
        NewDocument {
            name: name.into(),
            kind: DocumentKind::Dataset,
            media_type: "text/markdown".into(),
            bytes: Bytes::from(body.to_owned()),
        }
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
        let covered: HashSet<String> = [kept.id.clone(), gone.id.clone()].into();
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
