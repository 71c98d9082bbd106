//! Objects as files, written whole and renamed into place.

use super::*;

/// Objects as files under `root/objects/<key>`, each written whole to a temporary file and
/// renamed into place, so a reader sees the old object or the new one, never half of one.
#[derive(Clone)]
pub struct EmbeddedBlobs {
    pub(super) root: PathBuf,
    pub(super) signer: UrlSigner,
    /// Where the local server answers `/_blobs/…`, e.g. `http://127.0.0.1:8080`.
    pub(super) public_url: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct StoredMeta {
    content_type: String,
    etag: String,
}

impl EmbeddedBlobs {
    pub fn open(root: &Path, signer: UrlSigner, public_url: &str) -> anyhow::Result<Self> {
        for dir in ["objects", "tmp"] {
            std::fs::create_dir_all(root.join(dir))
                .with_context(|| format!("creating {}", root.join(dir).display()))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            signer,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    pub(super) fn object_path(&self, key: &str) -> PathBuf {
        self.root.join("objects").join(key)
    }
}

/// File layout: 4-byte big-endian header length, the JSON header, then the body.
pub(super) fn encode_object(meta: &StoredMeta, body: &[u8]) -> Vec<u8> {
    let header = serde_json::to_vec(meta).expect("metadata serialises");
    let mut out = Vec::with_capacity(4 + header.len() + body.len());
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out
}

/// An object's file opened just past its header, with its metadata and body size; the open
/// handle keeps reading this version even if the key is replaced meanwhile (a rename).
fn open_object(path: &Path) -> StoreResult<Option<(std::fs::File, StoredMeta, u64)>> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unexpected(e)),
    };
    let total = file.metadata().map_err(unexpected)?.len();
    let mut len = [0u8; 4];
    file.read_exact(&mut len).map_err(unexpected)?;
    let header_len = u32::from_be_bytes(len) as usize;
    let mut header = vec![0; header_len];
    file.read_exact(&mut header).map_err(unexpected)?;
    let meta: StoredMeta = serde_json::from_slice(&header).map_err(unexpected)?;
    Ok(Some((file, meta, total - 4 - header_len as u64)))
}

fn blob_meta(key: &str, meta: StoredMeta, size: u64) -> BlobMeta {
    BlobMeta {
        key: key.into(),
        size,
        content_type: meta.content_type,
        etag: meta.etag,
    }
}

pub(super) fn read_object(
    path: &Path,
    key: &str,
    with_body: bool,
) -> StoreResult<Option<(BlobMeta, Bytes)>> {
    use std::io::Read;
    let Some((mut file, meta, size)) = open_object(path)? else {
        return Ok(None);
    };
    let body = if with_body {
        let mut body = Vec::with_capacity(size as usize);
        file.read_to_end(&mut body).map_err(unexpected)?;
        Bytes::from(body)
    } else {
        Bytes::new()
    };
    Ok(Some((blob_meta(key, meta, size), body)))
}

/// Bytes a streamed read hands over at a time.
const STREAM_CHUNK_BYTES: usize = 64 * 1024;

/// Writes a whole object to a temporary file, then renames it into place.
fn write_object(
    root: &Path,
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> StoreResult<()> {
    let tmp = root.join("tmp").join(ulid::Ulid::new().to_string());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|_| StoreError::Invalid("blob key clashes with an existing object".into()))?;
    }
    let written = std::fs::File::create(&tmp).and_then(|mut file| write(&mut file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(unexpected(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        if path.is_dir() {
            StoreError::Invalid("blob key clashes with an existing prefix".into())
        } else {
            unexpected(e)
        }
    })
}

pub(super) fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, base, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push(
                rel.to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/"),
            );
        }
    }
    Ok(())
}

#[async_trait]
impl Blobs for EmbeddedBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> StoreResult<BlobMeta> {
        validate_blob_key(key)?;
        let etag = hex::encode(&Sha256::digest(&body)[..16]);
        let meta = StoredMeta {
            content_type: content_type.into(),
            etag: etag.clone(),
        };
        let (root, path) = (self.root.clone(), self.object_path(key));
        let size = body.len() as u64;
        tokio::task::spawn_blocking(move || {
            write_object(&root, &path, |file| {
                std::io::Write::write_all(file, &encode_object(&meta, &body))
            })
        })
        .await
        .map_err(unexpected)??;
        Ok(BlobMeta {
            key: key.into(),
            size,
            content_type: content_type.into(),
            etag,
        })
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        validate_blob_key(key)?;
        let (path, key) = (self.object_path(key), key.to_owned());
        let found = tokio::task::spawn_blocking(move || read_object(&path, &key, true))
            .await
            .map_err(unexpected)??;
        Ok(found.map(|(meta, body)| Blob { meta, body }))
    }

    async fn get_at_most(&self, key: &str, max_bytes: u64) -> StoreResult<Option<Blob>> {
        // The size is in the file's length: check it before reading the body.
        match self.head(key).await? {
            None => Ok(None),
            Some(meta) if meta.size > max_bytes => Err(StoreError::TooLarge { limit: max_bytes }),
            Some(_) => match self.get(key).await? {
                Some(blob) if blob.body.len() as u64 > max_bytes => {
                    Err(StoreError::TooLarge { limit: max_bytes })
                }
                found => Ok(found),
            },
        }
    }

    async fn get_stream(&self, key: &str, max_bytes: u64) -> StoreResult<Option<BlobStream>> {
        validate_blob_key(key)?;
        let path = self.object_path(key);
        let Some((file, meta, size)) = tokio::task::spawn_blocking(move || open_object(&path))
            .await
            .map_err(unexpected)??
        else {
            return Ok(None);
        };
        // The size is in the file's length: refuse before reading the body.
        if size > max_bytes {
            return Err(StoreError::TooLarge { limit: max_bytes });
        }
        let file = tokio::fs::File::from_std(file);
        let chunks = futures::stream::unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt;
            let mut chunk = bytes::BytesMut::with_capacity(STREAM_CHUNK_BYTES);
            match file.read_buf(&mut chunk).await {
                Ok(0) => None,
                Ok(_) => Some((Ok(chunk.freeze()), file)),
                Err(e) => Some((Err(unexpected(e)), file)),
            }
        });
        Ok(Some(BlobStream {
            meta: blob_meta(key, meta, size),
            body: at_most(chunks.boxed(), max_bytes),
        }))
    }

    async fn copy_object(&self, request: CopyRequest<'_>) -> StoreResult<bool> {
        request.validate()?;
        let (root, source, target) = (
            self.root.clone(),
            self.object_path(request.from),
            self.object_path(request.to),
        );
        let content_type = request.content_type.to_owned();
        let if_match = request.if_match.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let Some((mut file, meta, _)) = open_object(&source)? else {
                return Ok(false);
            };
            if if_match.is_some_and(|etag| etag != meta.etag) {
                return Err(StoreError::ConditionFailed);
            }
            // The header carries the content type: a new file with the body copied from the
            // handle opened above (the kernel copies it, nothing is held in memory).
            let meta = StoredMeta {
                content_type,
                etag: meta.etag,
            };
            write_object(&root, &target, |out| {
                std::io::Write::write_all(out, &encode_object(&meta, &[]))?;
                std::io::copy(&mut file, out).map(|_| ())
            })?;
            Ok(true)
        })
        .await
        .map_err(unexpected)?
    }

    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        validate_blob_key(key)?;
        let (path, key) = (self.object_path(key), key.to_owned());
        let found = tokio::task::spawn_blocking(move || read_object(&path, &key, false))
            .await
            .map_err(unexpected)??;
        Ok(found.map(|(meta, _)| meta))
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        validate_blob_key(key)?;
        match tokio::fs::remove_file(self.object_path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unexpected(e)),
        }
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        let base = self.root.join("objects");
        let prefix = prefix.to_owned();
        // Walk only the folder the prefix names, not the whole store.
        let start = match prefix.rfind('/') {
            Some(i) => {
                validate_blob_key(&prefix[..i])?;
                base.join(&prefix[..i])
            }
            None => base.clone(),
        };
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&start, &base, &mut keys).map_err(unexpected)?;
            keys.retain(|k| k.starts_with(&prefix));
            keys.sort();
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some((meta, _)) = read_object(&base.join(&key), &key, false)? {
                    out.push(meta);
                }
            }
            Ok(out)
        })
        .await
        .map_err(unexpected)?
    }

    async fn presign(&self, request: PresignRequest<'_>) -> StoreResult<PresignedUrl> {
        self.presigned_url(request)
    }
}
