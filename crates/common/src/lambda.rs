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
    lambda_http::run(with_emf_flush(with_fallback(router(state)))).await
}

/// Serves a streaming function (Server-Sent Events) on Lambda through a Function URL in
/// RESPONSE_STREAM mode.
pub async fn serve_streaming(
    router: impl FnOnce(AppState) -> Router,
) -> Result<(), lambda_http::Error> {
    let state = init().await?;
    lambda_http::run_with_streaming_response(with_emf_flush(with_fallback(router(state)))).await
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
