//! HTTP plumbing every function shares: the JSON extractor that answers bad input with a clear
//! problem+json, body limits, the health route, and the layers that keep every error response
//! in problem+json form and give every request its id.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, PROBLEM_JSON, problem_response};
use crate::request_id;
use crate::state::AppState;

/// Axum's `Json<T>` whose rejections are problem+json naming the offending field: 415 for a
/// wrong content type, 413 for an oversize body, 400 for malformed JSON, 422 for wrong, missing
/// or unknown fields. It answers like axum's. Handlers take their body as `Json<T>` so that
/// the OpenAPI document's request body is read from the signature, not declared beside it.
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A 201 with `T` as JSON: what a handler that creates something answers. As a return type
/// (`ApiResult<Created<T>>`) it is also the route's documented success (see `#[route]`).
pub struct Created<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, axum::Json(self.0)).into_response()
    }
}

/// A 202 with `T` as JSON: the work is queued or under way, and `T` says how far it is.
pub struct Accepted<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Accepted<T> {
    fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, axum::Json(self.0)).into_response()
    }
}

/// A 204: done, nothing to return.
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        decode_json(&bytes).map(Json)
    }
}

pub(crate) fn body_rejection(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("the request body is over this endpoint's size limit".into())
    } else {
        ApiError::BadRequest(format!("could not read the request body: {e}"))
    }
}

/// Deserialises a request body, which is always a JSON object, naming the field at fault.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde fills a struct from an array of its fields in order, so `[null, null]` would be read
    // as an object with every optional field absent; every body of this API is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::validation("body", "expected a JSON object"));
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    integral_numbers_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest(format!("malformed JSON: {inner}"));
        }
        let message = inner.to_string();
        let path = e.path().to_string();
        let named = message
            .split('`')
            .nth(1)
            .filter(|_| message.contains("field `"));
        // serde reports a missing field against its parent object; an unknown one by its path.
        let field = match (path.as_str(), named) {
            (".", Some(name)) => name.to_owned(),
            (parent, Some(name)) if message.starts_with("missing field") => {
                format!("{parent}.{name}")
            }
            (".", None) => "body".to_owned(),
            (p, _) => p.to_owned(),
        };
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        ApiError::validation(field, message)
    })
}

/// JSON has one number type: `3.0` is the integer 3 (JSON Schema agrees), but serde refuses it
/// where an integer is expected. Integral numbers written with a fraction are read as integers.
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // 2^63 and 2^64: the ranges an i64 and a u64 hold exactly.
            if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                *value = Value::from(f as i64);
            } else if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                *value = Value::from(f as u64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
    }
}

/// Rewrites any error response that is not already JSON (framework rejections such as 405, or a
/// body-limit 413) into problem+json, so clients handle one error shape.
async fn problems_everywhere(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(PROBLEM_JSON) || ct.starts_with("application/json"));
    if is_json {
        return response;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "no such resource".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this resource".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is over this endpoint's size limit".to_owned()
        }
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let slug = status
        .canonical_reason()
        .unwrap_or("error")
        .to_lowercase()
        .replace(' ', "-");
    let mut fresh = problem_response(status, &slug, detail, None);
    if let Some(allow) = response.headers().get(header::ALLOW) {
        fresh.headers_mut().insert(header::ALLOW, allow.clone());
    }
    if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
        fresh
            .headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    fresh
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such resource".into())
}

async fn health(State((state, function)): State<(AppState, &'static str)>) -> Response {
    // A real round trip to the table: a function that cannot reach its store is not healthy.
    match state.table.get("HEALTH", "HEALTH").await {
        Ok(_) => Json(json!({"function": function, "status": "ok", "store": state.store_kind()}))
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check could not reach the store");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"function": function, "status": "unavailable", "store": state.store_kind()})),
            )
                .into_response()
        }
    }
}

/// The answers of the `GET /<function>/health` route [`function_router`] adds, for the
/// `responses(...)` of the function documenting it (its own JSON, never a problem).
#[derive(utoipa::IntoResponses)]
pub enum HealthAnswers {
    #[response(status = 200, description = "The function and its store are up")]
    Up,
    #[response(status = 503, description = "The store cannot be reached")]
    StoreUnreachable,
}

/// Wraps a function's routes with what every function has: `GET /<function>/health`, the JSON
/// body limit, tracing and problem+json errors. Fallbacks are left to whoever serves the router
/// ([`with_fallback`]), so the local server can merge every function's router into one.
pub fn function_router(
    function: &'static str,
    routes: Router<AppState>,
    state: AppState,
) -> Router {
    let health = Router::new()
        .route(&format!("/{function}/health"), get(health))
        .with_state((state.clone(), function));
    let routes = routes
        .layer(DefaultBodyLimit::max(state.settings.max_json_body))
        .with_state(state)
        .merge(health)
        .layer(CatchPanicLayer::custom(panicked))
        .layer(map_response(problems_everywhere))
        .layer(TraceLayer::new_for_http());
    observe(function, routes)
}

/// A handler that panics answers a 500 problem like any unexpected error, instead of the
/// connection closing without an answer. The panic's message goes to the error log inside the
/// request's span (with its request id), never to the client.
fn panicked(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    ApiError::Unexpected(anyhow::anyhow!("a request handler panicked: {message}")).into_response()
}

/// The observability layers of a function's router: a request id and `request` span around
/// everything (outermost), and the request count and duration by route template and status.
pub fn observe(function: &'static str, router: Router) -> Router {
    router
        .layer(from_fn_with_state(function, record_request))
        .layer(from_fn(request_id::assign))
}

/// Counts and times every request a function answers, by route template and status.
async fn record_request(
    State(function): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    let start = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    crate::metrics::http_request(
        function,
        route.as_deref().unwrap_or("unmatched"),
        method.as_str(),
        response.status().as_u16(),
        start.elapsed(),
    );
    response
}

/// Adds the problem+json 404 for unknown paths; call once on the router that is served.
pub fn with_fallback(router: Router) -> Router {
    router
        .fallback(not_found)
        .layer(map_response(problems_everywhere))
        .layer(from_fn(request_id::assign))
}

/// For `PATCH` bodies: a field that may be absent but not `null` (it has no "unset" meaning);
/// use with `#[serde(default, deserialize_with = "not_null")]`.
pub fn not_null<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    de: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(de).map(Some)
}

/// For `PATCH` bodies: distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`); use with `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    de: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(de).map(Some)
}
