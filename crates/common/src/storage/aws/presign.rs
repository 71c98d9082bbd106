//! Presigned S3 PUT and GET URLs. A PUT URL signs `Content-Length` (it is one of the URL's
//! `X-Amz-SignedHeaders`), so S3 refuses a body of any other size: the signature it computes
//! from the request's actual length does not match.

use super::*;

impl S3Blobs {
    pub(super) async fn presigned_url(
        &self,
        request: PresignRequest<'_>,
    ) -> StoreResult<PresignedUrl> {
        validate_blob_key(request.key)?;
        let config = PresigningConfig::expires_in(request.expires_in)
            .map_err(|e| StoreError::Invalid(format!("expiry: {e}")))?;
        let presign_error = |e: aws_sdk_s3::error::SdkError<_>| {
            StoreError::Unexpected(anyhow::Error::new(e).context("presigning"))
        };
        let signed = match request.method {
            PresignMethod::Put => {
                let length = request.content_length;
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(request.key)
                    .content_type(request.content_type)
                    .content_length(
                        i64::try_from(length)
                            .map_err(|_| StoreError::Invalid(format!("content length {length}")))?,
                    )
                    .presigned(config)
                    .await
                    .map_err(presign_error)?
            }
            PresignMethod::Get => self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(request.key)
                .presigned(config)
                .await
                .map_err(|e| StoreError::Unexpected(anyhow::Error::new(e).context("presigning")))?,
        };
        Ok(PresignedUrl {
            url: signed.uri().to_owned(),
            method: signed.method().to_owned(),
            headers: signed
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            expires_at: request.expires_at(),
        })
    }
}
