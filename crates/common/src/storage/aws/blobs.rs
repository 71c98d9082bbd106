//! S3 behind the `Blobs` port.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};

use super::*;

/// The documents bucket.
#[derive(Clone)]
pub struct S3Blobs {
    pub(super) client: aws_sdk_s3::Client,
    pub(super) bucket: String,
}

pub(super) fn strip_quotes(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_owned()
}

impl S3Blobs {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        // Emulators serve every bucket under one host: path-style addressing there.
        let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .timeout_config(policy::timeout_config(policy::Service::S3))
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(conf),
            bucket: bucket.into(),
        }
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// GetObject of `key` (of a byte `range`, if any); `Ok(None)` when there is no such key.
    async fn get_object(
        &self,
        key: &str,
        range: Option<String>,
    ) -> Result<Option<GetObjectOutput>, SdkError<GetObjectError>> {
        let request = self.client.get_object().bucket(&self.bucket).key(key);
        match request.set_range(range).send().await {
            Ok(output) => Ok(Some(output)),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// An object's metadata as S3 answers it; an object stored without a type reads as bytes.
fn object_meta(key: &str, size: u64, content_type: Option<&str>, etag: Option<&str>) -> BlobMeta {
    BlobMeta {
        key: key.into(),
        size,
        content_type: content_type
            .unwrap_or("application/octet-stream")
            .to_owned(),
        etag: strip_quotes(etag),
    }
}

/// The body of an object stopped arriving part way: worth retrying.
fn body_interrupted(error: impl std::fmt::Display) -> StoreError {
    tracing::warn!(error = %error, "an object's bytes stopped arriving");
    StoreError::Unavailable("an object's bytes stopped arriving".into())
}

#[async_trait]
impl Blobs for S3Blobs {
    #[tracing::instrument(skip(self, body), level = "debug", fields(bytes = body.len()))]
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> StoreResult<BlobMeta> {
        validate_blob_key(key)?;
        let size = body.len() as u64;
        let output = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(sdk_error("writing an object"))?;
        Ok(BlobMeta {
            key: key.into(),
            size,
            content_type: content_type.into(),
            etag: strip_quotes(output.e_tag()),
        })
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        validate_blob_key(key)?;
        let found = self.get_object(key, None).await;
        let Some(output) = found.map_err(sdk_error("reading an object"))? else {
            return Ok(None);
        };
        let size = output.content_length().unwrap_or_default().max(0) as u64;
        let meta = object_meta(key, size, output.content_type(), output.e_tag());
        let body = output
            .body
            .collect()
            .await
            .map_err(body_interrupted)?
            .into_bytes();
        Ok(Some(Blob { meta, body }))
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn get_at_most(&self, key: &str, max_bytes: u64) -> StoreResult<Option<Blob>> {
        let Some(stream) = self.get_stream(key, max_bytes).await? else {
            return Ok(None);
        };
        let mut body = Vec::new();
        let mut chunks = stream.body;
        while let Some(chunk) = chunks.next().await {
            body.extend_from_slice(&chunk?);
        }
        Ok(Some(Blob {
            meta: BlobMeta {
                size: body.len() as u64,
                ..stream.meta
            },
            body: Bytes::from(body),
        }))
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn get_stream(&self, key: &str, max_bytes: u64) -> StoreResult<Option<BlobStream>> {
        validate_blob_key(key)?;
        // One byte past the limit tells "exactly the limit" from "more": S3 sends no more.
        let output = match self
            .get_object(key, Some(format!("bytes=0-{max_bytes}")))
            .await
        {
            Ok(Some(output)) => output,
            Ok(None) => return Ok(None),
            // An empty object has no byte 0: S3 answers 416 to any range.
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 416) =>
            {
                return Ok(self.get(key).await?.map(|blob| BlobStream {
                    meta: blob.meta,
                    body: futures::stream::once(async move { Ok(blob.body) }).boxed(),
                }));
            }
            Err(err) => return Err(sdk_error("reading an object")(err)),
        };
        // A ranged answer's Content-Range ends with the object's whole size.
        let size = output
            .content_range()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|total| total.parse().ok())
            .unwrap_or_else(|| output.content_length().unwrap_or_default().max(0) as u64);
        let meta = object_meta(key, size, output.content_type(), output.e_tag());
        let chunks = futures::stream::unfold(output.body, |mut body| async move {
            match body.try_next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), body)),
                Ok(None) => None,
                Err(e) => Some((Err(body_interrupted(e)), body)),
            }
        });
        Ok(Some(BlobStream {
            meta,
            body: at_most(chunks.boxed(), max_bytes),
        }))
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn copy_object(&self, request: CopyRequest<'_>) -> StoreResult<bool> {
        request.validate()?;
        // Keys hold only characters that need no escaping in a copy source.
        let copy = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(request.to)
            .copy_source(format!("{}/{}", self.bucket, request.from))
            .metadata_directive(MetadataDirective::Replace)
            .content_type(request.content_type)
            .set_copy_source_if_match(request.if_match.map(|etag| format!("\"{etag}\"")));
        match copy.send().await {
            Ok(_) => Ok(true),
            Err(err) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                let code = err.as_service_error().and_then(|e| e.code());
                if code == Some("NoSuchKey") || status == Some(404) {
                    Ok(false)
                } else if code == Some("PreconditionFailed") || status == Some(412) {
                    Err(StoreError::ConditionFailed)
                } else {
                    Err(sdk_error("copying an object")(err))
                }
            }
        }
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        validate_blob_key(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => {
                let size = o.content_length().unwrap_or_default().max(0) as u64;
                Ok(Some(object_meta(key, size, o.content_type(), o.e_tag())))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(sdk_error("reading an object's metadata")(err)),
        }
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn delete(&self, key: &str) -> StoreResult<()> {
        validate_blob_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk_error("deleting an object"))?;
        Ok(())
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk_error("listing objects"))?;
            for object in page.contents() {
                out.push(BlobMeta {
                    key: object.key().unwrap_or_default().to_owned(),
                    size: object.size().unwrap_or_default().max(0) as u64,
                    // S3 listings carry no content type; `head` has it.
                    content_type: String::new(),
                    etag: strip_quotes(object.e_tag()),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn presign(&self, request: PresignRequest<'_>) -> StoreResult<PresignedUrl> {
        self.presigned_url(request).await
    }
}
