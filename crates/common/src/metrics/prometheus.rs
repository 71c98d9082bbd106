//! The local server's output: a Prometheus recorder whose text `GET /metrics` serves, to
//! loopback callers only.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::ApiError;

/// Histogram buckets of every `_seconds` metric: 1 ms to 2 minutes (model answers are long).
const SECONDS_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as the process's metrics recorder (once; later calls return
/// the same handle). `None` when another recorder (EMF) is already installed.
pub fn install() -> Option<&'static PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Some(handle);
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
        .expect("non-empty buckets")
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        return HANDLE.get();
    }
    super::describe();
    let handle = HANDLE.get_or_init(|| handle);
    // Histogram samples wait in lock-free buffers until upkeep folds them into buckets; without
    // a scrape they would only grow.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                if let Some(h) = HANDLE.get() {
                    h.run_upkeep();
                }
            }
        });
    }
    Some(handle)
}

/// The installed recorder's handle, if the Prometheus output is on.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}

/// Who may read `/metrics`: a caller on this machine that no proxy forwarded (a reverse proxy
/// on the same host would otherwise make every remote caller look local).
///
/// This is the seam for admins: once accounts have roles, an authenticated admin is allowed
/// here too.
pub fn may_read(parts: &Parts) -> bool {
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|h| parts.headers.contains_key(*h));
    let loopback = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(addr)| addr.ip().is_loopback());
    loopback && !forwarded
}

/// `GET /metrics`: the Prometheus text exposition, or 403 for callers [`may_read`] refuses,
/// 503 when no Prometheus recorder is installed.
pub async fn serve(request: axum::extract::Request) -> Response {
    let (parts, _) = request.into_parts();
    if !may_read(&parts) {
        return ApiError::Forbidden("metrics are readable from this machine only".into())
            .into_response();
    }
    let Some(handle) = handle() else {
        return ApiError::Unavailable("metrics are not enabled in this process".into())
            .into_response();
    };
    handle.run_upkeep();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
