//! What the emulator suites share: fresh AWS resources for each test (a table, a bucket,
//! secrets, a queue) and the `AppState` a Lambda would connect on them; requests through a
//! router (`call`) and over HTTP to a served one (`Served`).

// Each test file is a crate of its own and uses only part of this module.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use ragenie_common::AppState;
use ragenie_common::config::{Settings, StoreSettings};
use ragenie_common::storage::aws::{AwsSecrets, DynamoTable, S3Blobs, SqsQueue, load_sdk_config};
use ragenie_common::testing::{self, Answered, Resp, TestServer, TestTokens, http_client};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

/// `<prefix>-<ulid>`: a name no other test (or run) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Fails the test unless `run.sh` pointed the SDK at an emulator (or a real account is meant).
fn require_aws() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("RAGENIE_TEST_REAL_AWS").is_some(),
        "run these through tests/localstack/run.sh (or set RAGENIE_TEST_REAL_AWS=1 to use a real account)"
    );
}

/// A new DynamoDB table and S3 bucket, each named `<prefix>-<ulid>`, on the adapters themselves,
/// and the Secrets Manager adapter.
pub struct FreshStore {
    pub table: DynamoTable,
    pub blobs: S3Blobs,
    pub secrets: AwsSecrets,
    pub table_name: String,
    pub bucket: String,
}

impl FreshStore {
    pub async fn create(prefix: &str) -> Self {
        require_aws();
        let sdk = load_sdk_config().await;
        let (table_name, bucket) = (unique(prefix), unique(prefix));
        let table = DynamoTable::new(&sdk, table_name.clone());
        table.create_table().await.expect("creating the test table");
        let blobs = S3Blobs::new(&sdk, bucket.clone());
        blobs
            .client()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("creating the test bucket");
        Self {
            table,
            blobs,
            secrets: AwsSecrets::new(&sdk),
            table_name,
            bucket,
        }
    }

    /// A new secret named `<prefix>-<ulid>` holding `value`; returns its name.
    pub async fn secret(&self, prefix: &str, value: &str) -> String {
        let name = unique(prefix);
        self.secrets
            .client()
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await
            .expect("creating the test secret");
        name
    }
}

/// A new SQS queue named `<prefix>-<ulid>`.
pub async fn fresh_queue(prefix: &str) -> SqsQueue {
    require_aws();
    let sdk = load_sdk_config().await;
    let url = aws_sdk_sqs::Client::new(&sdk)
        .create_queue()
        .queue_name(unique(prefix))
        .send()
        .await
        .expect("creating the test queue")
        .queue_url
        .expect("the queue's URL");
    SqsQueue::new(&sdk, url)
}

/// The state of a test: `AppState::connect`, as a Lambda does, on a [`FreshStore`] and a JWT
/// signing secret of its own, with what a suite changes.
pub struct AwsState {
    prefix: &'static str,
    provider_keys: Option<&'static str>,
    test_tokens: bool,
    tweak: fn(&mut Settings),
}

impl AwsState {
    /// Resources named `<prefix>-<ulid>`.
    pub fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            provider_keys: None,
            test_tokens: false,
            tweak: |_| {},
        }
    }

    /// Provider keys (a JSON object) in a Secrets Manager secret, as on Lambda.
    pub fn provider_keys(mut self, keys: &'static str) -> Self {
        self.provider_keys = Some(keys);
        self
    }

    /// Authenticates `test:<user id>` tokens ([`TestTokens`], see `testing::test_user`)
    /// instead of accounts.
    pub fn test_tokens(mut self) -> Self {
        self.test_tokens = true;
        self
    }

    /// Changes the settings before connecting.
    pub fn settings(mut self, tweak: fn(&mut Settings)) -> Self {
        self.tweak = tweak;
        self
    }

    pub async fn connect(self) -> AppState {
        let store = FreshStore::create(self.prefix).await;
        let signing_key = unique("a JWT signing key for this test only");
        let jwt_secret_id = store.secret("ragenie/jwt", &signing_key).await;
        let provider_keys_secret_id = match self.provider_keys {
            Some(keys) => Some(store.secret("ragenie/provider-keys", keys).await),
            None => None,
        };
        let mut settings = Settings {
            store: StoreSettings::Aws {
                table: store.table_name,
                bucket: store.bucket,
                jwt_secret_id,
                provider_keys_secret_id,
            },
            public_url: "http://127.0.0.1:1".into(),
            max_json_body: 1024 * 1024,
            max_upload_body: 6 * 1024 * 1024,
            embedding: None,
            audit_retention_days: 365,
            operator: Default::default(),
            mail: Default::default(),
        };
        (self.tweak)(&mut settings);
        let state = AppState::connect(settings).await.expect("connecting");
        if self.test_tokens {
            state.with_authenticator(Arc::new(TestTokens))
        } else {
            state
        }
    }
}

/// `method uri` through `app`, JSON `body` when given, as `token` (`Bearer <token>`) when given.
pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let request = testing::request(method, uri, token, body.map(|b| b.to_string()), &[]);
    testing::oneshot(app, request).await
}

/// A router served on 127.0.0.1 for the length of a test, and the client that reaches it.
/// `auth` arguments are whole `Authorization` values (`Bearer …`, as `testing::test_user`
/// gives).
pub struct Served {
    pub server: TestServer,
    pub http: reqwest::Client,
}

impl Served {
    /// Serves `router`; each request gives up after `timeout`.
    pub async fn start(router: Router, timeout: Duration) -> Self {
        Self {
            server: TestServer::start(router).await,
            http: http_client(timeout),
        }
    }

    pub fn request(&self, method: Method, auth: &str, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.server.url(path))
            .header("authorization", auth)
    }

    pub fn get(&self, auth: &str, path: &str) -> RequestBuilder {
        self.request(Method::GET, auth, path)
    }

    pub fn post(&self, auth: &str, path: &str) -> RequestBuilder {
        self.request(Method::POST, auth, path)
    }

    pub fn delete(&self, auth: &str, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, auth, path)
    }

    /// A direct upload of `body` as a dataset named `name`; expects 201 and returns the
    /// document.
    pub async fn upload(
        &self,
        auth: &str,
        name: &str,
        media_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Value {
        let response = self
            .post(auth, "/documents")
            .query(&[("kind", "dataset"), ("name", name)])
            .header("content-type", media_type)
            .body(body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 201);
        response.json().await.expect("a document")
    }

    /// `GET /search?q=…`: the answer.
    pub async fn search(&self, auth: &str, q: &str) -> Value {
        self.get(auth, "/search")
            .query(&[("q", q)])
            .json_answer()
            .await
    }

    /// Starts a presigned upload of a dataset announced at `size` bytes.
    pub async fn start_upload(
        &self,
        auth: &str,
        name: &str,
        media_type: &str,
        size: usize,
    ) -> Value {
        self.post(auth, "/documents/uploads")
            .json(&json!({"name": name, "kind": "dataset", "media_type": media_type, "size": size}))
            .json_answer()
            .await
    }

    /// The PUT of `body` to a started upload's URL with its headers; without the signed
    /// `Content-Length` when `signed_length` is false (reqwest then sends the body's own).
    pub fn presigned_put(
        &self,
        start: &Value,
        body: reqwest::Body,
        signed_length: bool,
    ) -> RequestBuilder {
        let mut put = self
            .http
            .put(start["upload"]["url"].as_str().expect("an upload URL"))
            .body(body);
        for pair in start["upload"]["headers"]
            .as_array()
            .expect("upload headers")
        {
            if signed_length || pair[0] != "content-length" {
                put = put.header(pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            }
        }
        put
    }

    /// `POST /documents/{id}/commit`: the response.
    pub async fn commit(&self, auth: &str, id: &str) -> reqwest::Response {
        self.post(auth, &format!("/documents/{id}/commit"))
            .send()
            .await
            .expect("an answer")
    }
}
