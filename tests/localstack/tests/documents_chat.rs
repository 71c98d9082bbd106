//! Documents (direct and presigned uploads, search, delete) and a grounded chat answer through
//! the documents, conversations and chat routers on DynamoDB, S3 and Secrets Manager — the
//! emulator `run.sh` starts — with the fake providers as the model.

use std::sync::Arc;
use std::time::Duration;

use ragenie_common::AppState;
use ragenie_common::accounts::profiles::{self, NewProfile};
use ragenie_common::config::{EmbeddingSettings, Settings, StoreSettings};
use ragenie_common::storage::aws::{AwsSecrets, DynamoTable, S3Blobs, load_sdk_config};
use ragenie_common::testing::{Answered, TestServer, TestTokens, http_client, test_user};
use ragenie_gateway::{Gateway, GatewayConfig};
use serde_json::{Value, json};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

struct App {
    base: String,
    http: reqwest::Client,
    state: AppState,
    _fakes: ragenie_fake_providers::FakeHandle,
    _server: TestServer,
}

impl App {
    /// Starts a presigned upload of a Markdown dataset announced at `size` bytes.
    async fn start_upload(&self, auth: &str, name: &str, size: usize) -> Value {
        self.http
            .post(format!("{}/documents/uploads", self.base))
            .header("authorization", auth)
            .json(&json!({"name": name, "kind": "dataset", "media_type": "text/markdown", "size": size}))
            .json_answer().await
    }

    /// The PUT of `body` to a started upload's URL with its headers; without the signed
    /// `Content-Length` when `signed_length` is false (reqwest then sends the body's own).
    fn presigned_put(
        &self,
        start: &Value,
        body: reqwest::Body,
        signed_length: bool,
    ) -> reqwest::RequestBuilder {
        let mut put = self
            .http
            .put(start["upload"]["url"].as_str().unwrap())
            .body(body);
        for pair in start["upload"]["headers"].as_array().unwrap() {
            if signed_length || pair[0] != "content-length" {
                put = put.header(pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            }
        }
        put
    }
}

async fn app() -> App {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("RAGENIE_TEST_REAL_AWS").is_some(),
        "run these through tests/localstack/run.sh"
    );
    let sdk = load_sdk_config().await;
    let (table, bucket, secret, keys_secret) = (
        unique("ragenie-docs"),
        unique("ragenie-docs"),
        unique("ragenie/jwt"),
        unique("ragenie/provider-keys"),
    );
    DynamoTable::new(&sdk, table.clone())
        .create_table()
        .await
        .unwrap();
    S3Blobs::new(&sdk, bucket.clone())
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    AwsSecrets::new(&sdk)
        .client()
        .create_secret()
        .name(&secret)
        .secret_string("k".repeat(64))
        .send()
        .await
        .unwrap();
    // Provider keys come from Secrets Manager, as on Lambda.
    AwsSecrets::new(&sdk)
        .client()
        .create_secret()
        .name(&keys_secret)
        .secret_string(r#"{"OPENAI_API_KEY": "test-key"}"#)
        .send()
        .await
        .unwrap();
    let settings = Settings {
        store: StoreSettings::Aws {
            table,
            bucket,
            jwt_secret_id: secret,
            provider_keys_secret_id: Some(keys_secret),
        },
        public_url: "http://127.0.0.1:1".into(),
        max_json_body: 1024 * 1024,
        max_upload_body: 6 * 1024 * 1024,
        // Hybrid retrieval, embedded by the fake OpenAI endpoint.
        embedding: Some(EmbeddingSettings {
            model: "text-embedding-3-small".into(),
            dimensions: Some(256),
            model_dir: None,
        }),
        audit_retention_days: 365,
        operator: Default::default(),
        mail: Default::default(),
    };
    let state = AppState::connect(settings)
        .await
        .unwrap()
        .with_authenticator(Arc::new(TestTokens));
    let (fakes, urls) = ragenie_fake_providers::spawn(Default::default())
        .await
        .unwrap();
    let lookup = |name: &str| match name {
        "RAGENIE_OPENAI_BASE_URL" => Some(urls.openai.clone()),
        _ => None,
    };
    let keys = ragenie_corpus::providers::load_provider_keys(&state)
        .await
        .unwrap();
    let gateway =
        Arc::new(Gateway::new(GatewayConfig::from_lookup(lookup).unwrap(), keys).unwrap());
    // One gateway and one corpus for both functions, as the local server builds them.
    let providers = ragenie_corpus::ProviderState::with_gateway(state.clone(), gateway).unwrap();
    let router = ragenie_common::http::with_fallback(
        ragenie_documents::router(providers.clone())
            .merge(ragenie_conversations::router(state.clone()))
            .merge(ragenie_chat::router(providers)),
    );
    let listener = TestServer::bind().await;
    let base = listener.base.clone();
    let server = listener.serve(router);
    let http = http_client(Duration::from_secs(60));
    App {
        base,
        http,
        state,
        _fakes: fakes,
        _server: server,
    }
}

#[tokio::test]
async fn documents_are_uploaded_searched_and_deleted_on_dynamodb_and_s3() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let (_, mallory) = test_user();
    let upload = app
        .http
        .post(format!(
            "{}/documents?kind=dataset&name=espresso.md",
            app.base
        ))
        .header("authorization", &alice)
        .header("content-type", "text/markdown")
        .body("# Espresso\n\n## Tamping\n\nTamp with thirty pounds of pressure.\n")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let doc: Value = upload.json().await.unwrap();
    assert_eq!(doc["status"], "ready");
    let id = doc["id"].as_str().unwrap();

    // A large file through a presigned S3 PUT, then commit.
    let text = format!(
        "# Manual\n\n{}\n\nDescale with citric acid.",
        "filler words here. ".repeat(20_000)
    );
    let start = app.start_upload(&alice, "manual.md", text.len()).await;
    let put = app.presigned_put(&start, text.clone().into(), true);
    assert!(put.send().await.unwrap().status().is_success());
    let manual_id = start["document_id"].as_str().unwrap();
    let commit = app
        .http
        .post(format!("{}/documents/{manual_id}/commit", app.base))
        .header("authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(commit.status(), 201);

    // Announce 10 bytes, send 21 to the URL: S3 would refuse it (the length is signed); moto
    // verifies no signature and stores it, so the commit's HEAD on S3 is what refuses it here,
    // before reading it, and nothing is kept.
    let start = app.start_upload(&alice, "small.md", 10).await;
    let put = app.presigned_put(&start, "twenty-one bytes, no.".into(), false);
    let stored = put.send().await.unwrap().status().is_success();
    let small_id = start["document_id"].as_str().unwrap();
    let commit = app
        .http
        .post(format!("{}/documents/{small_id}/commit", app.base))
        .header("authorization", &alice)
        .send()
        .await
        .unwrap();
    if stored {
        assert_eq!(commit.status(), 422);
        let problem: Value = commit.json().await.unwrap();
        assert_eq!(problem["field"], "size", "{problem}");
    } else {
        assert_eq!(commit.status(), 422, "nothing arrived to commit");
    }
    assert_eq!(
        app.http
            .get(format!("{}/documents/{small_id}", app.base))
            .header("authorization", &alice)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let search = |q: &'static str, who: &'static str| {
        let bearer = if who == "alice" {
            alice.clone()
        } else {
            mallory.clone()
        };
        let url = format!("{}/search?q={q}", app.base);
        let http = app.http.clone();
        async move {
            http.get(url)
                .header("authorization", bearer)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        search("tamp%20pressure", "alice").await["items"][0]["document_id"],
        id
    );
    assert_eq!(
        search("citric%20acid", "alice").await["items"][0]["document_id"],
        manual_id
    );
    // "with" is a stop word BM25 drops: only the chunk vectors stored in S3 can match it.
    assert_eq!(search("with", "alice").await["items"][0]["document_id"], id);
    assert!(
        search("citric%20acid", "mallory").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let foreign = app
        .http
        .get(format!("{}/documents/{id}", app.base))
        .header("authorization", &mallory)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);

    for doc_id in [id, manual_id] {
        let deleted = app
            .http
            .delete(format!("{}/documents/{doc_id}", app.base))
            .header("authorization", &alice)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
    }
    let left = app
        .state
        .blobs
        .list(&format!("users/{alice_id}/"))
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "no bytes, text or segments remain in S3: {left:?}"
    );
}

#[tokio::test]
async fn a_grounded_answer_streams_and_is_stored_on_dynamodb() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let doc: Value = app
        .http
        .post(format!(
            "{}/documents?kind=dataset&name=espresso.md",
            app.base
        ))
        .header("authorization", &alice)
        .header("content-type", "text/markdown")
        .body("# Espresso\n\n## Tamping\n\nTamp with thirty pounds of pressure.\n")
        .json_answer()
        .await;
    let profile = profiles::create(
        app.state.table.as_ref(),
        alice_id,
        NewProfile {
            name: "Coffee".into(),
            dataset_ids: vec![doc["id"].as_str().unwrap().to_owned()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let conv: Value = app
        .http
        .post(format!("{}/conversations", app.base))
        .header("authorization", &alice)
        .json(&json!({"profile_id": profile.id.to_string(), "model": "gpt-4.1"}))
        .json_answer()
        .await;
    let conv_id = conv["id"].as_str().unwrap();
    let sse = app
        .http
        .post(format!("{}/conversations/{conv_id}/messages", app.base))
        .header("authorization", &alice)
        .json(&json!({"content": "How hard should I tamp?"}))
        .text_answer()
        .await;
    assert!(
        sse.contains("event: meta") && sse.contains("event: delta") && sse.contains("event: done"),
        "{sse}"
    );
    let stored: Value = app
        .http
        .get(format!("{}/conversations/{conv_id}", app.base))
        .header("authorization", &alice)
        .json_answer()
        .await;
    let answer = &stored["messages"][1];
    assert_eq!(answer["finish_reason"], "stop");
    assert_eq!(answer["citations"][0]["document_id"], doc["id"]);
    assert!(answer["cost"]["total_usd"].as_f64().unwrap() > 0.0);
    let usage: Value = app
        .http
        .get(format!("{}/usage", app.base))
        .header("authorization", &alice)
        .json_answer()
        .await;
    assert_eq!(usage["models"][0]["model"], "gpt-4.1");
    // Conversation search: the saved question is in the index (built on DynamoDB and S3), and
    // the conversation's deletion takes it out at once.
    let search = || async {
        app.http
            .get(format!("{}/conversations/search?q=tamp", app.base))
            .header("authorization", &alice)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let hits = search().await;
    assert_eq!(hits["items"][0]["conversation"]["id"], conv_id, "{hits}");
    assert!(
        hits["items"][0]["snippet"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("<mark>tamp</mark>"),
        "{hits}"
    );
    let deleted = app
        .http
        .delete(format!("{}/conversations/{conv_id}", app.base))
        .header("authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(search().await["items"], json!([]));
}
