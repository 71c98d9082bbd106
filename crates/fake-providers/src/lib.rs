//! Fake OpenAI, Anthropic and Gemini servers for tests, local runs and benchmarks.
//!
//! Each speaks its provider's wire format (streamed and not) on 127.0.0.1, answers with a
//! deterministic scripted reply, reports usage, and injects failures on request: a magic
//! phrase `[[fake:…]]` in the last user message or an `x-fake-scenario` header (see
//! [`scenario`] for the directives). Start it in-process with [`spawn`] or as the
//! `fake-providers` binary.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use serde::Serialize;
use tokio::sync::oneshot;

mod anthropic;
mod embed;
mod gemini;
mod openai;
pub mod scenario;
mod wire;

/// How the fakes answer when a request does not say otherwise.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// 0 picks a free port.
    pub port: u16,
    /// Characters of reply text per streamed chunk.
    pub chunk_size: usize,
    /// Pause before each streamed chunk.
    pub chunk_delay: Duration,
    /// A fixed reply instead of the default echo-like one.
    pub reply: Option<String>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            port: 0,
            chunk_size: 12,
            chunk_delay: Duration::ZERO,
            reply: None,
        }
    }
}

/// Base URLs, in each official SDK's convention (OpenAI's includes `/v1`; Anthropic's and
/// Gemini's do not), so they can be given as is to the SDKs and to `RAGENIE_*_BASE_URL`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FakeUrls {
    pub openai: String,
    /// Same wire format as `openai`, but no API key required (like Ollama).
    pub openai_compatible: String,
    pub anthropic: String,
    pub gemini: String,
    pub base: String,
    pub port: u16,
}

impl FakeUrls {
    fn new(addr: SocketAddr) -> Self {
        let base = format!("http://{addr}");
        FakeUrls {
            openai: format!("{base}/openai/v1"),
            openai_compatible: format!("{base}/compat/v1"),
            anthropic: format!("{base}/anthropic"),
            gemini: format!("{base}/gemini"),
            port: addr.port(),
            base,
        }
    }

    /// The settings that point RaGenie's gateway at these fakes, with test keys: a lookup for
    /// `GatewayConfig::from_lookup` and `ProviderKeys::from_lookup`.
    pub fn env(&self, name: &str) -> Option<String> {
        match name {
            "RAGENIE_OPENAI_BASE_URL" => Some(self.openai.clone()),
            "RAGENIE_ANTHROPIC_BASE_URL" => Some(self.anthropic.clone()),
            "RAGENIE_GEMINI_BASE_URL" => Some(self.gemini.clone()),
            "OPENAI_API_KEY" | "ANTHROPIC_API_KEY" | "GEMINI_API_KEY" => Some("test-key".into()),
            _ => None,
        }
    }
}

/// A request as the fake received it (no headers: they hold keys).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordedRequest {
    pub provider: String,
    pub path: String,
    pub body: serde_json::Value,
}

const RECORDED: usize = 256;

pub(crate) struct State {
    pub config: FakeConfig,
    /// Failures served so far per request fingerprint, for "fail N times then succeed".
    pub failures: Mutex<HashMap<u64, u32>>,
    pub recorded: Mutex<VecDeque<RecordedRequest>>,
    pub counter: std::sync::atomic::AtomicU64,
    /// Fingerprints of Anthropic system prompts sent with `cache_control` (the prompt cache).
    pub prompt_cache: Mutex<std::collections::HashSet<u64>>,
    /// Streamed answers being written right now.
    pub active: std::sync::atomic::AtomicUsize,
}

/// Counts a streamed answer as active until its body is dropped (sent or abandoned).
pub(crate) struct ActiveGuard(Arc<State>);

impl ActiveGuard {
    pub fn new(state: &Arc<State>) -> Self {
        state
            .active
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ActiveGuard(state.clone())
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0
            .active
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl State {
    pub fn record(&self, provider: &str, path: &str, body: &serde_json::Value) {
        let mut r = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() == RECORDED {
            r.pop_front();
        }
        r.push_back(RecordedRequest {
            provider: provider.into(),
            path: path.into(),
            body: body.clone(),
        });
    }

    pub fn next_id(&self) -> u64 {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }
}

/// A running fake server; dropping it stops the server.
pub struct FakeHandle {
    pub addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeHandle {
    /// The most recent requests (oldest first), to check what a client sent.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Streamed answers still being written: drops to 0 when clients hang up.
    pub fn active_streams(&self) -> usize {
        self.state.active.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn clear_requests(&self) {
        self.state
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Stops accepting connections and waits (at most 5 s) for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for FakeHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The fake servers' routes on one router.
pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/_fake/requests", get(recorded))
        .route("/openai/v1/chat/completions", post(openai::chat_keyed))
        .route("/openai/v1/embeddings", post(openai::embeddings_keyed))
        .route("/compat/v1/chat/completions", post(openai::chat_open))
        .route("/compat/v1/embeddings", post(openai::embeddings_open))
        .route("/anthropic/v1/messages", post(anthropic::messages))
        .route("/gemini/{version}/models/{target}", post(gemini::models))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(state)
}

async fn recorded(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> axum::Json<Vec<RecordedRequest>> {
    axum::Json(
        state
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect(),
    )
}

/// Starts the fakes on 127.0.0.1 (`config.port`, 0 for any free port).
pub async fn spawn(config: FakeConfig) -> anyhow::Result<(FakeHandle, FakeUrls)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(State {
        config,
        failures: Mutex::new(HashMap::new()),
        recorded: Mutex::new(VecDeque::new()),
        counter: Default::default(),
        active: Default::default(),
        prompt_cache: Default::default(),
    });
    let app = router(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    // Small SSE frames must not wait for Nagle's algorithm (real providers flush each event).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "fake providers server failed");
        }
    });
    Ok((
        FakeHandle {
            addr,
            state,
            shutdown: Some(tx),
            task: Some(task),
        },
        FakeUrls::new(addr),
    ))
}
