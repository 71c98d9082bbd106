//! Storing a document version and indexing it: upload, replace, extract → chunk → embed →
//! one immutable segment per version, and the status that ends `ready` or `failed` (inline or
//! by a queue's consumer, see `ingestion`).

use super::*;
use crate::metering::{EmbedFailure, refused_reason};
use ragenie_common::accounts::limits::Refusal;

impl Corpus {
    /// Embeds a new version's chunks into its segment for `user`, waiting at most `timeout`;
    /// returns the model when the vectors were attached. A provider failure leaves the version
    /// searchable by BM25 alone: an outage must not make uploads fail. A refusal of the meter
    /// (the user's quota is spent) is returned: the caller fails the document with its reason.
    pub(crate) async fn embed_chunks(
        &self,
        user: UserId,
        doc: &Document,
        indexed: &mut ragenie_retrieval::IndexedDocument,
        timeout: Duration,
    ) -> Result<Option<String>, Refusal> {
        let (doc_id, title) = (doc.id.as_str(), doc.name.as_str());
        let (segment, chunks) = (&mut indexed.segment, &indexed.chunks);
        let Some(embeddings) = self.embeddings.as_ref() else {
            return Ok(None);
        };
        if chunks.is_empty() {
            return Ok(None);
        }
        // The title and headings go with the text: a chunk's meaning often depends on them.
        let texts: Vec<String> = chunks
            .iter()
            .map(|c| ragenie_retrieval::chunk_embedding_text(title, c))
            .collect();
        let vectors = match self.embed_for(user, &texts, EMBED_BATCH, timeout).await {
            Ok(vectors) => vectors,
            Err(EmbedFailure::Refused(refusal)) => return Err(refusal),
            Err(EmbedFailure::Failed(e)) => {
                tracing::warn!(doc_id, error = %e, "chunks not embedded; the document ranks by BM25 alone");
                return Ok(None);
            }
        };
        match segment.attach_vectors(&embeddings.model, &vectors) {
            Ok(()) => Ok(Some(embeddings.model.clone())),
            Err(e) => {
                tracing::warn!(doc_id, error = %e, "embeddings unusable; the document ranks by BM25 alone");
                Ok(None)
            }
        }
    }

    /// Extracts, chunks and indexes `doc`'s current version from its bytes, on the blocking pool.
    pub(crate) async fn index(
        &self,
        doc: &Document,
        bytes: Bytes,
    ) -> CorpusResult<Result<ragenie_retrieval::IndexedDocument, ExtractError>> {
        let (id, version, name, media_type, chunking) = (
            doc.id.clone(),
            doc.version,
            doc.name.clone(),
            doc.media_type.clone(),
            self.chunking,
        );
        tokio::task::spawn_blocking(move || {
            ragenie_retrieval::index_document(&id, version, &name, &media_type, &bytes, &chunking)
        })
        .await
        .map_err(|e| anyhow::anyhow!("indexing task failed: {e}").into())
    }

    /// Stores a new document and indexes it. Identical content already stored by this user
    /// returns the existing document instead (`false`): one copy serves every profile.
    pub async fn upload(&self, user: UserId, new: NewDocument) -> CorpusResult<(Document, bool)> {
        let name = validate_name(&new.name)?;
        let folder = validate_folder(&new.folder)?;
        if new.bytes.is_empty() {
            return Err(CorpusError::Empty);
        }
        let media_type = resolve_media_type(&new.media_type, || {
            ragenie_retrieval::sniff_media_type(&name, &new.bytes)
        })?;
        let content = NewContent {
            hash: sha256_hex(&new.bytes),
            size: new.bytes.len() as u64,
            media_type,
            source: ContentSource::Bytes(new.bytes),
        };
        let doc_id = ulid::Ulid::new().to_string();
        self.store_new(user, &doc_id, name, folder, new.kind, content)
            .await
    }

    /// Stores a new document under `doc_id` from content already checked and hashed (a direct
    /// upload's bytes or a presigned upload's object) and starts its ingestion. Identical
    /// content already stored by this user returns the existing document instead (`false`).
    pub(crate) async fn store_new(
        &self,
        user: UserId,
        doc_id: &str,
        name: String,
        folder: String,
        kind: DocumentKind,
        content: NewContent,
    ) -> CorpusResult<(Document, bool)> {
        let NewContent {
            hash,
            size,
            media_type,
            source,
        } = content;
        if let Some(existing) = self.owner_of(user, &hash).await? {
            // A retry of an upload whose ingestion the store interrupted starts it again.
            if existing.content_hash == hash && existing.failed_for_a_moment() {
                let doc = self
                    .restart_ingest(user, existing, source.into_bytes())
                    .await?;
                return Ok((doc, true));
            }
            return Ok((existing, false));
        }
        if let Some(holder) = self.name_holder(user, &folder, &name).await? {
            return Err(name_taken(&folder, &name, &holder));
        }
        let doc_id = doc_id.to_owned();
        self.store_content(user, &hash, media_type, &source).await?;
        let stamp = clock::now();
        let doc = Document {
            id: doc_id.clone(),
            name,
            folder,
            kind,
            media_type: media_type.into(),
            size,
            content_hash: hash.clone(),
            token_count: None,
            version: 1,
            status: DocumentStatus::Pending,
            failure_reason: None,
            created_at: stamp,
            updated_at: stamp,
            embedding_model: None,
            reindex: None,
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
            TxOp::Put {
                item: claim_item(&pk, &doc.folder, &doc.name, &doc_id),
                condition: Condition::NotExists,
            },
            catalog::bump(&pk),
        ];
        match self.table.transact(ops).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => {
                // The same content won a race with us: hand back the winner.
                if let Some(existing) = self.owner_of(user, &hash).await? {
                    return Ok((existing, false));
                }
                // Or another document took the name in this folder meanwhile.
                if let Some(holder) = self.name_holder(user, &doc.folder, &doc.name).await? {
                    return Err(name_taken(&doc.folder, &doc.name, &holder));
                }
                return Err(CorpusError::Conflict(
                    "a concurrent upload conflicted; retry".into(),
                ));
            }
            Err(e) => {
                // A timeout may hide a write that landed: then go on and ingest it (else the
                // document would wait `pending` for a job nobody sent).
                let landed = self
                    .landed(&e, &pk, &keys::document_sk(&doc_id), &hash)
                    .await;
                if !landed {
                    self.forget_content(user, &hash).await;
                    return Err(e.into());
                }
            }
        }
        Ok((
            self.start_ingest(user, doc, source.into_bytes()).await?,
            true,
        ))
    }

    /// Puts a new document's bytes under their content key: the request's bytes, or a server
    /// side copy of a presigned upload's object while it still holds the bytes that were hashed.
    async fn store_content(
        &self,
        user: UserId,
        hash: &str,
        media_type: &str,
        source: &ContentSource,
    ) -> CorpusResult<()> {
        let key = keys::content_blob(user, hash);
        let stored = match source {
            ContentSource::Bytes(bytes) => self
                .blobs
                .put(&key, bytes.clone(), media_type)
                .await
                .map(|_| true),
            ContentSource::Stored { key: from, etag } => {
                self.blobs.copy(from, &key, media_type, Some(etag)).await
            }
        };
        match stored {
            Ok(true) => Ok(()),
            Ok(false) => Err(CorpusError::Invalid {
                field: "upload",
                message: "the upload disappeared; upload again".into(),
            }),
            // Replaced since it was read: its bytes are no longer the ones hashed.
            Err(StoreError::ConditionFailed) => Err(CorpusError::Invalid {
                field: "upload",
                message: "the upload changed while it was committed; upload again".into(),
            }),
            Err(e) => {
                // A timeout may have stored them all the same.
                self.forget_content(user, hash).await;
                Err(e.into())
            }
        }
    }

    /// The id of the document holding `name` in `folder`, if any.
    pub(crate) async fn name_holder(
        &self,
        user: UserId,
        folder: &str,
        name: &str,
    ) -> CorpusResult<Option<String>> {
        Ok(self
            .table
            .get(&user.partition(), &keys::name_claim_sk(folder, name))
            .await?
            .and_then(|item| item.str("doc_id").map(str::to_owned)))
    }

    /// Whether a write that failed with `error` landed all the same (a timeout): its item
    /// `pk`/`sk` is there with this content. Read back with retries.
    async fn landed(&self, error: &StoreError, pk: &str, sk: &str, hash: &str) -> bool {
        error.is_transient()
            && matches!(
                retry_transient(|| self.table.get(pk, sk)).await,
                Ok(Some(item)) if item.str("content_hash") == Some(hash)
            )
    }

    /// Removes stored bytes that no document version came to claim (the upload failed after
    /// storing them). Best effort: what stays is found by `fsck`, and a retried upload reuses it.
    async fn forget_content(&self, user: UserId, hash: &str) {
        let (pk, sk) = (user.partition(), keys::content_hash_sk(hash));
        let claimed = retry_transient(|| self.table.get(&pk, &sk)).await;
        if let Ok(None) = claimed {
            let key = keys::content_blob(user, hash);
            if let Err(e) = retry_transient(|| self.blobs.delete(&key)).await {
                tracing::warn!(error = %e, "unclaimed document bytes stay behind");
            }
        }
    }

    /// The document whose current or past version holds this content, if any.
    pub(crate) async fn owner_of(
        &self,
        user: UserId,
        hash: &str,
    ) -> CorpusResult<Option<Document>> {
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
    /// never left `pending` by bad input. Timed and counted by file type
    /// (`ragenie_ingestion_*`), in an `ingest` span.
    pub(crate) async fn ingest(
        &self,
        user: UserId,
        doc: Document,
        bytes: &Bytes,
    ) -> CorpusResult<Document> {
        use tracing::Instrument;
        let media_type = doc.media_type.clone();
        let span = tracing::info_span!(
            "ingest",
            file_type = ragenie_common::metrics::file_type(&media_type),
            bytes = bytes.len(),
        );
        let started = std::time::Instant::now();
        let result = self.ingest_inner(user, doc, bytes).instrument(span).await;
        let ok = matches!(&result, Ok(d) if d.status == DocumentStatus::Ready);
        ragenie_common::metrics::ingestion(&media_type, ok, started.elapsed());
        result
    }

    async fn ingest_inner(
        &self,
        user: UserId,
        mut doc: Document,
        bytes: &Bytes,
    ) -> CorpusResult<Document> {
        match self.index(&doc, bytes.clone()).await? {
            Ok(mut indexed) => {
                let timeout = self
                    .embeddings
                    .as_ref()
                    .map_or(Duration::ZERO, |e| e.ingest_timeout);
                match self.embed_chunks(user, &doc, &mut indexed, timeout).await {
                    Ok(model) => doc.embedding_model = model,
                    Err(refusal) => {
                        // No unbilled work: the document waits, failed with the reason, for a
                        // retry once the quota allows.
                        tracing::info!(doc_id = %doc.id, reason = %refusal, "embeddings refused");
                        doc.status = DocumentStatus::Failed;
                        doc.failure_reason = Some(refused_reason(&refusal));
                        doc.embedding_model = None;
                        doc.updated_at = clock::now();
                        self.write_status(user, &doc).await?;
                        return Ok(doc);
                    }
                }
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

    pub(crate) async fn write_status(&self, user: UserId, doc: &Document) -> CorpusResult<()> {
        let pk = user.partition();
        let status = serde_json::to_value(doc.status).map_err(anyhow::Error::from)?;
        let mut update = Update::new()
            .set("status", status.clone())
            .set("updated_at", doc.updated_at);
        update = match &doc.embedding_model {
            Some(model) => update.set("embedding_model", model.clone()),
            None => update.remove("embedding_model"),
        };
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
            // Waiting or being ingested (again): no reason, no count yet.
            (None, None) => {
                update = update.remove("failure_reason").remove("token_count");
                version_update = version_update.remove("failure_reason");
            }
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
                pk: pk.clone(),
                sk: keys::version_sk(&doc.id, doc.version),
                update: version_update,
                condition: Condition::Exists,
            },
            catalog::bump(&pk),
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
        let media_type = resolve_media_type(media_type, || {
            ragenie_retrieval::sniff_media_type(&current.name, &bytes)
        })?;
        let hash = sha256_hex(&bytes);
        if hash == current.content_hash {
            // A retry of a replace whose ingestion the store interrupted starts it again.
            if current.failed_for_a_moment() {
                return self.restart_ingest(user, current, Some(bytes)).await;
            }
            return Ok(current);
        }
        if let Some(owner) = self.owner_of(user, &hash).await? {
            return Err(CorpusError::Conflict(format!(
                "this content is already stored as document {} (`{}`)",
                owner.id, owner.name
            )));
        }
        if let Err(e) = self
            .blobs
            .put(&keys::content_blob(user, &hash), bytes.clone(), media_type)
            .await
        {
            self.forget_content(user, &hash).await;
            return Err(e.into());
        }
        let mut doc = current.clone();
        doc.version = current.version + 1;
        doc.media_type = media_type.into();
        doc.size = bytes.len() as u64;
        doc.content_hash = hash.clone();
        doc.status = DocumentStatus::Pending;
        doc.token_count = None;
        doc.failure_reason = None;
        doc.embedding_model = None;
        doc.reindex = None;
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
            catalog::bump(&pk),
        ];
        match self.table.transact(ops).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => {
                self.forget_content(user, &hash).await;
                return Err(CorpusError::Conflict(
                    "the document changed meanwhile; retry".into(),
                ));
            }
            // A timeout may hide a new version that landed: then ingest it.
            Err(e) => {
                let version_sk = keys::version_sk(doc_id, doc.version);
                if !self.landed(&e, &pk, &version_sk, &hash).await {
                    self.forget_content(user, &hash).await;
                    return Err(e.into());
                }
            }
        }
        self.start_ingest(user, doc, Some(bytes)).await
    }
}

/// A new document's content, checked and hashed, and where its bytes are.
pub(crate) struct NewContent {
    /// The SHA-256 of the bytes, hex: the content key and the dedupe key.
    pub hash: String,
    pub size: u64,
    pub media_type: &'static str,
    pub source: ContentSource,
}

pub(crate) enum ContentSource {
    /// Sent with the request.
    Bytes(Bytes),
    /// An object of the blob store whose bytes were hashed as they streamed past, while it had
    /// this ETag (a presigned upload): copied inside the store, never held in memory.
    Stored { key: String, etag: String },
}

impl ContentSource {
    /// The bytes when they are in memory; ingestion reads the stored copy otherwise.
    fn into_bytes(self) -> Option<Bytes> {
        match self {
            ContentSource::Bytes(bytes) => Some(bytes),
            ContentSource::Stored { .. } => None,
        }
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The media type to extract the bytes as: the declared one when RaGenie reads it, else the
/// guess `sniff` makes from the name and the bytes; 415 when neither is readable.
pub(crate) fn resolve_media_type(
    declared: &str,
    sniff: impl FnOnce() -> &'static str,
) -> CorpusResult<&'static str> {
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
        let sniffed = sniff();
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

pub(crate) fn failure_reason(e: &ExtractError) -> String {
    match e {
        ExtractError::Encrypted => "the file is encrypted; upload a decrypted copy".into(),
        other => other.to_string(),
    }
}

/// The item that reserves `name` in `folder` for a document.
pub(crate) fn claim_item(pk: &str, folder: &str, name: &str, doc_id: &str) -> Item {
    Item::new(pk, keys::name_claim_sk(folder, name)).with("doc_id", doc_id)
}

pub(crate) fn hash_item(pk: &str, hash: &str, doc_id: &str, version: u64) -> Item {
    Item::new(pk, keys::content_hash_sk(hash))
        .with("doc_id", doc_id)
        .with("version", version)
}
