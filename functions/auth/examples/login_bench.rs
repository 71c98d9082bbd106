//! Login latency: N sign-ins through the auth router on the embedded store (Argon2id with the
//! OWASP minimum parameters), as `scripts/bench.d/login.sh` runs it in a release build.
//! Usage: `login_bench [N] [OUT.json]`; prints a table and writes a flat JSON object.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use ragenie_common::AppState;
use ragenie_common::accounts::passwords::{ARGON2_ITERATIONS, ARGON2_LANES, ARGON2_MEMORY_KIB};
use ragenie_common::config::Settings;
use ragenie_common::http::with_fallback;
use serde_json::json;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple";

async fn post(
    router: &axum::Router,
    uri: &str,
    body: &serde_json::Value,
) -> (StatusCode, Duration) {
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let started = Instant::now();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    (status, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(50);
    let out = args
        .next()
        .unwrap_or_else(|| "target/bench/login.json".into());
    anyhow::ensure!(n >= 1, "N must be at least 1");

    let dir = tempfile::tempdir()?;
    let state = AppState::connect(Settings::embedded(dir.path(), "http://127.0.0.1:1")).await?;
    let router = with_fallback(ragenie_auth::router(state));
    let credentials = json!({"email": "bench@example.com", "password": PASSWORD});
    let (status, _) = post(&router, "/auth/register", &credentials).await;
    anyhow::ensure!(status == StatusCode::CREATED, "register answered {status}");
    // One warm-up sign-in (and the dummy hash of unknown accounts) before measuring.
    post(&router, "/auth/login", &credentials).await;
    post(
        &router,
        "/auth/login",
        &json!({"email": "nobody@example.com", "password": PASSWORD}),
    )
    .await;

    let mut known = Vec::with_capacity(n);
    for _ in 0..n {
        let (status, took) = post(&router, "/auth/login", &credentials).await;
        anyhow::ensure!(status == StatusCode::OK, "login answered {status}");
        known.push(took);
    }
    // Unknown accounts, for the no-enumeration comparison (fewer: they count towards throttling).
    let mut unknown = Vec::new();
    for i in 0..n.min(8) {
        let body = json!({"email": format!("nobody{i}@example.com"), "password": PASSWORD});
        let (status, took) = post(&router, "/auth/login", &body).await;
        anyhow::ensure!(
            status == StatusCode::UNAUTHORIZED,
            "unknown login answered {status}"
        );
        unknown.push(took);
    }
    known.sort();
    unknown.sort();
    let mean = known.iter().map(Duration::as_secs_f64).sum::<f64>() / n as f64 * 1000.0;
    let figures = json!({
        "logins": n,
        "p50_ms": percentile(&known, 50.0),
        "p95_ms": percentile(&known, 95.0),
        "mean_ms": mean,
        "min_ms": percentile(&known, 0.0),
        "max_ms": percentile(&known, 100.0),
        "unknown_email_p50_ms": percentile(&unknown, 50.0),
        "argon2": "argon2id",
        "argon2_memory_kib": ARGON2_MEMORY_KIB,
        "argon2_iterations": ARGON2_ITERATIONS,
        "argon2_lanes": ARGON2_LANES,
        "target_p50_ms": 250,
    });
    println!("login latency through the auth router (embedded store, release build)");
    println!(
        "  Argon2id m={ARGON2_MEMORY_KIB} KiB, t={ARGON2_ITERATIONS}, p={ARGON2_LANES}; {n} logins"
    );
    println!("  {:<22} {:>9}", "figure", "ms");
    for name in [
        "p50_ms",
        "p95_ms",
        "mean_ms",
        "min_ms",
        "max_ms",
        "unknown_email_p50_ms",
    ] {
        println!("  {:<22} {:>9.1}", name, figures[name].as_f64().unwrap());
    }
    if let Some(parent) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&figures)? + "\n")?;
    println!("  written to {out}");
    Ok(())
}
