//! Hybrid retrieval through the documents router: with `RAGENIE_EMBEDDING_MODEL` set, uploads
//! are embedded through the LLM gateway (here the fake OpenAI embeddings endpoint on
//! 127.0.0.1) and searches fuse BM25 with the query embedding's similarity.

use std::sync::Arc;
use std::time::Duration;

use ragenie_common::AppState;
use ragenie_common::accounts::UserId;
use ragenie_common::config::EmbeddingSettings;
use ragenie_common::testing::{TestServer, embedded_state, http_client, test_user};
use ragenie_corpus::ProviderState;
use ragenie_fake_providers::{FakeConfig, FakeHandle};
use ragenie_gateway::{Gateway, GatewayConfig, ProviderKeys};
use ragenie_retrieval::Segment;
use reqwest::Client;
use serde_json::Value;

mod support;

struct App {
    base: String,
    http: Client,
    state: AppState,
    _fakes: Option<FakeHandle>,
    _dir: tempfile::TempDir,
    _server: TestServer,
}

/// `openai_base`: the embeddings provider (`None`: the fakes; `Some(url)`: somewhere else).
async fn app(openai_base: Option<String>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let fakes = match openai_base {
        Some(_) => None,
        None => Some(
            ragenie_fake_providers::spawn(FakeConfig::default())
                .await
                .unwrap(),
        ),
    };
    let openai = openai_base.unwrap_or_else(|| fakes.as_ref().unwrap().1.openai.clone());
    let lookup = |name: &str| match name {
        "RAGENIE_OPENAI_BASE_URL" => Some(openai.clone()),
        "OPENAI_API_KEY" => Some("test-key".to_owned()),
        _ => None,
    };
    let gateway = Gateway::from_lookup(lookup).unwrap();
    let listener = TestServer::bind().await;
    let base = listener.base.clone();
    let mut state = embedded_state(dir.path(), &base).await;
    let mut settings = (*state.settings).clone();
    settings.embedding = Some(EmbeddingSettings {
        model: "text-embedding-3-small".into(),
        dimensions: Some(256),
        model_dir: None,
    });
    state.settings = Arc::new(settings);
    let providers = ProviderState::with_gateway(state.clone(), Arc::new(gateway)).unwrap();
    let router = ragenie_common::http::with_fallback(ragenie_documents::router(providers));
    let server = listener.serve(router);
    App {
        base,
        http: http_client(Duration::from_secs(30)),
        state,
        _fakes: fakes.map(|(handle, _)| handle),
        _dir: dir,
        _server: server,
    }
}

impl App {
    async fn upload(&self, bearer: &str, name: &str, text: &str) -> Value {
        support::upload(&self.http, &self.base, bearer, name, text).await
    }

    async fn search(&self, bearer: &str, q: &str) -> Vec<Value> {
        support::search(&self.http, &self.base, bearer, q).await
    }

    async fn segment(&self, user: UserId, doc: &Value) -> Segment {
        let key = ragenie_corpus::keys::segment_blob(user, doc["id"].as_str().unwrap(), 1);
        let blob = self.state.blobs.get(&key).await.unwrap().unwrap();
        Segment::from_bytes(&blob.body).unwrap()
    }
}

const SHIPPING: &str = "# Shipping\n\nParcels leave the warehouse every morning.\n\n## Returns\n\nThey come back within thirty days.";
const GARDEN: &str = "# Garden\n\nTomatoes need sun and water.";

#[tokio::test]
async fn uploads_are_embedded_through_the_gateway_and_search_uses_the_vectors() {
    let app = app(None).await;
    let (user, bearer) = test_user();
    let shipping = app.upload(&bearer, "shipping.md", SHIPPING).await;
    let garden = app.upload(&bearer, "garden.md", GARDEN).await;
    assert_eq!(shipping["status"], "ready");

    for doc in [&shipping, &garden] {
        let segment = app.segment(user, doc).await;
        assert_eq!(
            segment.embedding_model(),
            Some("text-embedding-3-small/256")
        );
        assert_eq!(segment.vector_count(), segment.chunk_count());
    }

    // BM25 alone still ranks ordinary queries.
    let hits = app.search(&bearer, "tomatoes").await;
    assert_eq!(hits[0]["document_id"], garden["id"]);

    // "they" is a stop word BM25 drops; only the embeddings can match it (the fake embeds
    // every word), and they do: the chunk that says it comes back, with where it sits.
    let hits = app.search(&bearer, "they").await;
    assert!(!hits.is_empty(), "the embedding ranking found nothing");
    assert_eq!(hits[0]["document_id"], shipping["id"]);
    assert!(hits[0]["text"].as_str().unwrap().contains("They come back"));
    assert_eq!(hits[0]["heading_path"][1], "Returns");
}

#[tokio::test]
async fn an_unreachable_embedding_provider_leaves_uploads_ready_and_search_on_bm25() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let app = app(Some(url)).await;
    let (user, bearer) = test_user();
    let garden = app.upload(&bearer, "garden.md", GARDEN).await;
    assert_eq!(garden["status"], "ready");
    assert_eq!(app.segment(user, &garden).await.embedding_model(), None);
    let hits = app.search(&bearer, "tomatoes").await;
    assert_eq!(hits[0]["document_id"], garden["id"]);
    assert!(app.search(&bearer, "they").await.is_empty());
}

async fn state_embedding_with(model: &str, dir: &std::path::Path) -> AppState {
    let mut state = embedded_state(dir, "http://127.0.0.1:9").await;
    let mut settings = (*state.settings).clone();
    settings.embedding = Some(EmbeddingSettings {
        model: model.into(),
        dimensions: None,
        model_dir: None,
    });
    state.settings = Arc::new(settings);
    state
}

async fn start_up_error(model: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let state = state_embedding_with(model, dir.path()).await;
    let gateway = Gateway::new(GatewayConfig::default(), ProviderKeys::default()).unwrap();
    match ProviderState::with_gateway(state, Arc::new(gateway)) {
        Ok(_) => panic!("{model}: the function started half-configured"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn an_unknown_embedding_model_stops_the_function_at_start_naming_the_variable() {
    let err = start_up_error("no-such-embedder").await;
    assert!(err.starts_with("RAGENIE_EMBEDDING_MODEL:"), "{err}");
}

#[tokio::test]
async fn an_embedding_model_without_its_provider_key_stops_the_function_at_start() {
    let err = start_up_error("text-embedding-3-small").await;
    assert!(
        err.starts_with("RAGENIE_EMBEDDING_MODEL:") && err.contains("openai"),
        "{err}"
    );
}
