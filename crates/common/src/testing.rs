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

/// A test's HTTP client: every request gives up after `timeout`, so a hung server fails the
/// test instead of hanging it.
pub fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client")
}

/// Sends a request a test expects to be answered and reads the answer, panicking on a
/// transport error or (for `json_answer`) a body that is not JSON. The status is not checked.
pub trait Answered {
    fn json_answer(self) -> impl std::future::Future<Output = serde_json::Value> + Send;
    fn text_answer(self) -> impl std::future::Future<Output = String> + Send;
}

impl Answered for reqwest::RequestBuilder {
    async fn json_answer(self) -> serde_json::Value {
        let response = self.send().await.expect("an answer");
        response.json().await.expect("a JSON body")
    }

    async fn text_answer(self) -> String {
        let response = self.send().await.expect("an answer");
        response.text().await.expect("a text body")
    }
}

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

/// Registers the deployment's first account (so an admin) and returns it with the bearer header
/// value that authenticates as it.
pub async fn first_admin(table: &dyn crate::storage::Table) -> (UserId, String) {
    let user = crate::accounts::operator::register(
        table,
        &crate::accounts::operator::OperatorDefaults::default(),
        "admin@example.com",
        "a long enough password for tests".into(),
        None,
    )
    .await
    .expect("the first account");
    (user.id, format!("Bearer test:{}", user.id))
}

/// An embedded store in `dir` with [`TestTokens`] as authenticator; presigned URLs point at
/// `public_url`.
pub async fn embedded_state(dir: &std::path::Path, public_url: &str) -> AppState {
    let state = AppState::connect(Settings::embedded(dir, public_url))
        .await
        .expect("embedded state");
    state.with_authenticator(Arc::new(TestTokens))
}

/// A response read whole: status, headers, and the body as text and as JSON (`Null` when it is
/// not JSON).
pub struct Resp {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: serde_json::Value,
    pub text: String,
}

impl Resp {
    pub async fn read(response: axum::response::Response) -> Resp {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the response body");
        Resp {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body's string field `name` (panics, with the body, when there is none).
    #[track_caller]
    pub fn str(&self, name: &str) -> String {
        self.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no string `{name}` in {}", self.text))
            .to_owned()
    }

    /// Asserts this status and returns the JSON body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        &self.body
    }

    /// Asserts a problem+json answer with this status, and returns its `field`.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Option<String> {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "{} {}",
            self.content_type(),
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        self.body["field"].as_str().map(str::to_owned)
    }
}

/// A request to send through a router: JSON when it has a body, with `Bearer <bearer>` when
/// given; `headers` are added last.
pub fn request(
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: Option<String>,
    headers: &[(&str, &str)],
) -> axum::http::Request<axum::body::Body> {
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .body(body.map_or_else(axum::body::Body::empty, axum::body::Body::from))
        .expect("a valid request")
}

/// Sends `request` through (a clone of) `router`, as Lambda or the local server would, and
/// reads the whole answer.
pub async fn oneshot(
    router: &axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> Resp {
    use tower::ServiceExt;
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("routers are infallible");
    Resp::read(response).await
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

/// An account with something of every kind, made through the public API of a server that
/// serves every function at `base`: a personal API key, a document (bytes, text, segment), a
/// pending presigned upload, a profile, a conversation with a question and its answer (the
/// built-in retrieval-only model, so usage is recorded too).
pub struct PopulatedAccount {
    pub user_id: String,
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub api_key: String,
}

pub async fn populated_account(base: &str) -> PopulatedAccount {
    use serde_json::{Value, json};
    let http = reqwest::Client::new();
    let email = format!("everything-{}@example.com", ulid::Ulid::new()).to_lowercase();
    let password = "a long and unusual passphrase".to_owned();
    let tokens: Value = http
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("tokens");
    let access_token = tokens["access_token"].as_str().expect("access").to_owned();
    let bearer = format!("Bearer {access_token}");
    let me: Value = http
        .get(format!("{base}/auth/me"))
        .header("authorization", &bearer)
        .json_answer()
        .await;
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .header("authorization", &bearer)
            .json(&body)
            .send()
    };
    let key: Value = post("/auth/api-keys", json!({"name": "script"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doc: Value = http
        .post(format!("{base}/documents"))
        .query(&[("kind", "dataset"), ("name", "notes.md")])
        .header("authorization", &bearer)
        .header("content-type", "text/markdown")
        .body("# Notes\n\nThe backup runs every night at two.\n")
        .json_answer()
        .await;
    // Where the server ingests in the background, wait until the document is ready.
    let doc = settled_document(&http, base, &bearer, doc["id"].as_str().expect("id")).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    let upload = post(
        "/documents/uploads",
        json!({"name": "big.md", "kind": "dataset", "media_type": "text/markdown", "size": 10}),
    )
    .await
    .unwrap();
    assert!(upload.status().is_success(), "{}", upload.status());
    let profile: Value = post(
        "/profiles",
        json!({"name": "Work", "dataset_ids": [doc["id"]]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let conv: Value = post(
        "/conversations",
        json!({"profile_id": profile["id"], "model": "ragenie-retrieval-only"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let conv_id = conv["id"].as_str().expect("conversation id");
    let answer = post(
        &format!("/conversations/{conv_id}/messages"),
        json!({"content": "When does the backup run?"}),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(answer.contains("event: done"), "{answer}");
    PopulatedAccount {
        user_id: me["id"].as_str().expect("id").to_owned(),
        email,
        password,
        access_token,
        api_key: key["key"].as_str().expect("key").to_owned(),
    }
}

/// What the store still holds of a user: items of its partition (its security audit trail
/// apart), its email claim, its API keys' lookups (by the key's value) and its files.
#[derive(Debug, PartialEq, Eq)]
pub struct Remains {
    pub items: usize,
    /// The actions of the audit events in its partition, oldest first.
    pub audit_events: Vec<String>,
    pub email_claim: bool,
    pub api_key_lookup: bool,
    pub files: usize,
}

impl Remains {
    /// What a deleted account leaves: the one audit event recording its deletion.
    pub fn deleted() -> Self {
        Self {
            items: 0,
            audit_events: vec!["account_deleted".into()],
            email_claim: false,
            api_key_lookup: false,
            files: 0,
        }
    }
}

pub async fn remains(state: &AppState, account: &PopulatedAccount) -> Remains {
    use crate::accounts::{UserId, keys};
    use sha2::Digest;
    let user = UserId::parse(&account.user_id).expect("user id");
    let (audit, items): (Vec<_>, Vec<_>) =
        crate::accounts::all_items(state.table.as_ref(), user, "")
            .await
            .expect("query")
            .into_iter()
            .partition(|i| i.sk.starts_with(keys::AUDIT_PREFIX));
    let claim = keys::email(&account.email);
    let lookup = keys::api_key_lookup(&hex::encode(sha2::Sha256::digest(
        account.api_key.as_bytes(),
    )));
    Remains {
        items: items.len(),
        audit_events: audit
            .iter()
            .map(|i| i.str("action").unwrap_or_default().to_owned())
            .collect(),
        email_claim: state
            .table
            .get(&claim.pk, &claim.sk)
            .await
            .unwrap()
            .is_some(),
        api_key_lookup: state
            .table
            .get(&lookup.pk, &lookup.sk)
            .await
            .unwrap()
            .is_some(),
        files: state.blobs.list(&user.blob_prefix()).await.unwrap().len()
            + state.blobs.list(&user.upload_prefix()).await.unwrap().len(),
    }
}

/// A document once background ingestion has settled it (`ready` or `failed`): polls
/// `GET /documents/{id}` as `bearer` (an `Authorization` value) for up to 30 s.
pub async fn settled_document(
    http: &reqwest::Client,
    base: &str,
    bearer: &str,
    id: &str,
) -> serde_json::Value {
    for _ in 0..600 {
        let doc: serde_json::Value = http
            .get(format!("{base}/documents/{id}"))
            .header("authorization", bearer)
            .send()
            .await
            .expect("GET /documents/{id}")
            .json()
            .await
            .expect("a document");
        if doc["status"] != "pending" && doc["status"] != "processing" {
            return doc;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("document {id} still being ingested after 30 s");
}
