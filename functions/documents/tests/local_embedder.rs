//! Semantic search with no API key: the documents router with the built-in model
//! (`RAGENIE_EMBEDDING_MODEL=local:all-MiniLM-L6-v2`, weights from `ensure_minilm`) finds a
//! document by a synonym BM25 cannot match, and documents uploaded before the model was set
//! become hybrid after a re-index. Skipped (loudly) without the weights; the test command
//! installs them and makes their absence an error.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ragenie_common::AppState;
use ragenie_common::config::EmbeddingSettings;
use ragenie_common::testing::{TestServer, embedded_state, http_client, test_user};
use ragenie_embedder::testing::minilm_dir;
use reqwest::{Client, StatusCode};
use serde_json::Value;

mod support;

const MODEL: &str = "local:all-MiniLM-L6-v2";
const DOGS: &str = "# Pets\n\nOur canine companions need a long walk twice a day.";
const REVENUE: &str = "# Finance\n\nQuarterly revenue grew by ten percent after the price change.";
const QUESTION: &str = "how often should I exercise my puppy";

struct App {
    base: String,
    http: Client,
    _server: TestServer,
}

/// A documents server on `store` (several servers may share one, as a restart with a new
/// setting would), with the built-in model when `model_dir` is given, and no provider key.
async fn serve(store: &AppState, model_dir: Option<&Path>) -> App {
    let listener = TestServer::bind().await;
    let mut state = store.clone();
    if let Some(dir) = model_dir {
        let mut settings = (*state.settings).clone();
        settings.embedding = Some(EmbeddingSettings {
            model: MODEL.into(),
            dimensions: None,
            model_dir: Some(dir.to_owned()),
        });
        state.settings = Arc::new(settings);
    }
    // No provider configured at all: the built-in model needs none.
    let providers = ragenie_corpus::ProviderState::offline(state).expect("documents state");
    let router = ragenie_common::http::with_fallback(ragenie_documents::router(providers));
    App {
        base: listener.base.clone(),
        http: http_client(Duration::from_secs(60)),
        _server: listener.serve(router),
    }
}

impl App {
    async fn upload(&self, bearer: &str, name: &str, text: &str) -> Value {
        support::upload(&self.http, &self.base, bearer, name, text).await
    }

    async fn search(&self, bearer: &str, q: &str) -> Vec<Value> {
        support::search(&self.http, &self.base, bearer, q).await
    }

    async fn get(&self, bearer: &str, path: &str, query: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .header("authorization", bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    async fn post(&self, bearer: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", bearer)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_fresh_server_without_a_key_finds_a_document_by_a_synonym_bm25_cannot_match() {
    let Some(model_dir) = minilm_dir() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let store = embedded_state(data.path(), "http://127.0.0.1:9").await;
    let app = serve(&store, Some(&model_dir)).await;
    let (_, bearer) = test_user();
    let dogs = app.upload(&bearer, "pets.md", DOGS).await;
    let revenue = app.upload(&bearer, "finance.md", REVENUE).await;
    assert_eq!(dogs["embedding_model"], MODEL);
    assert_eq!(revenue["embedding_model"], MODEL);

    let hits = app.search(&bearer, QUESTION).await;
    assert!(!hits.is_empty(), "the built-in model found nothing");
    assert_eq!(hits[0]["document_id"], dogs["id"], "{hits:#?}");

    // The same question on the same documents with BM25 alone: no shared word, nothing found.
    let bm25 = serve(&store, None).await;
    assert!(bm25.search(&bearer, QUESTION).await.is_empty());
}

#[tokio::test]
async fn documents_uploaded_before_the_model_was_set_become_hybrid_after_a_reindex() {
    let Some(model_dir) = minilm_dir() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let store = embedded_state(data.path(), "http://127.0.0.1:9").await;
    let (_, bearer) = test_user();
    let (dogs, revenue) = {
        let before = serve(&store, None).await;
        let dogs = before.upload(&bearer, "pets.md", DOGS).await;
        let revenue = before.upload(&bearer, "finance.md", REVENUE).await;
        // Without a model there is nothing to re-index into.
        let (status, problem) = before.post(&bearer, "/documents/reindex").await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        (dogs, revenue)
    };
    assert_eq!(dogs["embedding_model"], Value::Null);

    // The model is set: old documents still rank by BM25 until re-indexed.
    let app = serve(&store, Some(&model_dir)).await;
    let progress = app.get(&bearer, "/documents/reindex", &[]).await;
    assert_eq!(progress["model"], MODEL);
    assert_eq!(progress["documents"], 2);
    assert_eq!(progress["embedded"], 0);
    assert!(app.search(&bearer, QUESTION).await.is_empty());

    // A new upload during the re-index is not held up and is embedded at once.
    let (status, started) = app.post(&bearer, "/documents/reindex").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["queued"], 2);
    let notes = app
        .upload(&bearer, "notes.md", "# Notes\n\nBuy oat milk.")
        .await;
    assert_eq!(notes["embedding_model"], MODEL);

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let p = app.get(&bearer, "/documents/reindex", &[]).await;
        if p["queued"] == 0 && p["embedded"] == 3 {
            assert_eq!(p["failed"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "re-index did not finish: {p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for doc in [&dogs, &revenue] {
        let id = doc["id"].as_str().unwrap();
        let detail = app.get(&bearer, &format!("/documents/{id}"), &[]).await;
        assert_eq!(detail["embedding_model"], MODEL);
        assert_eq!(detail["reindex"], Value::Null);
        assert_eq!(detail["version"], 1, "a re-index is not a new version");
    }
    let hits = app.search(&bearer, QUESTION).await;
    assert_eq!(hits.first().map(|h| &h["document_id"]), Some(&dogs["id"]));

    // Idempotent: nothing left to do, and one document on its own is accepted too.
    let (status, again) = app.post(&bearer, "/documents/reindex").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(again["queued"], 0);
    let id = dogs["id"].as_str().unwrap();
    let (status, one) = app.post(&bearer, &format!("/documents/{id}/reindex")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(one["embedded"], 3);
    let (status, _) = app
        .post(&bearer, "/documents/01NOSUCHDOCUMENT0000000000/reindex")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
