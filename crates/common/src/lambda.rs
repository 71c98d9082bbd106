//! What every function's thin `main` calls: tracing, validated settings, clients, then the
//! Lambda runtime serving the function's router.

use axum::Router;

use crate::config::Settings;
use crate::http::with_fallback;
use crate::state::AppState;

/// Initialises everything a function needs (failing the cold start on bad configuration) and
/// returns its state.
pub async fn init() -> Result<AppState, lambda_http::Error> {
    crate::telemetry::init();
    let settings = Settings::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let state = AppState::connect(settings).await?;
    Ok(state)
}

/// Serves a buffered (JSON) function on Lambda.
pub async fn serve(router: impl FnOnce(AppState) -> Router) -> Result<(), lambda_http::Error> {
    let state = init().await?;
    lambda_http::run(with_fallback(router(state))).await
}

/// Serves a streaming function (Server-Sent Events) on Lambda through a Function URL in
/// RESPONSE_STREAM mode.
pub async fn serve_streaming(
    router: impl FnOnce(AppState) -> Router,
) -> Result<(), lambda_http::Error> {
    let state = init().await?;
    lambda_http::run_with_streaming_response(with_fallback(router(state))).await
}
