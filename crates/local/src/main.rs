//! `ragenie-server`: RaGenie on 127.0.0.1 (port `RAGENIE_PORT`, data in `RAGENIE_DATA_DIR`).

use anyhow::Context;
use ragenie_common::config::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ragenie_common::telemetry::init();
    // Metrics are recorded from here on and served at GET /metrics.
    ragenie_common::metrics::prometheus::install();
    let settings = Settings::from_env()?;
    let port = Settings::port_from_env()?;
    let frontend = std::env::var_os("RAGENIE_FRONTEND_DIR")
        .map(Into::into)
        .unwrap_or_else(|| "frontend/dist".into());
    let state = ragenie_local::connect(settings).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| {
            format!("binding 127.0.0.1:{port} (set RAGENIE_PORT to use another port)")
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(
        store = state.app.store_kind(),
        "RaGenie listening on http://{addr}"
    );
    let app = ragenie_local::app(state, Some(frontend));
    // Streamed answers are many small writes: without TCP_NODELAY, Nagle's algorithm and the
    // client's delayed ACK hold the first events back by ~40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    // Peer addresses let login throttling count by client when no proxy sets X-Forwarded-For.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
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
