//! Local presigned URLs: HMAC-signed, expiring, answered by the routes the local server mounts.

use super::*;

/// HMAC-SHA256 signatures for local presigned URLs.
#[derive(Clone)]
pub struct UrlSigner {
    key: Arc<Vec<u8>>,
}

impl UrlSigner {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key: Arc::new(key) }
    }

    fn mac(&self, method: &str, key: &str, expires: i64, content_type: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(format!("{method}\n{key}\n{expires}\n{content_type}").as_bytes());
        mac
    }

    pub fn sign(&self, method: &str, key: &str, expires: i64, content_type: &str) -> String {
        hex::encode(
            self.mac(method, key, expires, content_type)
                .finalize()
                .into_bytes(),
        )
    }

    /// Constant-time check of a signature.
    pub fn verify(
        &self,
        method: &str,
        key: &str,
        expires: i64,
        content_type: &str,
        signature: &str,
    ) -> bool {
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        self.mac(method, key, expires, content_type)
            .verify_slice(&sig)
            .is_ok()
    }
}

impl EmbeddedBlobs {
    pub(super) fn presign(
        &self,
        method: &str,
        key: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> StoreResult<PresignedUrl> {
        validate_blob_key(key)?;
        let expires_at = clock::unix_now() + expires_in.as_secs() as i64;
        let sig = self.signer.sign(method, key, expires_at, content_type);
        let mut url =
            url::Url::parse(&format!("{}/_blobs/{key}", self.public_url)).map_err(unexpected)?;
        url.query_pairs_mut()
            .append_pair("method", method)
            .append_pair("expires", &expires_at.to_string())
            .append_pair("content_type", content_type)
            .append_pair("signature", &sig);
        let headers = if method == "PUT" {
            vec![("content-type".into(), content_type.into())]
        } else {
            vec![]
        };
        Ok(PresignedUrl {
            url: url.into(),
            method: method.into(),
            headers,
            expires_at,
        })
    }
}

#[derive(Deserialize)]
pub(super) struct SignedParams {
    method: String,
    expires: i64,
    #[serde(default)]
    content_type: String,
    signature: String,
}

pub(super) fn check_signature(
    blobs: &EmbeddedBlobs,
    method: &str,
    key: &str,
    p: &SignedParams,
) -> Result<(), ApiError> {
    if p.method != method
        || !blobs
            .signer
            .verify(method, key, p.expires, &p.content_type, &p.signature)
    {
        return Err(ApiError::Forbidden(
            "the URL's signature does not match".into(),
        ));
    }
    if p.expires <= clock::unix_now() {
        return Err(ApiError::Forbidden("the URL has expired".into()));
    }
    validate_blob_key(key).map_err(|_| ApiError::Forbidden("invalid object key".into()))
}

pub(super) async fn presigned_get(
    State(blobs): State<Arc<EmbeddedBlobs>>,
    UrlPath(key): UrlPath<String>,
    UrlQuery(p): UrlQuery<SignedParams>,
) -> Result<Response, ApiError> {
    check_signature(&blobs, "GET", &key, &p)?;
    match blobs.get(&key).await? {
        Some(blob) => Ok((
            [
                (header::CONTENT_TYPE, blob.meta.content_type),
                (header::ETAG, format!("\"{}\"", blob.meta.etag)),
            ],
            blob.body,
        )
            .into_response()),
        None => Err(ApiError::NotFound("no such object".into())),
    }
}

pub(super) async fn presigned_put(
    State(blobs): State<Arc<EmbeddedBlobs>>,
    UrlPath(key): UrlPath<String>,
    UrlQuery(p): UrlQuery<SignedParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_signature(&blobs, "PUT", &key, &p)?;
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if sent_type != p.content_type {
        return Err(ApiError::Forbidden(
            "Content-Type differs from the signed one".into(),
        ));
    }
    let meta = blobs.put(&key, body, &p.content_type).await?;
    Ok((
        StatusCode::OK,
        [(header::ETAG, format!("\"{}\"", meta.etag))],
    )
        .into_response())
}

/// The routes that answer this store's presigned URLs; the local server mounts them.
pub fn presigned_routes(blobs: Arc<EmbeddedBlobs>) -> Router {
    Router::new()
        .route("/_blobs/{*key}", get(presigned_get).put(presigned_put))
        .layer(DefaultBodyLimit::max(MAX_PRESIGNED_PUT_BYTES))
        .with_state(blobs)
}
