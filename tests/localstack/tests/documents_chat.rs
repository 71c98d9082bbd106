//! Documents (direct and presigned uploads, search, delete) and a grounded chat answer through
//! the documents, conversations and chat routers on DynamoDB, S3 and Secrets Manager — the
//! emulator `run.sh` starts — with the fake providers as the model.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ragenie_common::AppState;
use ragenie_common::accounts::profiles::{self, NewProfile};
use ragenie_common::config::EmbeddingSettings;
use ragenie_common::testing::{Answered, test_user};
use ragenie_gateway::{Gateway, GatewayConfig};
use serde_json::{Value, json};
use support::{AwsState, Served};

const ESPRESSO: &str = "# Espresso\n\n## Tamping\n\nTamp with thirty pounds of pressure.\n";

/// The three functions served on fresh AWS resources, the state under them, and the fake OpenAI
/// endpoint (to keep while the test runs) that is their model and embedder.
async fn app() -> (Served, AppState, ragenie_fake_providers::FakeHandle) {
    let state = AwsState::new("ragenie-docs")
        // Provider keys come from Secrets Manager, as on Lambda.
        .provider_keys(r#"{"OPENAI_API_KEY": "test-key"}"#)
        // Hybrid retrieval, embedded by the fake OpenAI endpoint.
        .settings(|settings| {
            settings.embedding = Some(EmbeddingSettings {
                model: "text-embedding-3-small".into(),
                dimensions: Some(256),
                model_dir: None,
            })
        })
        .test_tokens()
        .connect()
        .await;
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
    let api = Served::start(router, Duration::from_secs(60)).await;
    (api, state, fakes)
}

#[tokio::test]
async fn documents_are_uploaded_searched_and_deleted_on_dynamodb_and_s3() {
    let (api, state, _fakes) = app().await;
    let (alice_id, alice) = test_user();
    let (_, mallory) = test_user();
    let doc = api
        .upload(&alice, "espresso.md", "text/markdown", ESPRESSO)
        .await;
    assert_eq!(doc["status"], "ready");
    let id = doc["id"].as_str().unwrap();

    // A large file through a presigned S3 PUT, then commit.
    let text = format!(
        "# Manual\n\n{}\n\nDescale with citric acid.",
        "filler words here. ".repeat(20_000)
    );
    let start = api
        .start_upload(&alice, "manual.md", "text/markdown", text.len())
        .await;
    let put = api.presigned_put(&start, text.clone().into(), true);
    assert!(put.send().await.unwrap().status().is_success());
    let manual_id = start["document_id"].as_str().unwrap();
    assert_eq!(api.commit(&alice, manual_id).await.status(), 201);

    // Announce 10 bytes, send 21 to the URL: S3 would refuse it (the length is signed); moto
    // verifies no signature and stores it, so the commit's HEAD on S3 is what refuses it here,
    // before reading it, and nothing is kept.
    let start = api
        .start_upload(&alice, "small.md", "text/markdown", 10)
        .await;
    let put = api.presigned_put(&start, "twenty-one bytes, no.".into(), false);
    let stored = put.send().await.unwrap().status().is_success();
    let small_id = start["document_id"].as_str().unwrap();
    let commit = api.commit(&alice, small_id).await;
    if stored {
        assert_eq!(commit.status(), 422);
        let problem: Value = commit.json().await.unwrap();
        assert_eq!(problem["field"], "size", "{problem}");
    } else {
        assert_eq!(commit.status(), 422, "nothing arrived to commit");
    }
    let small = api.get(&alice, &format!("/documents/{small_id}"));
    assert_eq!(small.send().await.unwrap().status(), 404);

    let first_hit = |hits: Value| hits["items"][0]["document_id"].clone();
    assert_eq!(first_hit(api.search(&alice, "tamp pressure").await), id);
    assert_eq!(
        first_hit(api.search(&alice, "citric acid").await),
        manual_id
    );
    // "with" is a stop word BM25 drops: only the chunk vectors stored in S3 can match it.
    assert_eq!(first_hit(api.search(&alice, "with").await), id);
    let foreign = api.search(&mallory, "citric acid").await;
    assert!(foreign["items"].as_array().unwrap().is_empty());
    let foreign = api.get(&mallory, &format!("/documents/{id}"));
    assert_eq!(foreign.send().await.unwrap().status(), 404);

    for doc_id in [id, manual_id] {
        let deleted = api.delete(&alice, &format!("/documents/{doc_id}"));
        assert_eq!(deleted.send().await.unwrap().status(), 204);
    }
    let left = state
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
    let (api, state, _fakes) = app().await;
    let (alice_id, alice) = test_user();
    let doc = api
        .upload(&alice, "espresso.md", "text/markdown", ESPRESSO)
        .await;
    let profile = profiles::create(
        state.table.as_ref(),
        alice_id,
        NewProfile {
            name: "Coffee".into(),
            dataset_ids: vec![doc["id"].as_str().unwrap().to_owned()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let conv = api
        .post(&alice, "/conversations")
        .json(&json!({"profile_id": profile.id.to_string(), "model": "gpt-4.1"}))
        .json_answer()
        .await;
    let conv_id = conv["id"].as_str().unwrap();
    let conv_path = format!("/conversations/{conv_id}");
    let sse = api
        .post(&alice, &format!("{conv_path}/messages"))
        .json(&json!({"content": "How hard should I tamp?"}))
        .text_answer()
        .await;
    assert!(
        sse.contains("event: meta") && sse.contains("event: delta") && sse.contains("event: done"),
        "{sse}"
    );
    let stored = api.get(&alice, &conv_path).json_answer().await;
    let answer = &stored["messages"][1];
    assert_eq!(answer["finish_reason"], "stop");
    assert_eq!(answer["citations"][0]["document_id"], doc["id"]);
    assert!(answer["cost"]["total_usd"].as_f64().unwrap() > 0.0);
    let usage = api.get(&alice, "/usage").json_answer().await;
    assert_eq!(usage["models"][0]["model"], "gpt-4.1");
    // Conversation search: the saved question is in the index (built on DynamoDB and S3), and
    // the conversation's deletion takes it out at once.
    let search = || {
        api.get(&alice, "/conversations/search?q=tamp")
            .json_answer()
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
    let deleted = api.delete(&alice, &conv_path).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(search().await["items"], json!([]));
}
