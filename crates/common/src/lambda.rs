//! What every function's thin `main` calls: tracing, validated settings, clients, then the
//! Lambda runtime serving the function's router.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use futures::StreamExt;

use crate::config::Settings;
use crate::http::with_fallback;
use crate::state::AppState;

/// Initialises everything a function needs (failing the cold start on bad configuration) and
/// returns its state.
pub async fn init() -> Result<AppState, lambda_http::Error> {
    crate::telemetry::init();
    let namespace = std::env::var("RAGENIE_METRICS_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| crate::metrics::emf::DEFAULT_NAMESPACE.to_owned());
    crate::metrics::emf::install(&namespace);
    let settings = Settings::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let state = AppState::connect(settings).await?;
    Ok(state)
}

/// Serves a buffered (JSON) function on Lambda.
pub async fn serve(router: impl FnOnce(AppState) -> Router) -> Result<(), lambda_http::Error> {
    let state = init().await?;
    let app = wrap(router(state.clone()), &state).await?;
    lambda_http::run(app).await
}

/// Serves a streaming function (Server-Sent Events) on Lambda through a Function URL in
/// RESPONSE_STREAM mode.
pub async fn serve_streaming(
    router: impl FnOnce(AppState) -> Router,
) -> Result<(), lambda_http::Error> {
    let state = init().await?;
    let app = wrap(router(state.clone()), &state).await?;
    lambda_http::run_with_streaming_response(app).await
}

/// What every function's router is wrapped in on Lambda: problem+json for every error and
/// request ids ([`with_fallback`]), the CloudFront origin check when `RAGENIE_ORIGIN_SECRET_ID`
/// names its secret ([`crate::origin`]: a Function URL answers nothing that did not come
/// through CloudFront), and the EMF flush after each response.
pub async fn wrap(router: Router, state: &AppState) -> Result<Router, lambda_http::Error> {
    let mut app = with_fallback(router);
    let expected = crate::origin::expected_from_env(state.secrets.as_ref())
        .await
        .inspect_err(|e| tracing::error!(error = %e, "origin check not configured"))?;
    if let Some(expected) = expected {
        app = crate::origin::require_header(app, expected);
    }
    Ok(with_emf_flush(app))
}

/// Writes the metrics a request recorded as EMF lines once its response body is done (or
/// dropped): for a streamed answer that is after the last event, not when the head is sent.
pub fn with_emf_flush(router: Router) -> Router {
    router.layer(from_fn(flush_after_body))
}

struct FlushOnDrop;

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        crate::metrics::emf::flush();
    }
}

async fn flush_after_body(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let guard = FlushOnDrop;
    response.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _ = &guard;
            chunk
        }))
    })
}
