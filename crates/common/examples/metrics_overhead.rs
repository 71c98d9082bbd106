//! What observability costs each request, in CPU time of the thread serving it (a
//! current-thread runtime, so all the work is on this thread), as `scripts/bench.d/
//! metrics-overhead.sh` runs it in a release build:
//!
//! * `layers_cpu_us`: a request through the observability layers (request id, `request` span,
//!   request count and duration by route and status) minus the same request without them;
//! * `record_cpu_us`: recording one request's metrics alone (a counter and a histogram);
//! * `emf_flush_cpu_us` (`emf` mode only): writing one request's metrics as EMF lines, as a
//!   Lambda does after each request (JSON, the dimensionless rollup, into memory, not stdout).
//!
//! No log subscriber is installed, so spans cost only their creation; log lines are extra.
//! Usage: `metrics_overhead prometheus|emf [N] [OUT.json]`.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::Request;
use axum::routing::get;
use ragenie_common::http::observe;
use ragenie_common::metrics;
use serde_json::json;
use tower::ServiceExt;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec the call fills.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

async fn handler(Path(id): Path<u32>) -> String {
    id.to_string()
}

fn router() -> Router {
    Router::new().route("/bench/items/{id}", get(handler))
}

/// CPU µs per request through `router`, best of 5 rounds of `n` (the least disturbed round on
/// a shared machine).
async fn per_request(router: &Router, n: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = thread_cpu();
        for i in 0..n {
            let request = Request::get(format!("/bench/items/{}", i % 100))
                .body(Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert!(response.status().is_success());
        }
        let us = (thread_cpu() - started).as_secs_f64() * 1e6 / n as f64;
        best = best.min(us);
    }
    best
}

fn record_only(n: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = thread_cpu();
        for i in 0..n {
            metrics::http_request(
                "bench",
                "/bench/items/{id}",
                "GET",
                if i % 10 == 0 { 404 } else { 200 },
                Duration::from_micros(250),
            );
        }
        best = best.min((thread_cpu() - started).as_secs_f64() * 1e6 / n as f64);
    }
    best
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "prometheus".into());
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let out = args.next();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _guard = runtime.enter();
    match mode.as_str() {
        "prometheus" => {
            metrics::prometheus::install().ok_or_else(|| anyhow::anyhow!("recorder"))?;
        }
        "emf" => {
            anyhow::ensure!(metrics::emf::install("Bench"), "recorder");
            metrics::emf::capture();
        }
        other => anyhow::bail!("unknown mode {other}; use prometheus or emf"),
    }
    let bare = router();
    let observed = observe("bench", router());
    let (bare_us, observed_us) = runtime.block_on(async {
        // Warm up both (allocator, registered series), then measure.
        per_request(&bare, n / 10).await;
        per_request(&observed, n / 10).await;
        (per_request(&bare, n).await, per_request(&observed, n).await)
    });
    let record_us = record_only(n);
    let mut figures = json!({
        "mode": mode,
        "requests": n,
        "bare_request_cpu_us": round(bare_us),
        "observed_request_cpu_us": round(observed_us),
        "layers_cpu_us": round((observed_us - bare_us).max(0.0)),
        "record_cpu_us": round(record_us),
        "target_cpu_us": 5.0,
    });
    if mode == "emf" {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let started = thread_cpu();
            for _ in 0..n / 10 {
                metrics::http_request(
                    "bench",
                    "/bench/items/{id}",
                    "GET",
                    200,
                    Duration::from_micros(250),
                );
                metrics::emf::flush();
            }
            best = best.min((thread_cpu() - started).as_secs_f64() * 1e6 / (n / 10) as f64);
            let lines = metrics::emf::take_captured();
            anyhow::ensure!(
                lines.contains("ragenie_http_requests_total"),
                "EMF lines written"
            );
        }
        figures["emf_flush_cpu_us"] = json!(round((best - record_us).max(0.0)));
    }
    println!("metrics overhead ({mode}, {n} requests, CPU time of the serving thread, best of 5)");
    for (k, v) in figures.as_object().unwrap() {
        println!("  {k:<26} {v}");
    }
    println!(
        "  (not covered: log lines — no subscriber is installed; the local server's /metrics render)"
    );
    if let Some(path) = out {
        std::fs::write(path, serde_json::to_string_pretty(&figures)? + "\n")?;
    }
    Ok(())
}

fn round(us: f64) -> f64 {
    (us * 100.0).round() / 100.0
}
