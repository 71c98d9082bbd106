//! Presigned S3 PUT and GET URLs. A PUT URL signs `Content-Length` (it is one of the URL's
//! `X-Amz-SignedHeaders`), so S3 refuses a body of any other size: the signature it computes
//! from the request's actual length does not match.

use super::*;

impl S3Blobs {
    pub(super) async fn presigned_url(
        &self,
        request: PresignRequest<'_>,
    ) -> StoreResult<PresignedUrl> {
        let PresignRequest {
            method,
            key,
            content_type,
            content_length,
            expires_in,
        } = request;
        validate_blob_key(key)?;
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| StoreError::Invalid(format!("expiry: {e}")))?;
        let presign_error = |e: aws_sdk_s3::error::SdkError<_>| {
            StoreError::Unexpected(anyhow::Error::new(e).context("presigning"))
        };
        let request = match method {
            PresignMethod::Put => {
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .content_type(content_type)
                    .content_length(i64::try_from(content_length).map_err(|_| {
                        StoreError::Invalid(format!("content length {content_length}"))
                    })?)
                    .presigned(config)
                    .await
                    .map_err(presign_error)?
            }
            PresignMethod::Get => self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .presigned(config)
                .await
                .map_err(|e| StoreError::Unexpected(anyhow::Error::new(e).context("presigning")))?,
        };
        Ok(PresignedUrl {
            url: request.uri().to_owned(),
            method: request.method().to_owned(),
            headers: request
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            expires_at: clock::unix_now() + expires_in.as_secs() as i64,
        })
    }
}
