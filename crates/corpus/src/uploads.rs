//! Large uploads: a presigned PUT straight to the blob store, then a commit that checks the
//! bytes and ingests them like a direct upload.
//!
//! The size is held three times: the PUT URL signs the announced length (the store refuses any
//! other body), the commit reads the object's size with a HEAD and refuses an object over the
//! limit or of another size before reading a byte, and the read itself stops one byte past the
//! announced size. The commit streams the object once (hash, size, media type sniffed from its
//! start) and copies it to its content key inside the store, so its memory does not grow with
//! the upload; ingestion reads the stored copy. Uploads never committed expire with the bucket's lifecycle rule on
//! `uploads/` after a day.

use super::*;
use crate::ingest::{ContentSource, NewContent, resolve_media_type};
use ragenie_common::storage::ByteChunks;

impl Corpus {
    /// Starts a large upload: a presigned PUT the client sends the bytes to, then `commit`.
    pub async fn start_upload(
        &self,
        user: UserId,
        name: &str,
        folder: &str,
        kind: DocumentKind,
        media_type: &str,
        size: u64,
    ) -> CorpusResult<PendingUpload> {
        let name = validate_name(name)?;
        let folder = validate_folder(folder)?;
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
            .with("folder", folder)
            .with("kind", kind.as_str())
            .with("media_type", essence.clone())
            .with("size", size)
            .expires_at(expires);
        self.table.put(record, Condition::NotExists).await?;
        let upload = self
            .blobs
            .presign_put(
                &keys::upload_blob(user, &doc_id),
                &essence,
                size,
                UPLOAD_URL_TTL,
            )
            .await?;
        Ok(PendingUpload {
            document_id: doc_id,
            upload,
        })
    }

    /// Finishes a presigned upload: checks the bytes arrived whole, then stores and indexes them
    /// like a direct upload. A size mismatch is refused and nothing is kept. `folder`, when
    /// given, overrides the one the upload was started with.
    pub async fn commit_upload(
        &self,
        user: UserId,
        doc_id: &str,
        folder: Option<&str>,
    ) -> CorpusResult<(Document, bool)> {
        let folder = folder.map(validate_folder).transpose()?;
        let pk = user.partition();
        let record = self
            .table
            .get(&pk, &keys::upload_sk(doc_id))
            .await?
            .ok_or(CorpusError::NotFound)?;
        let blob_key = keys::upload_blob(user, doc_id);
        let Some(head) = self.blobs.head(&blob_key).await? else {
            return Err(CorpusError::Invalid {
                field: "upload",
                message: "nothing was uploaded to the URL yet".into(),
            });
        };
        let expected = record.i64("size").unwrap_or(-1);
        // The upload's bytes and record go once it is stored or refused; the record only after
        // the bytes, so what stays behind is still an upload the client can commit again.
        let upload_sk = keys::upload_sk(doc_id);
        let cleanup = async {
            match retry_transient(|| self.blobs.delete(&blob_key)).await {
                Ok(()) => {
                    let _ = retry_transient(|| self.table.delete(&pk, &upload_sk, Condition::None))
                        .await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "an upload's bytes stay until fsck or its retry")
                }
            }
        };
        if head.size > MAX_PRESIGNED_UPLOAD_BYTES {
            cleanup.await;
            return Err(CorpusError::TooLarge {
                size: head.size,
                limit: MAX_PRESIGNED_UPLOAD_BYTES,
            });
        }
        if head.size as i64 != expected {
            cleanup.await;
            return Err(size_mismatch(head.size, expected));
        }
        // One pass over the bytes as they stream: the hash, the count and the start the media
        // type is sniffed from. Then a copy inside the store: the body never sits in memory.
        let upload = match self.blobs.get_stream(&blob_key, head.size).await {
            Ok(Some(upload)) => upload,
            Ok(None) => {
                return Err(CorpusError::Invalid {
                    field: "upload",
                    message: "the upload disappeared; upload again".into(),
                });
            }
            Err(StoreError::TooLarge { .. }) => {
                cleanup.await;
                return Err(upload_changed());
            }
            Err(e) => return Err(e.into()),
        };
        let etag = upload.meta.etag;
        let read = match Digested::of(upload.body).await {
            Ok(read) => read,
            // Replaced by a larger object since the HEAD.
            Err(StoreError::TooLarge { .. }) => {
                cleanup.await;
                return Err(upload_changed());
            }
            Err(e) => return Err(e.into()),
        };
        if read.size as i64 != expected {
            cleanup.await;
            return Err(size_mismatch(read.size, expected));
        }
        let result = async {
            let name = validate_name(record.str("name").unwrap_or_default())?;
            let folder = match folder {
                Some(folder) => folder,
                None => validate_folder(record.str("folder").unwrap_or_default())?,
            };
            let kind = DocumentKind::parse(record.str("kind").unwrap_or_default())
                .ok_or_else(|| anyhow::anyhow!("upload record without kind"))?;
            let declared = record.str("media_type").unwrap_or_default();
            let media_type = resolve_media_type(declared, || read.sniffer.media_type(&name))?;
            let content = NewContent {
                hash: read.hash,
                size: read.size,
                media_type,
                source: ContentSource::Stored {
                    key: blob_key.clone(),
                    etag,
                },
            };
            self.store_new(user, doc_id, name, folder, kind, content)
                .await
        }
        .await;
        // A transient failure keeps the upload, so the client's retry of the commit finishes it
        // without sending the bytes again.
        if !matches!(&result, Err(CorpusError::Store(e)) if e.is_transient()) {
            cleanup.await;
        }
        result
    }
}

/// What one pass over an upload's bytes learns; only the sniffer's few KiB stay in memory.
struct Digested {
    hash: String,
    size: u64,
    sniffer: ragenie_retrieval::MediaSniffer,
}

impl Digested {
    async fn of(mut chunks: ByteChunks) -> Result<Self, StoreError> {
        use futures::StreamExt;
        use sha2::Digest as _;
        let (mut hasher, mut size) = (Sha256::new(), 0u64);
        let mut sniffer = ragenie_retrieval::MediaSniffer::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            sniffer.feed(&chunk);
            size += chunk.len() as u64;
        }
        Ok(Self {
            hash: hex::encode(hasher.finalize()),
            size,
            sniffer,
        })
    }
}

fn upload_changed() -> CorpusError {
    CorpusError::Invalid {
        field: "size",
        message: "the upload changed while it was committed; upload again".into(),
    }
}

fn size_mismatch(arrived: u64, announced: i64) -> CorpusError {
    CorpusError::Invalid {
        field: "size",
        message: format!("{arrived} bytes arrived but {announced} were announced; upload again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ragenie_common::storage::LocalQueue;
    use ragenie_common::storage::counting::CountingBlobs;
    use ragenie_common::storage::faults::{Fault, Faults, FaultyBlobs, Op, Rule};
    use ragenie_common::testing::{embedded_state, test_user};
    use tokio::sync::mpsc::UnboundedReceiver;

    struct Fixture {
        corpus: Arc<Corpus>,
        /// The store under the wrappers: what a client's presigned PUT writes to.
        raw: Arc<dyn Blobs>,
        counting: Arc<CountingBlobs>,
        faults: Arc<Faults>,
        jobs: UnboundedReceiver<String>,
        _dir: tempfile::TempDir,
    }

    /// A corpus that queues ingestion (as on AWS and the local server), over a blob store that
    /// counts what passes through it and fails as told.
    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let faults = Faults::new();
        let counting = Arc::new(CountingBlobs::new(state.blobs.clone()));
        let blobs = Arc::new(FaultyBlobs::new(counting.clone(), faults.clone()));
        let (queue, jobs) = LocalQueue::new();
        let corpus = Corpus::new(state.table.clone(), blobs).with_queue(Arc::new(queue));
        Fixture {
            corpus: Arc::new(corpus),
            raw: state.blobs.clone(),
            counting,
            faults,
            jobs,
            _dir: dir,
        }
    }

    impl Fixture {
        /// Starts an upload of `bytes` and puts them where its URL points.
        async fn uploaded(&self, user: UserId, name: &str, bytes: &[u8]) -> String {
            let pending = self
                .corpus
                .start_upload(
                    user,
                    name,
                    "",
                    DocumentKind::Dataset,
                    "application/octet-stream",
                    bytes.len() as u64,
                )
                .await
                .unwrap();
            let key = keys::upload_blob(user, &pending.document_id);
            self.raw
                .put(
                    &key,
                    Bytes::from(bytes.to_vec()),
                    "application/octet-stream",
                )
                .await
                .unwrap();
            pending.document_id
        }

        /// Commits while the first `op` call of the commit waits, the client meanwhile
        /// PUTting `bytes` to the upload's URL.
        async fn commit_while(
            &self,
            user: UserId,
            id: &str,
            op: Op,
            bytes: Vec<u8>,
        ) -> CorpusResult<(Document, bool)> {
            let wait = Duration::from_millis(400);
            self.faults
                .add(Rule::on(&[op]).nth(1).fault(Fault::Delay(wait)));
            let commit = {
                let (corpus, id) = (self.corpus.clone(), id.to_owned());
                tokio::spawn(async move { corpus.commit_upload(user, &id, None).await })
            };
            while self.faults.injected().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            self.raw
                .put(
                    &keys::upload_blob(user, id),
                    Bytes::from(bytes),
                    "text/plain",
                )
                .await
                .unwrap();
            commit.await.unwrap()
        }

        async fn content_stored(&self, user: UserId, hash: &str) -> bool {
            let key = keys::content_blob(user, hash);
            self.raw.head(&key).await.unwrap().is_some()
        }

        async fn upload_left(&self, user: UserId, id: &str) -> (bool, bool) {
            let bytes = self.raw.head(&keys::upload_blob(user, id)).await.unwrap();
            let record = self
                .corpus
                .table
                .get(&user.partition(), &keys::upload_sk(id))
                .await
                .unwrap();
            (bytes.is_some(), record.is_some())
        }
    }

    /// Several MiB of text with no telling name: sniffed, hashed and counted from the stream.
    fn big_text() -> Vec<u8> {
        "Backups run nightly at 02:00 and are kept for thirty days. é\n"
            .repeat(60_000)
            .into_bytes()
    }

    #[tokio::test]
    async fn a_commit_streams_the_upload_and_copies_it_without_holding_its_bytes() {
        let mut f = fixture().await;
        let (user, _) = test_user();
        let body = big_text();
        assert!(body.len() > 3 << 20);
        let id = f.uploaded(user, "notes", &body).await;
        let before = f.counting.calls();
        let (doc, created) = f.corpus.commit_upload(user, &id, None).await.unwrap();
        let calls = f.counting.calls();
        assert!(created);
        assert_eq!(calls.bytes_read - before.bytes_read, body.len() as u64);
        assert_eq!(
            (calls.whole_reads, calls.puts, calls.copies - before.copies),
            (0, 0, 1),
            "streamed once and copied inside the store: {calls:?}"
        );
        assert!(
            calls.largest_buffer <= 64 * 1024,
            "at most a chunk at a time, not {} bytes",
            calls.largest_buffer
        );
        assert_eq!(
            (doc.id.as_str(), doc.size, doc.media_type.as_str()),
            (id.as_str(), body.len() as u64, "text/plain")
        );
        assert_eq!(doc.content_hash, crate::ingest::sha256_hex(&body));
        assert_eq!(doc.status, DocumentStatus::Pending);
        let stored = f
            .raw
            .get(&keys::content_blob(user, &doc.content_hash))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.body.as_ref(), body.as_slice());
        assert_eq!(stored.meta.content_type, "text/plain");
        assert_eq!(f.upload_left(user, &id).await, (false, false));
        // Ingestion reads the stored copy.
        let job = f.jobs.try_recv().unwrap();
        assert_eq!(
            f.corpus.handle_ingest_message(&job, 1, 3).await.unwrap(),
            IngestOutcome::Ready
        );
        assert_eq!(
            f.corpus
                .search(user, None, "backups nightly", 3)
                .await
                .unwrap()[0]
                .document_id,
            doc.id
        );
    }

    #[tokio::test]
    async fn committing_content_already_stored_returns_its_document_and_copies_nothing() {
        let f = fixture().await;
        let (user, _) = test_user();
        let body = b"# Backups\n\nThey run nightly.\n";
        let (first, _) = f
            .corpus
            .upload(
                user,
                NewDocument {
                    name: "a.md".into(),
                    folder: String::new(),
                    kind: DocumentKind::Dataset,
                    media_type: "text/markdown".into(),
                    bytes: Bytes::from_static(body),
                },
            )
            .await
            .unwrap();
        let id = f.uploaded(user, "b.md", body).await;
        let (doc, created) = f.corpus.commit_upload(user, &id, None).await.unwrap();
        assert_eq!((doc.id, created), (first.id, false));
        assert_eq!(f.counting.calls().copies, 0);
        assert_eq!(f.upload_left(user, &id).await, (false, false));
    }

    #[tokio::test]
    async fn an_upload_replaced_between_its_read_and_its_copy_is_refused_and_nothing_is_kept() {
        let f = fixture().await;
        let (user, _) = test_user();
        let body = big_text();
        let id = f.uploaded(user, "notes.txt", &body).await;
        // The copy waits; meanwhile the client PUTs other bytes of the same size to its URL.
        let mut other = body.clone();
        other[0] = b'#';
        let refused = f
            .commit_while(user, &id, Op::BlobCopy, other)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, CorpusError::Invalid { field: "upload", message } if message.contains("changed")),
            "{refused:?}"
        );
        let hash = crate::ingest::sha256_hex(&body);
        assert!(
            !f.content_stored(user, &hash).await,
            "no content stored under a hash it does not have"
        );
        assert!(matches!(
            f.corpus.get(user, &id).await,
            Err(CorpusError::NotFound)
        ));
        assert_eq!(f.upload_left(user, &id).await, (false, false));
    }

    #[tokio::test]
    async fn a_copy_failing_for_a_moment_keeps_the_upload_for_the_retry() {
        let f = fixture().await;
        let (user, _) = test_user();
        let body = big_text();
        let id = f.uploaded(user, "notes.txt", &body).await;
        f.faults.add(
            Rule::on(&[Op::BlobCopy])
                .nth(1)
                .fault(Fault::TimeoutAfterApplying),
        );
        let failed = f.corpus.commit_upload(user, &id, None).await.unwrap_err();
        assert!(
            matches!(&failed, CorpusError::Store(e) if e.is_transient()),
            "{failed:?}"
        );
        assert_eq!(f.upload_left(user, &id).await, (true, true));
        let hash = crate::ingest::sha256_hex(&body);
        assert!(
            !f.content_stored(user, &hash).await,
            "the copy that landed unclaimed is removed"
        );
        let (doc, created) = f.corpus.commit_upload(user, &id, None).await.unwrap();
        assert!(created);
        assert_eq!(doc.content_hash, hash);
        assert_eq!(f.upload_left(user, &id).await, (false, false));
    }

    #[tokio::test]
    async fn an_upload_that_grew_after_its_head_is_refused_when_read_and_removed() {
        let f = fixture().await;
        let (user, _) = test_user();
        let id = f.uploaded(user, "notes.txt", b"twelve bytes").await;
        // The read waits after the HEAD saw twelve bytes; meanwhile the object grows.
        let refused = f
            .commit_while(user, &id, Op::BlobGet, vec![b'a'; 100])
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, CorpusError::Invalid { field: "size", message } if message.contains("changed")),
            "{refused:?}"
        );
        assert!(
            f.counting.calls().bytes_read <= 12,
            "{:?}",
            f.counting.calls()
        );
        assert_eq!(f.upload_left(user, &id).await, (false, false));
    }
}
