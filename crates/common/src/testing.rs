//! Test support for function crates (feature `test-support`): an embedded state in a temp dir
//! whose authenticator accepts `test:<user id>` bearer tokens, so router tests can act as any
//! number of users without the accounts flow.

use std::sync::Arc;

use async_trait::async_trait;

use crate::accounts::UserId;
use crate::auth::{AuthMethod, Authenticator, Principal};
use crate::config::Settings;
use crate::error::ApiError;
use crate::state::AppState;

/// Accepts `test:<ULID>` as the user with that id.
pub struct TestTokens;

#[async_trait]
impl Authenticator for TestTokens {
    async fn authenticate(&self, credential: &str) -> Result<Principal, ApiError> {
        let user_id = credential
            .strip_prefix("test:")
            .and_then(UserId::parse)
            .ok_or_else(|| ApiError::Unauthorized("not a test token".into()))?;
        Ok(Principal {
            user_id,
            method: AuthMethod::AccessToken,
        })
    }
}

/// A new user id and the bearer header value that authenticates as it.
pub fn test_user() -> (UserId, String) {
    let id = UserId::new();
    let bearer = format!("Bearer test:{id}");
    (id, bearer)
}

/// An embedded store in `dir` with [`TestTokens`] as authenticator; presigned URLs point at
/// `public_url`.
pub async fn embedded_state(dir: &std::path::Path, public_url: &str) -> AppState {
    let state = AppState::connect(Settings::embedded(dir, public_url))
        .await
        .expect("embedded state");
    state.with_authenticator(Arc::new(TestTokens))
}

/// A router served on a free 127.0.0.1 port for the length of a test, stopped when dropped.
/// Bind first (`TestServer::bind`) when the router needs its own address, e.g. for presigned
/// URLs; `TestServer::start` when it does not.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

/// A bound port waiting for its router.
pub struct TestListener {
    listener: tokio::net::TcpListener,
    pub base: String,
}

impl TestServer {
    pub async fn bind() -> TestListener {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        TestListener { listener, base }
    }

    pub async fn start(router: axum::Router) -> Self {
        Self::bind().await.serve(router)
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl TestListener {
    pub fn serve(self, router: axum::Router) -> TestServer {
        let listener = self.listener;
        let task = tokio::spawn(async move {
            // With the peer address, as the local server serves (client address, loopback checks).
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .expect("test server");
        });
        TestServer {
            base: self.base,
            task,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
