//! Large uploads: a presigned PUT straight to the blob store, then a commit that checks the
//! bytes and ingests them like a direct upload.
//!
//! The size is held three times: the PUT URL signs the announced length (the store refuses any
//! other body), the commit reads the object's size with a HEAD and refuses an object over the
//! limit or of another size before reading a byte, and the read itself stops one byte past the
//! announced size. Uploads never committed expire with the bucket's lifecycle rule on
//! `uploads/` after a day.

use super::*;

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
        let blob = match self.blobs.get_at_most(&blob_key, head.size).await {
            Ok(Some(blob)) => blob,
            Ok(None) => {
                return Err(CorpusError::Invalid {
                    field: "upload",
                    message: "the upload disappeared; upload again".into(),
                });
            }
            // Replaced by a larger object since the HEAD.
            Err(StoreError::TooLarge { .. }) => {
                cleanup.await;
                return Err(CorpusError::Invalid {
                    field: "size",
                    message: "the upload changed while it was committed; upload again".into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        if blob.body.len() as i64 != expected {
            cleanup.await;
            return Err(size_mismatch(blob.body.len() as u64, expected));
        }
        let kind = DocumentKind::parse(record.str("kind").unwrap_or_default())
            .ok_or_else(|| anyhow::anyhow!("upload record without kind"))?;
        let new = NewDocument {
            name: record.str("name").unwrap_or_default().to_owned(),
            folder: folder.unwrap_or_else(|| record.str("folder").unwrap_or_default().to_owned()),
            kind,
            media_type: record.str("media_type").unwrap_or_default().to_owned(),
            bytes: blob.body,
        };
        let result = self.create(user, doc_id, new).await;
        // A transient failure keeps the upload, so the client's retry of the commit finishes it
        // without sending the bytes again.
        if !matches!(&result, Err(CorpusError::Store(e)) if e.is_transient()) {
            cleanup.await;
        }
        result
    }
}

fn size_mismatch(arrived: u64, announced: i64) -> CorpusError {
    CorpusError::Invalid {
        field: "size",
        message: format!("{arrived} bytes arrived but {announced} were announced; upload again"),
    }
}
