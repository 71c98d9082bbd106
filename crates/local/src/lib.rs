//! The local server: every function's router merged under one origin, the presigned-URL routes
//! of the embedded blob store, the built web app (or a placeholder page), `GET /health`
//! naming each function and its status, and `GET /metrics` (Prometheus text, loopback only).
//! On a shared machine it stays safe: it answers only
//! requests addressed to it by name (DNS rebinding), sends the same security headers CloudFront
//! adds on AWS, and listens on loopback unless `RAGENIE_BIND` says otherwise.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ragenie_common::AppState;
use ragenie_common::config::Settings;
use ragenie_common::error::ApiError;
use ragenie_common::storage::embedded::presigned_routes;
use ragenie_corpus::{ProviderState, ProviderUse};
use serde_json::{Map, Value, json};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// The Content-Security-Policy of the web app, here and on CloudFront (`infra/cdk` and
/// `template.yaml` carry the same string; a test keeps them equal). Scripts, styles, fonts and
/// connections only from the app's own origin; images only from it or `data:`/`blob:`, so a
/// Markdown answer cannot make the browser fetch `https://attacker/?q=<secrets>`; no plugins,
/// no framing, no `<base>` rewriting, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self'; \
font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-src 'none'; \
worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The other response headers both deployments send (HSTS only on AWS, which is HTTPS).
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// The address the local server listens on: `RAGENIE_BIND` (an IP address), loopback by
/// default. Anything else is an explicit choice; `main` warns that TLS belongs in front then.
pub fn bind_address(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<IpAddr> {
    match lookup("RAGENIE_BIND") {
        None => Ok(IpAddr::from([127, 0, 0, 1])),
        Some(raw) => raw.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "RAGENIE_BIND={raw:?} is not valid: expected an IP address such as 127.0.0.1 or 0.0.0.0"
            )
        }),
    }
}

/// Host names the server answers to: `localhost`, the host of `RAGENIE_PUBLIC_URL`, and any IP
/// literal (a rebinding attack needs a name the attacker controls; an address cannot be
/// re-pointed). A request without `Host` (HTTP/1.0, in-process tests) has no name to check.
#[derive(Clone, Debug)]
pub struct AllowedHosts {
    public_host: Option<String>,
}

impl AllowedHosts {
    pub fn from_public_url(public_url: &str) -> Self {
        let public_host = url::Url::parse(public_url).ok().and_then(|u| {
            u.host_str()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
        });
        Self { public_host }
    }

    pub fn allows(&self, host_header: &str) -> bool {
        let authority = host_header.trim();
        // `[::1]:8080`, `127.0.0.1:8080`, `name:8080`, or any of them without a port.
        let name = if let Some(rest) = authority.strip_prefix('[') {
            rest.split(']').next().unwrap_or_default()
        } else {
            authority.rsplit_once(':').map_or(authority, |(h, _)| h)
        }
        .trim_end_matches('.')
        .to_ascii_lowercase();
        name.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || self.public_host.as_deref() == Some(name.as_str())
    }
}

async fn check_host(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    if let Some(host) = request.headers().get(header::HOST) {
        let ok = host.to_str().is_ok_and(|h| allowed.allows(h));
        if !ok {
            tracing::warn!(host = ?host, "refused a request addressed to another host name");
            return ApiError::Forbidden(
                "this server does not answer to that host name; set RAGENIE_PUBLIC_URL to the \
                 address clients use"
                    .into(),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Host check outermost, then the security headers on every response (API and web app alike).
fn harden(router: Router, public_url: &str) -> Router {
    let mut router = router.layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    ));
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    router.layer(axum::middleware::from_fn_with_state(
        AllowedHosts::from_public_url(public_url),
        check_host,
    ))
}

type BuildRouter = fn(ProviderState) -> Router;

/// Every function, by the name its health route carries. The functions that call providers
/// share one state (one gateway, one corpus and its caches); the others take the app state.
pub const FUNCTIONS: [(&str, BuildRouter); 5] = [
    (ragenie_auth::FUNCTION, |s| ragenie_auth::router(s.app)),
    (ragenie_users::FUNCTION, |s| ragenie_users::router(s.app)),
    (ragenie_documents::FUNCTION, ragenie_documents::router),
    (ragenie_conversations::FUNCTION, |s| {
        ragenie_conversations::router(s.app)
    }),
    (ragenie_chat::FUNCTION, ragenie_chat::router),
];

/// The local server's state: the adapters the settings name, and the gateway and corpus built
/// once from the environment's provider keys and base URLs.
pub async fn connect(settings: Settings) -> anyhow::Result<ProviderState> {
    let app = AppState::connect(settings).await?;
    // Accounts from before the admin list's index get into it (idempotent; a data directory is
    // small enough to read whole at start). On AWS an admin runs `ragenie admin backfill-users`.
    ragenie_common::accounts::users::backfill_users_index(app.table.as_ref(), None, usize::MAX)
        .await
        .map_err(|e| anyhow::anyhow!("indexing older accounts for the admin list: {e}"))?;
    Ok(ProviderState::connect(app, ProviderUse::Chat).await?)
}

type BuildOpenApi = fn() -> utoipa::openapi::OpenApi;

/// Every function's OpenAPI document; `GET /openapi.json` serves them merged. A function that
/// documents its routes adds its `openapi` here.
pub const OPENAPI: [BuildOpenApi; 5] = [
    ragenie_auth::openapi,
    ragenie_users::openapi,
    ragenie_documents::openapi,
    ragenie_conversations::openapi,
    ragenie_chat::openapi,
];

/// The merged OpenAPI document of every function.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("RaGenie API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Chat with your documents. Errors are application/problem+json (RFC 9457).",
                ))
                .build(),
        )
        .build();
    for part in OPENAPI {
        doc.merge(part());
    }
    // What every function shares (problem schema, security, the statuses of the shared
    // extractors) is added once, to the merged document.
    utoipa::Modify::modify(&ragenie_common::openapi::Contract, &mut doc);
    doc
}

/// Paths that belong to the API: unknown ones get a problem+json 404, never the web app. The
/// web app's dev server proxies the same list to the API (`frontend/vite.config.ts` reads it).
static API_PREFIXES: LazyLock<Vec<String>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../api-prefixes.json"))
        .expect("crates/local/api-prefixes.json is a list of path prefixes")
});

#[derive(Clone)]
struct Health {
    functions: Vec<(&'static str, Router)>,
    store: &'static str,
}

async fn health(State(health): State<Health>) -> Response {
    let mut statuses = Map::new();
    let mut all_ok = true;
    for (name, router) in &health.functions {
        let request = Request::get(format!("/{name}/health"))
            .body(Body::empty())
            .expect("static request");
        let ok = match router.clone().oneshot(request).await {
            Ok(response) => response.status().is_success(),
            Err(never) => match never {},
        };
        all_ok &= ok;
        statuses.insert(
            (*name).into(),
            Value::from(if ok { "ok" } else { "unavailable" }),
        );
    }
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if all_ok { "ok" } else { "degraded" },
        "store": health.store,
        "version": env!("CARGO_PKG_VERSION"),
        "functions": statuses,
    });
    (status, Json(body)).into_response()
}

async fn placeholder() -> Html<&'static str> {
    Html(include_str!("placeholder.html"))
}

/// Serves the web app for page paths, problem+json 404s for API paths.
fn frontend(frontend_dir: Option<&Path>) -> Router {
    let spa: Router = match frontend_dir.filter(|d| d.join("index.html").is_file()) {
        Some(dir) => Router::new().fallback_service(
            ServeDir::new(dir)
                .append_index_html_on_directories(true)
                .fallback(ServeFile::new(dir.join("index.html"))),
        ),
        None => Router::new().fallback(get(placeholder)),
    };
    Router::new().fallback(move |uri: Uri, request: Request| {
        let spa = spa.clone();
        async move {
            let path = uri.path();
            let is_api = API_PREFIXES
                .iter()
                .any(|p| path == p || path.starts_with(&format!("{p}/")));
            if is_api {
                return ApiError::NotFound("no such resource".into()).into_response();
            }
            match spa.oneshot(request).await {
                Ok(response) => response.into_response(),
                Err(never) => match never {},
            }
        }
    })
}

/// The whole local application.
pub fn app(providers: ProviderState, frontend_dir: Option<PathBuf>) -> Router {
    let state = providers.app.clone();
    let functions: Vec<(&'static str, Router)> = FUNCTIONS
        .iter()
        .map(|(name, build)| (*name, build(providers.clone())))
        .collect();
    let mut router = Router::new();
    for (_, function) in &functions {
        router = router.merge(function.clone());
    }
    if let Some(blobs) = &state.local_blobs {
        router = router.merge(presigned_routes(blobs.clone()));
    }
    let health_state = Health {
        functions,
        store: state.store_kind(),
    };
    let document = Json(openapi());
    let public_url = state.settings.public_url.clone();
    let router = router
        .merge(
            Router::new()
                .route("/health", get(health))
                .with_state(health_state),
        )
        .route("/openapi.json", get(move || async move { document }))
        // Prometheus text for this process, to loopback callers only.
        .route("/metrics", get(ragenie_common::metrics::prometheus::serve))
        .merge(frontend(frontend_dir.as_deref()));
    harden(router, &public_url)
}

/// How long a stopping server lets requests in flight (streamed answers above all) finish:
/// `RAGENIE_SHUTDOWN_GRACE_SECS`, 0 to 600, default 10.
pub fn shutdown_grace(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Duration> {
    match lookup("RAGENIE_SHUTDOWN_GRACE_SECS") {
        None => Ok(Duration::from_secs(10)),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(secs) if secs <= 600 => Ok(Duration::from_secs(secs)),
            _ => anyhow::bail!(
                "RAGENIE_SHUTDOWN_GRACE_SECS={raw:?} is not valid: expected whole seconds, 0 to 600"
            ),
        },
    }
}

/// Once the grace period is over and the answers were interrupted, how long their clients get
/// to read the end of their streams before the process exits anyway.
const INTERRUPTED_STREAMS_GRACE: Duration = Duration::from_secs(5);

/// What a previous process left unfinished, put right before serving: answers it was streaming
/// are saved as `interrupted` (their quota and concurrency slots given back), documents it was
/// ingesting are ingested again.
pub async fn recover(state: &ProviderState) -> anyhow::Result<()> {
    let answers = ragenie_chat::recover_interrupted_answers(state).await?;
    if answers > 0 {
        tracing::warn!(
            answers,
            "the previous run stopped while answering: those answers were saved as interrupted"
        );
    }
    // Uploads whose ingestion was cut short are ingested again (every user's, page by page).
    let mut cursor = None;
    let mut documents = 0;
    loop {
        let (users, next) =
            ragenie_common::accounts::users::list_all(state.app.table.as_ref(), 100, cursor)
                .await?;
        for user in users {
            documents += state.corpus.resume_pending(user.id).await?;
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if documents > 0 {
        tracing::warn!(
            documents,
            "the previous run stopped while ingesting: those documents were ingested again"
        );
    }
    Ok(())
}

/// Serves until `signal` completes, then drains: no new connections, requests in flight get
/// `grace` to finish; answers still streaming after it are interrupted (saved as they stand,
/// their clients told with an `error` event and the stream's end) and given a few more
/// seconds to close. Returns when every connection is closed or that time is up.
pub async fn serve_and_drain(
    listener: tokio::net::TcpListener,
    app: Router,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = serve(listener, app, async move {
        signal.await;
        let _ = stopping.send(());
    });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        _ = stopped => {}
    }
    tracing::info!(
        grace_secs = grace.as_secs(),
        "stopping: requests in flight may finish"
    );
    if let Ok(result) = tokio::time::timeout(grace, &mut server).await {
        return result;
    }
    tracing::warn!("requests still in flight after the grace period: interrupting the answers");
    ragenie_chat::interrupt_answers();
    match tokio::time::timeout(INTERRUPTED_STREAMS_GRACE, &mut server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("connections still open: exiting anyway");
            Ok(())
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, as `ragenie-server` does (the
/// benchmarks serve the same way).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
    .with_graceful_shutdown(shutdown)
    .await
}
