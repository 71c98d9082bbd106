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

    fn mac(&self, grant: &Grant<'_>) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        let Grant {
            method,
            key,
            expires,
            content_type,
            content_length,
        } = grant;
        mac.update(
            format!("{method}\n{key}\n{expires}\n{content_type}\n{content_length}").as_bytes(),
        );
        mac
    }

    pub fn sign(&self, grant: &Grant<'_>) -> String {
        hex::encode(self.mac(grant).finalize().into_bytes())
    }

    /// Constant-time check of a signature.
    pub fn verify(&self, grant: &Grant<'_>, signature: &str) -> bool {
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        self.mac(grant).verify_slice(&sig).is_ok()
    }
}

/// What a local presigned URL allows: one method on one key until `expires`; a PUT only of
/// `content_type` and exactly `content_length` bytes (0 for a GET).
pub struct Grant<'a> {
    pub method: &'a str,
    pub key: &'a str,
    pub expires: i64,
    pub content_type: &'a str,
    pub content_length: u64,
}

impl EmbeddedBlobs {
    pub(super) fn presigned_url(&self, request: PresignRequest<'_>) -> StoreResult<PresignedUrl> {
        validate_blob_key(request.key)?;
        let expires_at = request.expires_at();
        let PresignRequest {
            method,
            key,
            content_type,
            content_length,
            ..
        } = request;
        let sig = self.signer.sign(&Grant {
            method: method.as_str(),
            key,
            expires: expires_at,
            content_type,
            content_length,
        });
        let mut url =
            url::Url::parse(&format!("{}/_blobs/{key}", self.public_url)).map_err(unexpected)?;
        url.query_pairs_mut()
            .append_pair("method", method.as_str())
            .append_pair("expires", &expires_at.to_string())
            .append_pair("content_type", content_type);
        if method == PresignMethod::Put {
            url.query_pairs_mut()
                .append_pair("content_length", &content_length.to_string());
        }
        url.query_pairs_mut().append_pair("signature", &sig);
        // As S3's URL does: the headers the PUT must carry, its length among them.
        let headers = if method == PresignMethod::Put {
            vec![
                ("content-type".into(), content_type.into()),
                ("content-length".into(), content_length.to_string()),
            ]
        } else {
            vec![]
        };
        Ok(PresignedUrl {
            url: url.into(),
            method: method.as_str().into(),
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
    #[serde(default)]
    content_length: u64,
    signature: String,
}

pub(super) fn check_signature(
    blobs: &EmbeddedBlobs,
    method: &str,
    key: &str,
    p: &SignedParams,
) -> Result<(), ApiError> {
    let grant = Grant {
        method,
        key,
        expires: p.expires,
        content_type: &p.content_type,
        content_length: p.content_length,
    };
    if p.method != method || !blobs.signer.verify(&grant, &p.signature) {
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
        // A download, never a page of this origin: an uploaded HTML or SVG file must not run
        // here (attachment), nor be sniffed into something that would (nosniff).
        Some(blob) => Ok((
            [
                (header::CONTENT_TYPE, blob.meta.content_type),
                (header::ETAG, format!("\"{}\"", blob.meta.etag)),
                (header::CONTENT_DISPOSITION, attachment(&key)),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
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
    body: Body,
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
    // As S3 does with a signed Content-Length: a body of another size is refused before it is
    // read, and no more than the signed length is ever read.
    let sent_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| ApiError::BadRequest("send the body with a Content-Length".into()))?;
    if sent_length != p.content_length {
        return Err(ApiError::Forbidden(format!(
            "Content-Length {sent_length} differs from the signed {}",
            p.content_length
        )));
    }
    let limit = usize::try_from(p.content_length)
        .unwrap_or(usize::MAX)
        .min(MAX_PRESIGNED_PUT_BYTES);
    let body = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(format!("more than {limit} bytes")))?;
    if body.len() as u64 != p.content_length {
        return Err(ApiError::BadRequest(format!(
            "{} bytes arrived of the {} signed",
            body.len(),
            p.content_length
        )));
    }
    let meta = blobs.put(&key, body, &p.content_type).await?;
    Ok((
        StatusCode::OK,
        [(header::ETAG, format!("\"{}\"", meta.etag))],
    )
        .into_response())
}

/// `attachment; filename="…"` naming the key's last segment (blob keys are plain ASCII).
fn attachment(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or("download");
    format!("attachment; filename=\"{name}\"")
}

/// The routes that answer this store's presigned URLs; the local server mounts them.
pub fn presigned_routes(blobs: Arc<EmbeddedBlobs>) -> Router {
    Router::new()
        .route("/_blobs/{*key}", get(presigned_get).put(presigned_put))
        .layer(DefaultBodyLimit::max(MAX_PRESIGNED_PUT_BYTES))
        .with_state(blobs)
}
