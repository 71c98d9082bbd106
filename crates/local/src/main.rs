//! `ragenie-server`: RaGenie on 127.0.0.1 (port `RAGENIE_PORT`, data in `RAGENIE_DATA_DIR`;
//! another address only when `RAGENIE_BIND` names it).

use anyhow::Context;
use ragenie_common::config::Settings;

fn main() -> anyhow::Result<()> {
    // Before anything else: as an extraction child this process does its one job and exits.
    ragenie_extract::sandbox::init();
    serve()
}

#[tokio::main]
async fn serve() -> anyhow::Result<()> {
    ragenie_common::telemetry::init();
    // Metrics are recorded from here on and served at GET /metrics.
    ragenie_common::metrics::prometheus::install();
    let settings = Settings::from_env()?;
    let port = Settings::port_from_env()?;
    let frontend = std::env::var_os("RAGENIE_FRONTEND_DIR")
        .map(Into::into)
        .unwrap_or_else(|| "frontend/dist".into());
    let bind = ragenie_local::bind_address(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?;
    let grace = ragenie_local::shutdown_grace(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?;
    let state = ragenie_local::connect(settings).await?;
    ragenie_local::recover(&state).await?;
    let listener = tokio::net::TcpListener::bind((bind, port))
        .await
        .with_context(|| format!("binding {bind}:{port} (set RAGENIE_PORT to use another port)"))?;
    let addr = listener.local_addr()?;
    if !bind.is_loopback() {
        tracing::warn!(
            "listening on {addr}, reachable from other machines: this server speaks plain HTTP, \
             so put TLS in front of it (a reverse proxy) and set RAGENIE_PUBLIC_URL to the \
             address clients use"
        );
    }
    tracing::info!(
        store = state.app.store_kind(),
        "RaGenie listening on http://{addr}"
    );
    let app = ragenie_local::app(state, Some(frontend));
    ragenie_local::serve_and_drain(listener, app, shutdown(), grace).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
