//! Conversations and streamed, grounded chat through the routers, against the fake providers
//! speaking each provider's wire format on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use ragenie_common::AppState;
use ragenie_common::accounts::UserId;
use ragenie_common::accounts::profiles::{self, NewProfile};
use ragenie_common::testing::{TestServer, embedded_state, test_user};
use ragenie_corpus::{Corpus, DocumentKind, NewDocument, ProviderState};
use ragenie_fake_providers::{FakeConfig, FakeHandle, FakeUrls};
use ragenie_gateway::{Catalog, Gateway, GatewayConfig, ProviderKeys};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

struct App {
    base: String,
    http: Client,
    state: AppState,
    /// The server, the fake providers and the data directory, kept for the test's length.
    _running: (TestServer, Option<FakeHandle>, tempfile::TempDir),
}

fn gateway_for(urls: Option<&FakeUrls>, catalog: Catalog, compat: bool) -> Gateway {
    let urls = urls.cloned();
    let lookup = |name: &str| -> Option<String> {
        let u = urls.as_ref()?;
        match name {
            // The OpenAI fake stands in for an Ollama or vLLM server.
            "RAGENIE_OPENAI_COMPAT_BASE_URL" if compat => Some(u.openai.clone()),
            "RAGENIE_OPENAI_BASE_URL" => Some(u.openai.clone()),
            "RAGENIE_ANTHROPIC_BASE_URL" => Some(u.anthropic.clone()),
            "RAGENIE_GEMINI_BASE_URL" => Some(u.gemini.clone()),
            "OPENAI_API_KEY" | "ANTHROPIC_API_KEY" | "GEMINI_API_KEY" => Some("test-key".into()),
            _ => None,
        }
    };
    let config = GatewayConfig::from_lookup(lookup).unwrap();
    Gateway::with_catalog(config, ProviderKeys::from_lookup(lookup), catalog).unwrap()
}

async fn app_with(online: bool, catalog: Catalog, chunk_delay: Duration) -> App {
    app_full(online, catalog, chunk_delay, false).await
}

async fn app_full(online: bool, catalog: Catalog, chunk_delay: Duration, compat: bool) -> App {
    let dir = tempfile::tempdir().unwrap();
    let (fakes, urls) = if online {
        let (handle, urls) = ragenie_fake_providers::spawn(FakeConfig {
            chunk_delay,
            ..FakeConfig::default()
        })
        .await
        .unwrap();
        (Some(handle), Some(urls))
    } else {
        (None, None)
    };
    let listener = TestServer::bind().await;
    let base = listener.base.clone();
    let state = embedded_state(dir.path(), &base).await;
    let gateway = Arc::new(gateway_for(urls.as_ref(), catalog, compat));
    let router = ragenie_common::http::with_fallback(
        ragenie_chat::router(ProviderState::with_gateway(state.clone(), gateway).unwrap())
            .merge(ragenie_conversations::router(state.clone())),
    );
    App {
        _running: (listener.serve(router), fakes, dir),
        base,
        http: long_client(),
        state,
    }
}

/// A client that waits a minute for an answer (streams take a while).
fn long_client() -> Client {
    let builder = Client::builder().timeout(Duration::from_secs(60));
    builder.build().unwrap()
}

/// The app with the fakes answering in chunks 5 ms apart (long answers take a while).
async fn slow_app() -> App {
    app_with(true, Catalog::built_in(), Duration::from_millis(5)).await
}

/// The bearers of `N` new users.
fn bearers<const N: usize>() -> [String; N] {
    std::array::from_fn(|_| test_user().1)
}

async fn app() -> App {
    app_with(true, Catalog::built_in(), Duration::ZERO).await
}

#[derive(Debug)]
struct Sse {
    events: Vec<(String, Value)>,
}

impl Sse {
    fn parse(text: &str) -> Self {
        let mut events = Vec::new();
        for block in text.split("\n\n") {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = Some(n.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            if let Some(name) = name {
                events.push((name, serde_json::from_str(&data).unwrap_or(Value::Null)));
            }
        }
        Sse { events }
    }
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.events.iter().map(|(n, _)| n.as_str()).collect();
        names.dedup();
        names
    }
    fn first(&self, name: &str) -> &Value {
        &self
            .events
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} event in {:?}", self.names()))
            .1
    }
    fn text(&self) -> String {
        self.events
            .iter()
            .filter(|(n, _)| n == "delta")
            .map(|(_, v)| v["text"].as_str().unwrap())
            .collect()
    }
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` carrying `bearer`.
    fn request(&self, method: Method, bearer: &str, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("authorization", bearer)
    }

    async fn post(&self, bearer: &str, path: &str, body: Value) -> Response {
        let request = self.request(Method::POST, bearer, path).json(&body);
        request.send().await.unwrap()
    }

    /// `POST path` with `body`, expecting 200: the JSON answer.
    async fn post_ok(&self, bearer: &str, path: &str, body: Value) -> Value {
        let r = self.post(bearer, path, body).await;
        assert_eq!(r.status(), 200, "POST {path}");
        r.json().await.unwrap()
    }

    /// `POST /chat/estimate` with `body`, expecting 200: the estimate.
    async fn estimate(&self, bearer: &str, body: Value) -> Value {
        self.post_ok(bearer, "/chat/estimate", body).await
    }

    /// A stop request (`POST path` with `{}`): the status.
    async fn stop(&self, bearer: &str, path: &str) -> StatusCode {
        self.post(bearer, path, json!({})).await.status()
    }

    /// `POST /conversations/{conv}/messages` with `body`: the response, unread.
    async fn message(&self, bearer: &str, conv: &str, body: Value) -> Response {
        let path = format!("/conversations/{conv}/messages");
        self.post(bearer, &path, body).await
    }

    /// `method path` with no body: the response.
    async fn fetch(&self, method: Method, bearer: &str, path: &str) -> Response {
        self.request(method, bearer, path).send().await.unwrap()
    }

    async fn json(&self, bearer: &str, path: &str) -> Value {
        let r = self.fetch(Method::GET, bearer, path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// The conversation `conv` as stored (`GET /conversations/{conv}`).
    async fn stored(&self, bearer: &str, conv: &str) -> Value {
        self.json(bearer, &format!("/conversations/{conv}")).await
    }

    /// `GET path` (expects 200): its `items`.
    async fn items(&self, bearer: &str, path: &str) -> Vec<Value> {
        let list = self.json(bearer, path).await;
        list["items"].as_array().unwrap().clone()
    }

    /// `PUT /usage/budget` with a monthly budget: the status.
    async fn set_budget(&self, bearer: &str, monthly_usd: f64) -> StatusCode {
        let request = self.request(Method::PUT, bearer, "/usage/budget");
        let budget = json!({ "monthly_usd": monthly_usd });
        request.json(&budget).send().await.unwrap().status()
    }

    async fn conversation(&self, bearer: &str, body: Value) -> String {
        let r = self.post(bearer, "/conversations", body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A new user and an empty conversation of theirs with `model`: (bearer, conversation id).
    async fn new_chat(&self, model: &str) -> (String, String) {
        let (_, bearer) = test_user();
        let conv = self.conversation(&bearer, json!({ "model": model })).await;
        (bearer, conv)
    }

    /// A new conversation with `model` and the answer to `content` with `attachment` attached,
    /// whose context record names the attachment first, sent in `mode`.
    async fn chat_attached(
        &self,
        bearer: &str,
        model: &str,
        content: &str,
        attachment: &str,
        mode: &str,
    ) -> (String, Sse) {
        let message = json!({"content": content, "attachments": [attachment]});
        let (conv, sse) = self.chat(bearer, json!({ "model": model }), message).await;
        let context = &sse.first("meta")["context"];
        let doc = &context["documents"][0];
        assert_eq!(
            (
                doc["document_id"].as_str(),
                doc["attached"].as_bool(),
                doc["mode"].as_str()
            ),
            (Some(attachment), Some(true), Some(mode)),
            "the context record names the attachment: {context}"
        );
        (conv, sse)
    }

    /// A new conversation with `model`, and the answer to `content` in it.
    async fn chat_with(&self, bearer: &str, model: &str, content: &str) -> (String, Sse) {
        let conversation = json!({ "model": model });
        let message = json!({ "content": content });
        self.chat(bearer, conversation, message).await
    }

    /// A new conversation on `profile` (its model), and the answer to `content` in it.
    async fn chat_on_profile(&self, bearer: &str, profile: &str, content: &str) -> (String, Sse) {
        let conversation = json!({ "profile_id": profile });
        let message = json!({ "content": content });
        self.chat(bearer, conversation, message).await
    }

    /// A new conversation with `conversation`, and its first message's answer.
    async fn chat(&self, bearer: &str, conversation: Value, message: Value) -> (String, Sse) {
        let conv = self.conversation(bearer, conversation).await;
        let sse = self.send(bearer, &conv, message).await;
        (conv, sse)
    }

    async fn send(&self, bearer: &str, conv: &str, body: Value) -> Sse {
        let r = self
            .post(bearer, &format!("/conversations/{conv}/messages"), body)
            .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        Sse::parse(&r.text().await.unwrap())
    }

    /// A new user with a profile holding [`GUIDE`]: their id, bearer, profile id and datasets.
    async fn user_with_guide(&self) -> (UserId, String, String, Vec<String>) {
        let (user_id, bearer) = test_user();
        let (profile, datasets) = self.profile(user_id, &[("espresso.md", GUIDE)]).await;
        (user_id, bearer, profile, datasets)
    }

    /// A profile with one instruction document and the given datasets, for `user_id`.
    async fn profile(&self, user_id: UserId, datasets: &[(&str, &str)]) -> (String, Vec<String>) {
        let corpus = Corpus::new(self.state.table.clone(), self.state.blobs.clone());
        let upload = |name: &str, kind, text: &str| NewDocument {
            name: name.into(),
            folder: String::new(),
            kind,
            media_type: "text/markdown".into(),
            bytes: Bytes::from(text.to_owned()),
        };
        let (instructions, _) = corpus
            .upload(
                user_id,
                upload(
                    "style.md",
                    DocumentKind::Instructions,
                    "Answer like a pirate.",
                ),
            )
            .await
            .unwrap();
        let mut dataset_ids = Vec::new();
        for (name, text) in datasets {
            dataset_ids.push(
                corpus
                    .upload(user_id, upload(name, DocumentKind::Dataset, text))
                    .await
                    .unwrap()
                    .0
                    .id,
            );
        }
        let new = NewProfile {
            name: "Work".into(),
            instruction_ids: vec![instructions.id],
            dataset_ids: dataset_ids.clone(),
            ..Default::default()
        };
        let profile = profiles::create(self.state.table.as_ref(), user_id, new)
            .await
            .unwrap();
        (profile.id.to_string(), dataset_ids)
    }
}

/// An app whose one model, "tiny", has a 2,500-token window, and a manual too long for it whose
/// last section is about descaling.
async fn tiny_app_and_manual() -> (App, String) {
    let catalog = Catalog::from_json(
        r#"{"models": [{"id": "tiny", "provider": "openai", "display_name": "Tiny", "context_window": 2500, "max_output_tokens": 300,
            "pricing": {"input": 1.0, "output": 2.0}, "tokenizer": "o200k_base"}]}"#,
    )
    .unwrap();
    let mut manual = String::from("# Manual\n\n");
    for i in 0..150 {
        manual.push_str(&format!("## Section {i}\n\nSection {i} covers routine maintenance item number {i} in detail, with torque values and checks.\n\n"));
    }
    manual.push_str("## Descaling\n\nDescale the boiler with citric acid every three months.\n");
    (app_with(true, catalog, Duration::ZERO).await, manual)
}

/// The characters of `text` from a citation's `start` to its `end`.
fn span(text: &str, citation: &Value) -> String {
    let start = citation["start"].as_u64().unwrap() as usize;
    let end = citation["end"].as_u64().unwrap() as usize;
    text.chars().skip(start).take(end - start).collect()
}

/// The tokens a context record adds up to: instructions, datasets, history and the prompt.
fn context_total(context: &Value) -> u64 {
    [
        "instructions_tokens",
        "datasets_tokens",
        "history_tokens",
        "prompt_tokens",
    ]
    .iter()
    .map(|k| context[k].as_u64().unwrap())
    .sum()
}

/// The entry of a JSON array whose `key` is `value`.
fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    let mut entries = list.as_array().unwrap().iter();
    entries.find(|m| m[key] == value).unwrap()
}

/// A response's `Retry-After` seconds.
fn retry_after(response: &Response) -> u64 {
    let header = response.headers()["retry-after"].to_str().unwrap();
    header.parse().unwrap()
}

/// The `data:` payloads of a streamed `/v1` completion.
fn data_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect()
}

/// The content a streamed `/v1` completion's chunks carry.
fn streamed_content(chunks: &[Value]) -> String {
    let deltas = chunks.iter();
    deltas
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// The `key` string of every entry of a JSON array.
fn strs<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    let entries = list.as_array().unwrap().iter();
    entries.map(|m| m[key].as_str().unwrap()).collect()
}

/// Asserts a 422 that names `field`.
fn assert_refused_field(status: StatusCode, problem: &Value, field: &str) {
    let named = problem["field"].as_str();
    assert_eq!(
        (status, named),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(field))
    );
}

const GUIDE: &str =
    "# Espresso guide\n\n## Tamping\n\nTamp with thirty pounds of pressure, level and firm.\n";

#[tokio::test]
async fn each_provider_streams_a_grounded_answer_that_is_stored_with_tokens_cost_and_citations() {
    let app = app().await;
    let (_, alice, profile, datasets) = app.user_with_guide().await;
    for model in ["gpt-4.1", "claude-sonnet-4-5", "gemini-2.5-flash"] {
        let (conv, sse) = app
            .chat(
                &alice,
                json!({"profile_id": profile, "model": model}),
                json!({"content": "How hard should I tamp?"}),
            )
            .await;
        assert_eq!(sse.names(), ["meta", "delta", "usage", "done"], "{model}");
        let meta = sse.first("meta");
        let context = &meta["context"];
        assert!(
            context["instructions_tokens"].as_u64().unwrap() > 0,
            "{model}: {context}"
        );
        assert_eq!(context["datasets_mode"], "whole");
        assert!(context["prompt_tokens"].as_u64().unwrap() > 0);
        assert_eq!(context["documents"].as_array().unwrap().len(), 2);
        assert!(
            sse.text().contains("How hard should I tamp?"),
            "the fake echoes the question: {}",
            sse.text()
        );
        let usage = sse.first("usage");
        assert!(
            usage["usage"]["input"].as_u64().unwrap() > 0
                && usage["usage"]["output"].as_u64().unwrap() > 0,
            "{model}: {usage}"
        );
        assert!(usage["cost"]["total_usd"].as_f64().unwrap() > 0.0);
        assert_eq!(
            usage["cost"]["estimated"], false,
            "{model}: the bill comes from reported usage"
        );
        let done = sse.first("done");
        assert_eq!(done["finish_reason"], "stop");
        let citation = &done["message"]["citations"][0];
        assert_eq!(
            (citation["n"].as_u64(), citation["document_id"].as_str()),
            (Some(1), Some(datasets[0].as_str())),
            "{model}: {done}"
        );
        assert_eq!(citation["document_name"], "espresso.md");

        let stored = app.stored(&alice, &conv).await;
        assert_eq!(
            stored["title"], "How hard should I tamp?",
            "the first exchange names the conversation"
        );
        let messages = stored["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(
            (messages[0]["role"].as_str(), messages[1]["role"].as_str()),
            (Some("user"), Some("assistant"))
        );
        assert_eq!(messages[1]["parent_id"], messages[0]["id"]);
        assert_eq!(messages[1]["model"], model);
        assert_eq!(messages[1]["content"].as_str().unwrap(), sse.text());
        assert_eq!(stored["head_id"], messages[1]["id"]);
    }
    let usage = app.json(&alice, "/usage").await;
    let models = strs(&usage["models"], "model");
    assert_eq!(models.len(), 3, "{usage}");
    assert!(usage["total_cost_usd"].as_f64().unwrap() > 0.0);
    assert!(usage["month_cost_usd"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn a_chat_without_a_profile_draws_on_all_of_the_users_datasets_and_no_instructions() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    // Uploaded into a profile, and one more dataset in none: a chat without a profile uses both.
    let (_, mut datasets) = app.profile(alice_id, &[("espresso.md", GUIDE)]).await;
    let loose = "# Grinder\n\nGrind fine for espresso, a little coarser than flour.\n";
    datasets.push(dataset(&app, alice_id, "", "grinder.md", loose).await);

    let estimate = app
        .estimate(
            &alice,
            json!({"content": "How fine should I grind?", "model": "gpt-4.1"}),
        )
        .await;
    assert_eq!(estimate["context"]["datasets_mode"], "whole", "{estimate}");
    assert!(estimate["context"]["datasets_tokens"].as_u64().unwrap() > 0);

    let (_, sse) = app
        .chat_with(&alice, "gpt-4.1", "How fine should I grind?")
        .await;
    let context = &sse.first("meta")["context"];
    assert_eq!(context["datasets_mode"], "whole", "{context}");
    assert_eq!(
        context["instructions_tokens"], 0,
        "a profile's instructions stay with the profile: {context}"
    );
    let mut used: Vec<&str> = context["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["kind"], "dataset");
            d["document_id"].as_str().unwrap()
        })
        .collect();
    used.sort_unstable();
    datasets.sort_unstable();
    assert_eq!(used, datasets);
    let citations = sse.first("done")["message"]["citations"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!citations.is_empty(), "the answer cites the documents");

    // The OpenAI-compatible API without a profile stays ungrounded: only what the client sends.
    let completion = app.post_ok(
            &alice,
            "/v1/chat/completions",
            json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "How fine should I grind?"}]}),
        ).await;
    assert_eq!(
        completion["x_ragenie"]["citations"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "{completion}"
    );
}

#[tokio::test]
async fn the_estimate_reports_tokens_by_source_and_the_cost_before_sending() {
    let app = app().await;
    let (_, alice, profile, _) = app.user_with_guide().await;
    let estimate = app.estimate(&alice, json!({"content": "How hard should I tamp?", "profile_id": profile, "model": "gpt-4.1"})).await;
    let c = &estimate["context"];
    let sum = context_total(c);
    assert_eq!(estimate["total_input_tokens"].as_u64().unwrap(), sum);
    assert!(c["datasets_tokens"].as_u64().unwrap() > 10);
    assert!(estimate["estimated_cost_usd"].as_f64().unwrap() > 0.0);
    assert!(estimate["context_window"].as_u64().unwrap() > 100_000);
    let bad = app
        .post(
            &alice,
            "/chat/estimate",
            json!({"content": "x", "model": "no-such-model"}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn datasets_that_do_not_fit_the_window_are_retrieved_as_cited_chunks() {
    let (app, manual) = tiny_app_and_manual().await;
    let (alice_id, alice) = test_user();
    let (profile, datasets) = app.profile(alice_id, &[("manual.md", &manual)]).await;
    let (_, sse) = app
        .chat(
            &alice,
            json!({"profile_id": profile, "model": "tiny"}),
            json!({"content": "How often should I descale the boiler?"}),
        )
        .await;
    let context = &sse.first("meta")["context"];
    assert_eq!(context["datasets_mode"], "retrieved", "{context}");
    let total = context_total(context);
    assert!(
        total + 300 <= 2500,
        "the context fits the window: {context}"
    );
    let citation = &sse.first("done")["message"]["citations"][0];
    assert_eq!(citation["document_id"], datasets[0].as_str());
    assert_eq!(
        citation["heading_path"],
        json!(["Manual", "Descaling"]),
        "the best chunk is cited first: {citation}"
    );
    let text = Corpus::new(app.state.table.clone(), app.state.blobs.clone())
        .text(alice_id, &datasets[0])
        .await
        .unwrap()
        .1;
    assert!(span(&text, citation).contains("citric acid"));
}

#[tokio::test]
async fn regenerate_adds_a_sibling_answer_and_editing_starts_a_new_branch() {
    let app = app().await;
    let (alice, conv) = app.new_chat("gpt-4.1").await;
    let first = app
        .send(&alice, &conv, json!({"content": "First question"}))
        .await;
    let answer1 = first.first("done")["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let question1 = first.first("meta")["user_message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app
        .send(&alice, &conv, json!({"content": "Second question"}))
        .await;
    assert_eq!(second.first("meta")["context"]["history_messages_sent"], 2);

    let r = app
        .post(
            &alice,
            &format!("/conversations/{conv}/messages/{answer1}/regenerate"),
            json!({}),
        )
        .await;
    let regen = Sse::parse(&r.text().await.unwrap());
    let sibling = &regen.first("done")["message"];
    assert_eq!(
        sibling["parent_id"],
        question1.as_str(),
        "a regenerated answer is a sibling of the first"
    );
    assert_ne!(sibling["id"], answer1.as_str());

    // Editing the second question = a new user message after the first answer.
    let edit = json!({"content": "Second question, edited", "parent_id": answer1});
    let edited = app.send(&alice, &conv, edit).await;
    assert_eq!(
        edited.first("done")["message"]["parent_id"],
        edited.first("meta")["user_message_id"]
    );
    assert_eq!(
        edited.first("meta")["context"]["history_messages_sent"],
        2,
        "the branch holds only the first exchange"
    );
    let stored = app.stored(&alice, &conv).await;
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 7);
    let children_of_answer1 = messages
        .iter()
        .filter(|m| m["parent_id"] == answer1.as_str())
        .count();
    assert_eq!(
        children_of_answer1, 2,
        "two branches continue from the first answer"
    );
    let bad = app
        .message(
            &alice,
            &conv,
            json!({"content": "x", "parent_id": question1}),
        )
        .await;
    assert_eq!(
        bad.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a message cannot follow a question"
    );
}

#[tokio::test]
async fn the_stop_call_ends_a_long_answer_and_the_partial_text_is_saved() {
    let app = slow_app().await;
    let (alice, conv) = app.new_chat("gpt-4.1").await;
    let (mut body, mut seen) =
        web_stream(&app, &alice, &conv, "Tell me everything [[fake:long=3000]]").await;
    stop_and_read_to_end(
        &app,
        &alice,
        &format!("/conversations/{conv}/stop"),
        &mut body,
        &mut seen,
    )
    .await;
    let sse = Sse::parse(&seen);
    let done = sse.first("done");
    assert_eq!(done["finish_reason"], "stopped");
    let partial = done["message"]["content"].as_str().unwrap();
    assert!(
        !partial.is_empty() && partial.split_whitespace().count() < 3000,
        "a partial answer"
    );
    let stored = app.stored(&alice, &conv).await;
    assert_eq!(stored["messages"][1]["finish_reason"], "stopped");
    assert_eq!(
        stored["messages"][0]["content"],
        "Tell me everything [[fake:long=3000]]"
    );
}

/// A stop request is for the answer asked for before it, never for a later one: one made
/// before the answer task runs (a fast client, a slow server) still stops it; one left from an
/// earlier answer does not cut the next short.
#[tokio::test]
async fn a_stop_made_after_the_question_stops_its_answer_and_an_older_one_does_not() {
    let app = slow_app().await;
    let (user, alice) = test_user();
    let conv = app.conversation(&alice, json!({"model": "gpt-4.1"})).await;
    // A stop flag for `conv`, requested at `requested_at`.
    let flag = |requested_at: &str| {
        let item = ragenie_common::storage::Item::new(
            user.partition(),
            ragenie_conversation::keys::stop_sk(&conv),
        )
        .with("requested_at", requested_at.to_owned())
        .expires_at(ragenie_common::clock::unix_now() + 300);
        let table = app.state.table.clone();
        async move {
            let unconditional = ragenie_common::storage::Condition::None;
            table.put(item, unconditional).await.unwrap();
        }
    };
    async fn finish(app: &App, alice: &str, conv: &str) -> Value {
        let response = app
            .message(
                alice,
                conv,
                json!({"content": "Tell me everything [[fake:long=400]]"}),
            )
            .await;
        let mut body = response.bytes_stream();
        let mut seen = String::new();
        assert!(read_to_end(&mut body, &mut seen, Duration::from_secs(30)).await);
        Sse::parse(&seen).first("done")["finish_reason"].clone()
    }
    // Left from an earlier answer.
    flag("2000-01-01T00:00:00.000000Z").await;
    assert_eq!(finish(&app, &alice, &conv).await, "stop");
    // Made after the question (a stamp from the future stands for "since it was asked").
    flag("9999-01-01T00:00:00.000000Z").await;
    assert_eq!(finish(&app, &alice, &conv).await, "stopped");
}

#[tokio::test]
async fn closing_the_stream_stops_the_answer_and_keeps_both_messages() {
    let app = slow_app().await;
    let (alice, conv) = app.new_chat("claude-sonnet-4-5").await;
    let (body, _) = web_stream(&app, &alice, &conv, "Go on [[fake:long=3000]]").await;
    drop(body);
    let mut stored = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stored = app.stored(&alice, &conv).await;
        if stored["messages"].as_array().unwrap().len() == 2 {
            break;
        }
    }
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{stored}");
    assert_eq!(messages[1]["finish_reason"], "stopped");
    assert!(
        messages[1]["content"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count()
            < 3000
    );
}

#[tokio::test]
async fn a_provider_failure_keeps_the_question_and_the_partial_answer_marked_failed() {
    let app = app().await;
    let (_, alice) = test_user();
    let (conv, sse) = app
        .chat_with(
            &alice,
            "gemini-2.5-flash",
            "Explain it all [[fake:long=200 cut]]",
        )
        .await;
    assert_eq!(sse.names().last(), Some(&"done"));
    assert!(!sse.first("error")["message"].as_str().unwrap().is_empty());
    let done = sse.first("done");
    assert_eq!(done["finish_reason"], "error");
    assert!(
        !done["message"]["content"].as_str().unwrap().is_empty(),
        "the partial answer is kept"
    );
    assert!(done["message"]["error"].is_string());

    let refused = app
        .send(&alice, &conv, json!({"content": "Again [[fake:500]]"}))
        .await;
    assert_eq!(refused.first("done")["finish_reason"], "error");
    // The cut answer is billed what was used; the refused one costs nothing.
    assert!(sse.first("usage")["cost"]["total_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(refused.first("usage")["cost"]["total_usd"], 0.0);
    let stored = app.stored(&alice, &conv).await;
    let contents = strs(&stored["messages"], "content");
    assert!(
        contents.contains(&"Again [[fake:500]]"),
        "the user's message is never lost: {contents:?}"
    );
}

#[tokio::test]
async fn a_spent_monthly_budget_refuses_new_messages_with_402() {
    let app = app().await;
    let (alice, conv) = app.new_chat("gpt-4.1").await;
    app.send(&alice, &conv, json!({"content": "hello"})).await;
    assert_eq!(app.set_budget(&alice, 0.0000001).await, 200);
    let refused = app.message(&alice, &conv, json!({"content": "more"})).await;
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
    let problem: Value = refused.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("budget"));
    assert_eq!(app.set_budget(&alice, 100.0).await, 200);
    assert_eq!(
        app.message(&alice, &conv, json!({"content": "more"}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn without_provider_keys_the_retrieval_only_model_answers_from_the_documents() {
    let app = app_with(false, Catalog::built_in(), Duration::ZERO).await;
    let (_, alice, profile, datasets) = app.user_with_guide().await;
    let models = app.json(&alice, "/models").await;
    assert_eq!(models["offline"], true);
    assert_eq!(models["default_model"], "ragenie-retrieval-only");
    assert!(
        models["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "gpt-4.1"
                && m["available"] == false
                && m["unavailable_reason"].is_string())
    );
    let (conv, sse) = app.chat_on_profile(&alice, &profile, "tamp pressure").await;
    assert!(sse.text().contains("thirty pounds"), "{}", sse.text());
    assert_eq!(
        sse.first("done")["message"]["citations"][0]["document_id"],
        datasets[0].as_str()
    );
    let r = app
        .message(&alice, &conv, json!({"content": "x", "model": "gpt-4.1"}))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a provider without a key is refused clearly"
    );
}

#[tokio::test]
async fn the_openai_compatible_api_answers_streaming_and_not_with_profile_grounding() {
    let app = app().await;
    let (_, alice, profile, _) = app.user_with_guide().await;
    let models = app.json(&alice, "/v1/models").await;
    assert_eq!(models["object"], "list");
    assert!(strs(&models["data"], "id").contains(&"gpt-4.1"));

    let body = json!({"model": format!("gpt-4.1@{profile}"), "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How hard to tamp?"}]});
    let completion = app.post_ok(&alice, "/v1/chat/completions", body).await;
    assert_eq!(completion["object"], "chat.completion");
    assert!(
        completion["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("[1]"),
        "grounded: {completion}"
    );
    assert!(completion["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        completion["x_ragenie"]["citations"][0]["document_name"], "espresso.md",
        "citations ride along: {completion}"
    );

    let r = app
        .request(Method::POST, &alice, "/v1/chat/completions")
        .header("x-ragenie-profile", &profile)
        .json(&json!({"model": "claude-sonnet-4-5", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Tamping?"}]}))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    let chunks = data_lines(&text);
    assert_eq!(chunks.last(), Some(&"[DONE]"));
    let parsed: Vec<Value> = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| serde_json::from_str(c).unwrap())
        .collect();
    let content = streamed_content(&parsed);
    assert!(content.contains("Tamping?"));
    assert!(
        parsed
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop")
    );
    assert!(
        parsed.last().unwrap()["usage"]["completion_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn conversations_are_listed_searched_renamed_exported_and_deleted() {
    let app = app().await;
    let (_, alice) = test_user();
    let older = app.conversation(&alice, json!({"model": "gpt-4.1"})).await;
    app.send(
        &alice,
        &older,
        json!({"content": "Tell me about volcanoes"}),
    )
    .await;
    let newer = app
        .conversation(&alice, json!({"model": "gpt-4.1", "title": "Gardening"}))
        .await;
    app.send(
        &alice,
        &newer,
        json!({"content": "Which tomatoes grow best?"}),
    )
    .await;
    let list = app.json(&alice, "/conversations?limit=1").await;
    assert_eq!(list["items"][0]["id"], newer.as_str(), "most recent first");
    let next = list["next_cursor"].as_str().unwrap();
    assert_eq!(
        app.json(&alice, &format!("/conversations?limit=1&cursor={next}"))
            .await["items"][0]["id"],
        older.as_str()
    );

    let hits = app.json(&alice, "/conversations/search?q=volcanoes").await;
    assert_eq!(hits["items"].as_array().unwrap().len(), 1);
    assert_eq!(hits["items"][0]["conversation"]["id"], older.as_str());
    assert!(
        hits["items"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("volcanoes")
    );
    assert_eq!(
        app.json(&alice, "/conversations/search?q=gardening").await["items"][0]["conversation"]["id"],
        newer.as_str()
    );
    // Out-of-range limits and over-long queries are refused as the contract says, not clamped.
    let long_query = format!("/conversations/search?q={}", "é".repeat(501));
    for path in [
        "/conversations/search?q=volcanoes&limit=0",
        "/conversations/search?q=volcanoes&limit=101",
        long_query.as_str(),
    ] {
        let refused = app.fetch(Method::GET, &alice, path).await;
        assert_eq!(refused.status(), 422, "{path}");
    }
    // 500 characters is within the limit even where they take more than 500 bytes.
    let at_limit = app
        .json(
            &alice,
            &format!("/conversations/search?q={}", "é".repeat(500)),
        )
        .await;
    assert_eq!(at_limit["items"].as_array().unwrap().len(), 0);

    let path = format!("/conversations/{older}");
    let rename = json!({"title": "Volcanoes"});
    let (_, renamed) = app.call(&alice, "PATCH", &path, Some(rename)).await;
    assert_eq!(renamed["title"], "Volcanoes");
    let md = app
        .fetch(
            Method::GET,
            &alice,
            &format!("/conversations/{older}/export?format=md"),
        )
        .await;
    assert!(
        md.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let md = md.text().await.unwrap();
    assert!(
        md.starts_with("# Volcanoes")
            && md.contains("Tell me about volcanoes")
            && md.contains("## Assistant"),
        "{md}"
    );
    let json_export = app
        .json(
            &alice,
            &format!("/conversations/{older}/export?format=json"),
        )
        .await;
    assert_eq!(json_export["messages"].as_array().unwrap().len(), 2);

    let deleted = app
        .fetch(Method::DELETE, &alice, &format!("/conversations/{older}"))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.fetch(Method::GET, &alice, &format!("/conversations/{older}"))
            .await
            .status(),
        404
    );
    assert!(
        app.items(&alice, "/conversations/search?q=volcanoes")
            .await
            .is_empty(),
        "its messages are gone too"
    );
}

#[tokio::test]
async fn another_user_gets_404_on_every_conversation_endpoint_and_changes_nothing() {
    let app = app().await;
    let [alice, mallory] = bearers();
    let (conv, sse) = app.chat_with(&alice, "gpt-4.1", "my secret plan").await;
    let answer = sse.first("done")["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = app.stored(&alice, &conv).await;
    let url = |p: String| app.url(&p);
    let attempts = vec![
        app.http.get(url(format!("/conversations/{conv}"))),
        app.http
            .patch(url(format!("/conversations/{conv}")))
            .json(&json!({"title": "pwned"})),
        app.http.delete(url(format!("/conversations/{conv}"))),
        app.http
            .get(url(format!("/conversations/{conv}/export?format=json"))),
        app.http
            .post(url(format!("/conversations/{conv}/messages")))
            .json(&json!({"content": "hi"})),
        app.http.post(url(format!(
            "/conversations/{conv}/messages/{answer}/regenerate"
        ))),
        app.http.post(url(format!("/conversations/{conv}/stop"))),
        app.http
            .post(url("/chat/estimate".into()))
            .json(&json!({"content": "x", "conversation_id": conv})),
    ];
    for attempt in attempts {
        let r = attempt
            .header("authorization", &mallory)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{}", r.url().path());
    }
    assert!(
        app.items(&mallory, "/conversations/search?q=secret")
            .await
            .is_empty()
    );
    assert!(app.items(&mallory, "/conversations").await.is_empty());
    assert_eq!(app.stored(&alice, &conv).await, before);
}

#[tokio::test]
async fn an_imported_conversation_keeps_its_turns_and_importing_twice_creates_nothing_new() {
    let app = app().await;
    let (_, alice) = test_user();
    let body = json!({
        "title": "old session", "created_at": "2024-03-01T10:00:00Z", "import_key": "sha-abc",
        "messages": [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"}]
    });
    let first = app
        .post(&alice, "/conversations/import", body.clone())
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let conv: Value = first.json().await.unwrap();
    assert_eq!(
        (conv["message_count"].as_u64(), conv["created_at"].as_str()),
        (Some(4), Some("2024-03-01T10:00:00.000000Z"))
    );
    let again = app.post(&alice, "/conversations/import", body).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], conv["id"]);
    assert_eq!(app.items(&alice, "/conversations").await.len(), 1);
    let id = conv["id"].as_str().unwrap();
    let stored = app.json(&alice, &format!("/conversations/{id}")).await;
    let messages = stored["messages"].as_array().unwrap();
    let contents: Vec<&str> = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["Q1", "A1", "Q2", "A2"]);
    assert_eq!(messages[3]["parent_id"], messages[2]["id"]);
    // The imported conversation continues like any other.
    let sse = app
        .send(&alice, id, json!({"content": "Q3", "model": "gpt-4.1"}))
        .await;
    assert_eq!(sse.first("meta")["context"]["history_messages_sent"], 4);
    let bad = app
        .post(
            &alice,
            "/conversations/import",
            json!({"title": "x", "messages": [{"role": "system", "content": "s"}]}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Today's usage totals: (messages, estimated messages, input tokens, output tokens, cost).
async fn usage_today(app: &App, bearer: &str) -> (i64, i64, i64, i64, f64) {
    let usage = app.json(bearer, "/usage").await;
    let i = |k: &str| {
        usage["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d[k].as_i64().unwrap())
            .sum::<i64>()
    };
    (
        i("messages"),
        i("estimated_messages"),
        i("input_tokens"),
        i("output_tokens"),
        usage["total_cost_usd"].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn the_web_chat_and_the_openai_api_bill_the_same_exchange_the_same_cache_tokens_included() {
    let app = app().await;
    let [alice, bob] = bearers();
    // The fake reports cache reads and writes for this prompt: they are priced apart.
    let prompt = "How hard should I tamp? [[fake:cache]]";
    let (_, sse) = app.chat_with(&alice, "claude-sonnet-4-5", prompt).await;
    let web = sse.first("usage").clone();
    assert!(
        web["usage"]["cache_read"].as_u64().unwrap() > 0
            && web["usage"]["cache_write"].as_u64().unwrap() > 0,
        "{web}"
    );

    let completion = app.post_ok(
            &bob,
            "/v1/chat/completions",
            json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": prompt}]}),
        ).await;
    assert_eq!(
        completion["x_ragenie"]["usage"], web["usage"],
        "the same tokens"
    );
    assert_eq!(
        completion["x_ragenie"]["cost"], web["cost"],
        "the same bill"
    );
    let u = &web["usage"];
    let all_input = ["input", "cache_read", "cache_write"]
        .iter()
        .map(|k| u[*k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(completion["usage"]["prompt_tokens"], all_input);
    assert_eq!(
        completion["usage"]["prompt_tokens_details"]["cached_tokens"],
        u["cache_read"]
    );
    // Cache costs are in the input cost, on both paths.
    let c = &web["cost"];
    let sum = c["input_usd"].as_f64().unwrap() + c["output_usd"].as_f64().unwrap();
    assert!(
        (sum - c["total_usd"].as_f64().unwrap()).abs() < 1e-12,
        "{c}"
    );
    // And the ledger holds the same for both users.
    assert_eq!(
        usage_today(&app, &alice).await,
        usage_today(&app, &bob).await
    );
}

/// Reads the stream into `seen` until it ends or `limit` passes; whether it ended.
async fn read_to_end(
    body: &mut (impl futures::Stream<Item = reqwest::Result<Bytes>> + Unpin),
    seen: &mut String,
    limit: Duration,
) -> bool {
    tokio::time::timeout(limit, async {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    })
    .await
    .is_ok()
}

/// Stops an answer with `POST path` and reads its stream on: the stop is accepted, and the
/// stream ends soon after.
async fn stop_and_read_to_end(
    app: &App,
    bearer: &str,
    path: &str,
    body: &mut (impl futures::Stream<Item = reqwest::Result<Bytes>> + Unpin),
    seen: &mut String,
) {
    assert_eq!(app.stop(bearer, path).await, StatusCode::ACCEPTED);
    let ended = read_to_end(body, seen, Duration::from_secs(20)).await;
    assert!(ended, "the stream ends soon after the stop");
}

/// A streaming `/v1` completion of a long answer, read until `chunks` content chunks arrived:
/// the body (to read on, or drop) and what was read.
async fn long_v1_stream(
    app: &App,
    bearer: &str,
    chunks: usize,
) -> (
    impl futures::Stream<Item = reqwest::Result<Bytes>> + Unpin,
    String,
) {
    let response = app
        .post(
            bearer,
            "/v1/chat/completions",
            json!({"model": "gpt-4.1", "stream": true,
                   "messages": [{"role": "user", "content": "Tell me everything [[fake:long=3000]]"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    read_until_count(response, "\"content\"", chunks).await
}

/// Sends `content` to `conv` and reads the answer's stream until its first delta: the body (to
/// read on, or drop) and what was read.
async fn web_stream(
    app: &App,
    bearer: &str,
    conv: &str,
    content: &str,
) -> (
    impl futures::Stream<Item = reqwest::Result<Bytes>> + Unpin,
    String,
) {
    let response = app
        .message(bearer, conv, json!({ "content": content }))
        .await;
    read_until_count(response, "event: delta", 1).await
}

/// Reads a streamed response until `needle` was seen `count` times: the rest of the body and
/// what was read.
async fn read_until_count(
    response: Response,
    needle: &str,
    count: usize,
) -> (
    impl futures::Stream<Item = reqwest::Result<Bytes>> + Unpin,
    String,
) {
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches(needle).count() < count {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
    }
    (body, seen)
}

#[tokio::test]
async fn an_openai_client_that_leaves_mid_stream_is_billed_an_estimate_of_what_was_used() {
    let app = slow_app().await;
    let (_, alice) = test_user();
    let (body, _) = long_v1_stream(&app, &alice, 4).await;
    drop(body);
    let mut billed = (0, 0, 0, 0, 0.0);
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        billed = usage_today(&app, &alice).await;
        if billed.0 > 0 {
            break;
        }
    }
    let (messages, estimated, input, output, cost) = billed;
    assert_eq!((messages, estimated), (1, 1), "billed once, as an estimate");
    assert!(input > 0 && output > 0 && cost > 0.0, "{billed:?}");
    assert!(
        output < 3000,
        "only what was generated before the client left"
    );
}

#[tokio::test]
async fn the_v1_stop_call_ends_a_streaming_completion_which_is_billed_what_was_used() {
    let app = slow_app().await;
    let [alice, mallory] = bearers();
    let (mut body, mut seen) = long_v1_stream(&app, &alice, 3).await;
    let first: Value =
        serde_json::from_str(seen.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("chatcmpl-"), "{id}");

    // Not a completion id, and someone else's stop: neither touches the answer.
    assert_eq!(
        app.stop(&alice, "/v1/chat/completions/not-an-id/stop")
            .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.stop(&mallory, &format!("/v1/chat/completions/{id}/stop"))
            .await,
        StatusCode::ACCEPTED
    );
    let before = seen.len();
    read_to_end(&mut body, &mut seen, Duration::from_millis(1500)).await;
    assert!(
        seen.len() > before && !seen.contains("[DONE]"),
        "another user's stop flag is their own: the answer goes on"
    );

    stop_and_read_to_end(
        &app,
        &alice,
        &format!("/v1/chat/completions/{id}/stop"),
        &mut body,
        &mut seen,
    )
    .await;
    assert!(seen.contains("data: [DONE]"), "the stream ends properly");
    let (messages, _, input, output, cost) = usage_today(&app, &alice).await;
    assert_eq!(messages, 1, "billed once");
    assert!(input > 0 && output > 0 && cost > 0.0);
    assert!(output < 3000, "only what was generated before the stop");
}

#[tokio::test]
async fn a_profiles_default_model_answers_a_new_conversation_when_none_is_picked() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let profile = profiles::create(
        app.state.table.as_ref(),
        alice_id,
        NewProfile {
            name: "Espresso".into(),
            default_model: Some("gemini-2.5-flash".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
    .to_string();
    let (conv, sse) = app.chat_on_profile(&alice, &profile, "Tamping?").await;
    assert_eq!(sse.first("meta")["model"], "gemini-2.5-flash");
    let estimate = app
        .post(
            &alice,
            "/chat/estimate",
            json!({"content": "Tamping?", "profile_id": profile}),
        )
        .await;
    assert_eq!(
        estimate.json::<Value>().await.unwrap()["model"],
        "gemini-2.5-flash",
        "the estimate follows the same rule"
    );
    let sse = app
        .send(
            &alice,
            &conv,
            json!({"content": "And grind?", "model": "gpt-4.1"}),
        )
        .await;
    assert_eq!(sse.first("meta")["model"], "gpt-4.1", "a picked model wins");
}

/// Reads a streamed response until `needle` shows up (or the stream ends).
async fn read_until(response: reqwest::Response, needle: &str) -> String {
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains(needle) {
        match body.next().await {
            Some(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk.unwrap())),
            None => break,
        }
    }
    seen
}

#[tokio::test]
async fn a_silent_provider_gets_keep_alives_on_both_entry_points() {
    let app = app().await;
    let (alice, conv) = app.new_chat("gpt-4.1").await;
    // One chunk, then the provider says nothing for an hour.
    let prompt = "Think hard [[fake:stall]]";
    let web = app.message(&alice, &conv, json!({"content": prompt})).await;
    let v1 = app
        .post(
            &alice,
            "/v1/chat/completions",
            json!({"model": "gpt-4.1", "stream": true, "messages": [{"role": "user", "content": prompt}]}),
        )
        .await;
    let wait = Duration::from_secs(30);
    let (web, v1) = tokio::time::timeout(
        wait,
        futures::future::join(
            read_until(web, ": keep-alive"),
            read_until(v1, ": keep-alive"),
        ),
    )
    .await
    .expect("a keep-alive within 30 s");
    assert!(web.contains("event: delta"), "{web}");
    assert!(v1.contains("chat.completion.chunk"), "{v1}");
}

// ---- Operator limits: the quota, requests per minute and the stream cap, enforced in the one
// answer pipeline for the web chat and /v1 alike, with concurrent clients on a local server.

async fn operator_limits(app: &App, quota: Option<f64>, per_minute: u32, at_once: u32) {
    use ragenie_common::accounts::operator::{self, OperatorSettings, RegistrationPolicy};
    operator::save_settings(
        app.state.table.as_ref(),
        &OperatorSettings {
            registration: RegistrationPolicy::Open,
            default_monthly_quota_usd: quota,
            requests_per_minute: per_minute,
            max_concurrent_answers: at_once,
        },
    )
    .await
    .unwrap();
}

/// Brings a user's month to `spent` dollars (settled), as earlier answers would have.
async fn spend(app: &App, user: UserId, spent: f64) {
    use ragenie_common::accounts::limits;
    let table = app.state.table.as_ref();
    let r = limits::reserve(table, user, 1_000_000.0, spent)
        .await
        .unwrap()
        .unwrap();
    limits::settle(table, &r, spent).await.unwrap();
}

async fn month(app: &App, user: UserId) -> ragenie_common::accounts::limits::MonthSpend {
    ragenie_common::accounts::limits::month_spend(app.state.table.as_ref(), user)
        .await
        .unwrap()
}

/// 20 completions at once; returns how many were answered and how many refused with 402.
async fn fire_twenty(app: &App, bearer: &str) -> (usize, usize) {
    let body = json!({"model": "gpt-4.1", "max_tokens": 50,
                      "messages": [{"role": "user", "content": "How do quotas work?"}]});
    let sends = (0..20).map(|_| async {
        let r = app.post(bearer, "/v1/chat/completions", body.clone()).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, text)
    });
    let mut answered = 0;
    let mut refused = 0;
    for (status, text) in futures::future::join_all(sends).await {
        match status {
            StatusCode::OK => answered += 1,
            StatusCode::PAYMENT_REQUIRED => {
                assert!(
                    text.contains("quota") && text.contains("renews on"),
                    "{text}"
                );
                refused += 1;
            }
            other => panic!("unexpected {other}: {text}"),
        }
    }
    (answered, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_sends_at_a_nearly_spent_quota_pass_it_by_at_most_one_reservation() {
    let app = app_with(true, Catalog::built_in(), Duration::from_millis(10)).await;
    let (alice_id, alice) = test_user();
    let spec = Catalog::built_in().get("gpt-4.1").unwrap().clone();
    // An upper bound of one answer's reservation here: the prompt is far below 2,000 tokens and
    // the output is capped at 50.
    let reservation_bound = ragenie_gateway::Cost::estimate(
        &spec,
        &ragenie_gateway::Usage {
            input: 2_000,
            output: 50,
            ..Default::default()
        },
    )
    .total_usd;

    // A cent a month, nearly spent: room for a few answers, not twenty.
    let limit = 0.01;
    spend(&app, alice_id, limit - 0.0015).await;
    operator_limits(&app, Some(limit), 10_000, 100).await;
    let (answered, refused) = fire_twenty(&app, &alice).await;
    let after = month(&app, alice_id).await;
    println!(
        "quota concurrency: fired 20, answered {answered}, refused {refused}; spent ${:.6} of ${limit:.6} (over by ${:.6}; one reservation is at most ${reservation_bound:.6})",
        after.spent_usd,
        (after.spent_usd - limit).max(0.0)
    );
    assert_eq!(answered + refused, 20);
    assert!(answered >= 1, "there was room for at least one answer");
    assert!(refused >= 1, "twenty answers do not fit in $0.0015");
    assert!(after.spent_usd <= limit + reservation_bound);
    assert!(
        (after.committed_usd - after.spent_usd).abs() < 1e-9,
        "every reservation was settled: {after:?}"
    );

    // One micro-dollar left: exactly one of twenty concurrent sends gets through.
    operator_limits(&app, Some(after.spent_usd + 0.000_001), 10_000, 100).await;
    let (answered, refused) = fire_twenty(&app, &alice).await;
    let last = month(&app, alice_id).await;
    println!(
        "quota concurrency (1 µ$ left): fired 20, answered {answered}, refused {refused}; spent ${:.6} of ${:.6}",
        last.spent_usd,
        after.spent_usd + 0.000_001
    );
    assert_eq!((answered, refused), (1, 19));
    assert!(last.spent_usd <= after.spent_usd + 0.000_001 + reservation_bound);

    // The user's own budget can only be lower: the operator's quota is not raised by it.
    assert_eq!(app.set_budget(&alice, 1000.0).await, 200);
    let (answered, _) = fire_twenty(&app, &alice).await;
    assert_eq!(answered, 0, "a generous own budget does not lift the quota");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_cap_refuses_a_fourth_concurrent_answer_with_429_until_one_ends() {
    let app = slow_app().await;
    let (alice_id, alice) = test_user();
    let (_, bob) = test_user();
    operator_limits(&app, Some(100.0), 10_000, 3).await;
    let conv = app.conversation(&alice, json!({"model": "gpt-4.1"})).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let conv = app.conversation(&alice, json!({"model": "gpt-4.1"})).await;
        let r = app
            .message(
                &alice,
                &conv,
                json!({"content": "Go on and on [[fake:long=3000]]"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        streams.push(r);
    }
    // A fourth, through the web chat or /v1, waits for one of them.
    let r = app
        .message(&alice, &conv, json!({"content": "and one more"}))
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry = retry_after(&r);
    assert!((1..=60).contains(&retry), "{retry}");
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("at most 3 answers at once")
    );
    let v1 = json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]});
    let r = app.post(&alice, "/v1/chat/completions", v1.clone()).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Nothing the refused message said was stored.
    let messages = app.stored(&alice, &conv).await;
    assert!(!messages.to_string().contains("and one more"), "{messages}");
    // Another user is not held up.
    assert_eq!(
        app.post(&bob, "/v1/chat/completions", v1.clone())
            .await
            .status(),
        200
    );

    // A client that leaves ends its answer, which is settled and frees its slot.
    drop(streams.pop());
    let freed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let r = app.post(&alice, "/v1/chat/completions", v1.clone()).await;
            if r.status() == 200 {
                break;
            }
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(freed.is_ok(), "the departed client's slot came back");
    drop(streams);
    // Once everything ended, every reservation is settled (failed answers too).
    let failed = app.post(&alice, "/v1/chat/completions",
        json!({"model": "gpt-4.1", "stream": true, "messages": [{"role": "user", "content": "[[fake:error]]"}]})).await;
    let _ = failed.text().await;
    let settled = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let m = month(&app, alice_id).await;
            if (m.committed_usd - m.spent_usd).abs() < 1e-9 {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(settled.is_ok(), "no reservation is left hanging");
}

#[tokio::test]
async fn requests_per_minute_count_the_web_chat_and_v1_together() {
    use ragenie_common::clock;
    // Early in a minute, so the window does not turn during the test.
    let now = clock::unix_now();
    let _frozen = clock::testing::freeze(
        clock::Timestamp::from_unix_seconds(now - now.rem_euclid(60) + 60 + 1).unwrap(),
    );
    let app = app().await;
    let (_, alice) = test_user();
    operator_limits(&app, None, 3, 10).await;
    let conv = app.conversation(&alice, json!({"model": "gpt-4.1"})).await;
    app.send(&alice, &conv, json!({"content": "one"})).await;
    app.send(&alice, &conv, json!({"content": "two"})).await;
    let v1 = json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "three"}]});
    assert_eq!(
        app.post(&alice, "/v1/chat/completions", v1.clone())
            .await
            .status(),
        200
    );
    let r = app.post(&alice, "/v1/chat/completions", v1.clone()).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry = retry_after(&r);
    assert_eq!(retry, 59, "until the minute turns");
    let r = app.message(&alice, &conv, json!({"content": "four"})).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("retry in 59 seconds")
    );
    // The next minute starts afresh.
    drop(_frozen);
    let now = clock::unix_now();
    let _next = clock::testing::freeze(
        clock::Timestamp::from_unix_seconds(now - now.rem_euclid(60) + 180 + 1).unwrap(),
    );
    assert_eq!(
        app.post(&alice, "/v1/chat/completions", v1).await.status(),
        200
    );
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retried_send_or_completion_replay_the_original_answer() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let (bob_id, bob) = test_user();
    let (profile, _) = app.profile(alice_id, &[("espresso.md", GUIDE)]).await;
    let conv = app
        .conversation(&alice, json!({"profile_id": profile, "model": "gpt-4.1"}))
        .await;
    let send = |bearer: &str, conv: &str, key: &str, content: &str| {
        app.request(
            Method::POST,
            bearer,
            &format!("/conversations/{conv}/messages"),
        )
        .header("idempotency-key", key)
        .json(&json!({"content": content}))
        .send()
    };
    let first = send(&alice, &conv, "send-1", "How hard to tamp?")
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let first = Sse::parse(&first.text().await.unwrap());
    let retry = send(&alice, &conv, "send-1", "How hard to tamp?")
        .await
        .unwrap();
    assert_eq!(retry.status(), 200);
    let retry = Sse::parse(&retry.text().await.unwrap());
    assert_eq!(retry.names(), ["meta", "delta", "usage", "done"]);
    for id in ["user_message_id", "assistant_message_id", "conversation_id"] {
        assert_eq!(retry.first("meta")[id], first.first("meta")[id], "{id}");
    }
    assert_eq!(retry.text(), first.text());
    assert_eq!(
        retry.first("done")["message"],
        first.first("done")["message"]
    );
    let stored = app.stored(&alice, &conv).await;
    assert_eq!(
        stored["messages"].as_array().unwrap().len(),
        2,
        "one question, one answer: {stored}"
    );
    assert_eq!(usage_today(&app, &alice).await.0, 1, "billed once");

    // The same key with another message is refused and stores nothing.
    let other = send(&alice, &conv, "send-1", "Something else?")
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let stored = app.stored(&alice, &conv).await;
    assert_eq!(stored["messages"].as_array().unwrap().len(), 2);

    // Keys are per user: Bob's same key is his own send.
    app.profile(bob_id, &[("espresso.md", GUIDE)]).await;
    let bobs_conv = app.conversation(&bob, json!({"model": "gpt-4.1"})).await;
    let bobs = send(&bob, &bobs_conv, "send-1", "Something else?")
        .await
        .unwrap();
    assert_eq!(bobs.status(), 200);
    let bobs = Sse::parse(&bobs.text().await.unwrap());
    assert_ne!(
        bobs.first("meta")["assistant_message_id"],
        first.first("meta")["assistant_message_id"]
    );

    // The OpenAI-compatible API: a retried completion is the same completion, billed once.
    let body = json!({"model": format!("gpt-4.1@{profile}"), "messages": [{"role": "user", "content": "Tamping?"}]});
    let complete = |key: &str, body: &Value| {
        app.request(Method::POST, &alice, "/v1/chat/completions")
            .header("idempotency-key", key)
            .json(body)
            .send()
    };
    let one: Value = complete("c-1", &body).await.unwrap().json().await.unwrap();
    let two: Value = complete("c-1", &body).await.unwrap().json().await.unwrap();
    assert_eq!(one["id"], two["id"]);
    assert_eq!(one["choices"], two["choices"]);
    assert_eq!(
        usage_today(&app, &alice).await.0,
        2,
        "the retry is not billed"
    );
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let refused = complete("c-1", &streamed).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A retried stream replays the answer as chunks.
    let stream_once = || async {
        let text = complete("s-1", &streamed)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let chunks: Vec<Value> = data_lines(&text)
            .into_iter()
            .filter(|c| *c != "[DONE]")
            .map(|c| serde_json::from_str(c).unwrap())
            .collect();
        let content = streamed_content(&chunks);
        (
            chunks[0]["id"].clone(),
            content,
            text.ends_with("data: [DONE]\n\n"),
        )
    };
    let (id, content, done) = stream_once().await;
    assert!(done && !content.is_empty());
    assert_eq!(stream_once().await, (id, content, true));
    assert_eq!(usage_today(&app, &alice).await.0, 3);
}

/// A provider's own error text (which can echo account ids, request details or parts of a key)
/// stays in the logs; the user sees what kind of failure it was.
#[tokio::test]
async fn provider_error_text_is_reduced_to_a_safe_message() {
    let app = app().await;
    let (alice, conv) = app.new_chat("gpt-4.1").await;
    for (content, expect) in [
        ("Refused [[fake:500]]", "HTTP 500"),
        ("Midway [[fake:long=50 error]]", "during the answer"),
    ] {
        let sse = app.send(&alice, &conv, json!({"content": content})).await;
        let shown = sse.first("error")["message"].as_str().unwrap().to_owned();
        let stored = sse.first("done")["message"]["error"]
            .as_str()
            .unwrap()
            .to_owned();
        for text in [&shown, &stored] {
            assert!(
                !text.contains("injected") && !text.to_lowercase().contains("server had an error"),
                "the provider's text leaked: {text}"
            );
            assert!(text.contains(expect), "{text}");
        }
    }
}

/// An admin account (the deployment's first) and its bearer.
async fn admin(app: &App) -> String {
    ragenie_common::testing::first_admin(app.state.table.as_ref())
        .await
        .1
}

impl App {
    async fn call(
        &self,
        bearer: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method.parse().unwrap(), bearer, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `POST /admin/models` (an admin adds a model): (status, body).
    async fn add_model(&self, admin: &str, model: Value) -> (StatusCode, Value) {
        self.call(admin, "POST", "/admin/models", Some(model)).await
    }

    /// `PATCH /admin/models/{id}` disabling it: (status, body).
    async fn disable_model(&self, admin: &str, id: &str) -> (StatusCode, Value) {
        let path = format!("/admin/models/{id}");
        let change = json!({"enabled": false});
        self.call(admin, "PATCH", &path, Some(change)).await
    }

    /// `DELETE /admin/models/{id}` (back to the catalog's values): the status.
    async fn reset_model(&self, admin: &str, id: &str) -> StatusCode {
        let path = format!("/admin/models/{id}");
        self.call(admin, "DELETE", &path, None).await.0
    }

    /// The model ids `GET /models` and `GET /v1/models` list for `bearer` (checked equal, but
    /// for the retrieval-only model and unavailable ones, which only `/models` lists).
    async fn model_ids(&self, bearer: &str) -> Vec<String> {
        let listed = self.json(bearer, "/models").await;
        let ids: Vec<String> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["available"] == true && m["id"] != "ragenie-retrieval-only")
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        let v1 = self.json(bearer, "/v1/models").await;
        let v1: Vec<String> = v1["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, v1, "/models and /v1/models agree");
        ids
    }

    /// Sends `content` with `model` in a new conversation: the status and, when answered, the
    /// stream's `usage` event and the stored answer's model.
    async fn ask(&self, bearer: &str, model: &str) -> (StatusCode, Value, Value) {
        let conv = self.conversation(bearer, json!({})).await;
        let r = self
            .message(
                bearer,
                &conv,
                json!({"content": "How hard should I tamp?", "model": model}),
            )
            .await;
        let status = r.status();
        let text = r.text().await.unwrap();
        if status != StatusCode::OK {
            return (
                status,
                serde_json::from_str(&text).unwrap_or(Value::Null),
                Value::Null,
            );
        }
        let sse = Sse::parse(&text);
        (
            status,
            sse.first("usage").clone(),
            sse.first("done")["message"]["model"].clone(),
        )
    }
}

#[tokio::test]
async fn admins_disable_add_and_price_models_and_users_see_and_use_only_what_they_may() {
    let app = app_full(true, Catalog::built_in(), Duration::ZERO, true).await;
    let admin = admin(&app).await;
    let (alice_id, alice) = test_user();

    let (status, _) = app.call(&alice, "GET", "/admin/models", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "users cannot manage models");
    let (status, list) = app.call(&admin, "GET", "/admin/models", None).await;
    assert_eq!(status, StatusCode::OK);
    let gpt = find(&list["items"], "id", "gpt-4.1");
    assert_eq!(
        (gpt["enabled"].as_bool(), gpt["source"].as_str()),
        (Some(true), Some("catalog"))
    );
    assert_eq!(gpt["input_price"], 2.0);

    // Disabled: gone from both lists, refused by id, dated snapshot and LiteLLM name alike.
    let (status, changed) = app.disable_model(&admin, "gpt-4.1").await;
    assert_eq!(
        (status, changed["enabled"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert!(!app.model_ids(&alice).await.contains(&"gpt-4.1".to_owned()));
    for name in ["gpt-4.1", "gpt-4.1-2025-04-14", "openai/gpt-4.1"] {
        let (status, problem, _) = app.ask(&alice, name).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        assert!(
            problem["detail"].as_str().unwrap().contains("disabled"),
            "{problem}"
        );
    }

    // An Ollama/vLLM model added with its price: listed, answers, billed at that price.
    let (status, added) = app
        .add_model(
            &admin,
            json!({"id": "llama3.1", "provider": "openai_compatible",
            "context_window": 8192, "input_price": 0.5, "output_price": 1.5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(
        (added["source"].as_str(), added["context_window"].as_u64()),
        (Some("added"), Some(8192))
    );
    assert!(app.model_ids(&alice).await.contains(&"llama3.1".to_owned()));
    let (status, usage, model) = app.ask(&alice, "llama3.1").await;
    assert_eq!((status, model.as_str()), (StatusCode::OK, Some("llama3.1")));
    let input = usage["usage"]["input"].as_f64().unwrap();
    let output = usage["usage"]["output"].as_f64().unwrap();
    let expected = (input * 0.5 + output * 1.5) / 1e6;
    assert!(
        (usage["cost"]["total_usd"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{usage}"
    );
    assert_eq!(usage["cost"]["unpriced"], false);

    let (status, _) = app
        .add_model(&admin, json!({"id": "gpt-4o", "provider": "openai"}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a catalog model is changed, not added"
    );
    let (status, problem) = app
        .add_model(&admin, json!({"id": "m", "provider": "mistral"}))
        .await;
    assert_refused_field(status, &problem, "provider");
    let (status, problem) = app
        .add_model(
            &admin,
            json!({"id": "m", "provider": "openai", "input_price": 1.0}),
        )
        .await;
    assert_refused_field(status, &problem, "output_price");

    // Ids the providers use today work without a code change.
    let (status, usage, model) = app.ask(&alice, "claude-sonnet-4-5-20250929").await;
    assert_eq!(
        (status, model.as_str()),
        (StatusCode::OK, Some("claude-sonnet-4-5-20250929"))
    );
    assert!(
        usage["cost"]["total_usd"].as_f64().unwrap() > 0.0,
        "priced as claude-sonnet-4-5: {usage}"
    );
    let (status, usage, model) = app.ask(&alice, "anthropic/claude-haiku-4-5").await;
    assert_eq!(
        (status, model.as_str()),
        (StatusCode::OK, Some("claude-haiku-4-5"))
    );
    assert!(usage["cost"]["total_usd"].as_f64().unwrap() > 0.0);
    let (status, usage, _) = app.ask(&alice, "gpt-6-preview").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a new model of a configured provider answers"
    );
    assert_eq!(
        (
            usage["cost"]["unpriced"].as_bool(),
            usage["cost"]["total_usd"].as_f64()
        ),
        (Some(true), Some(0.0)),
        "its cost is flagged unknown, not free: {usage}"
    );
    let report = app.json(&alice, "/usage").await;
    let row = find(&report["models"], "model", "gpt-6-preview");
    assert_eq!(row["unpriced_messages"], 1, "{report}");

    // An allow-list: only those models, listed and usable (a dated id counts as its entry).
    use ragenie_common::accounts::operator::{self, UserLimits};
    operator::set_user_limits(
        app.state.table.as_ref(),
        alice_id,
        &UserLimits {
            allowed_models: Some(vec!["claude-haiku-4-5".into()]),
            ..UserLimits::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(app.model_ids(&alice).await, ["claude-haiku-4-5"]);
    let (status, problem, _) = app.ask(&alice, "gpt-4o").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        problem["detail"].as_str().unwrap().contains("may not use"),
        "{problem}"
    );
    let (status, _, model) = app.ask(&alice, "claude-haiku-4-5-20251001").await;
    assert_eq!(
        (status, model.as_str()),
        (StatusCode::OK, Some("claude-haiku-4-5-20251001"))
    );
    assert_eq!(
        app.json(&alice, "/models").await["default_model"],
        "claude-haiku-4-5"
    );
    let (_, sse) = app.chat(&alice, json!({}), json!({"content": "hi"})).await;
    assert_eq!(
        sse.first("done")["message"]["model"],
        "claude-haiku-4-5",
        "the default is one they may use"
    );

    // Reset: the catalog's values again; unknown ids are 404.
    assert_eq!(
        app.reset_model(&admin, "gpt-4.1").await,
        StatusCode::NO_CONTENT
    );
    let (_, list) = app.call(&admin, "GET", "/admin/models", None).await;
    let gpt = find(&list["items"], "id", "gpt-4.1");
    assert_eq!(gpt["enabled"], true);
    assert_eq!(
        app.reset_model(&admin, "no-such-model").await,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app.disable_model(&admin, "no-such-model").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.reset_model(&admin, "llama3.1").await,
        StatusCode::NO_CONTENT
    );
    let (_, list) = app.call(&admin, "GET", "/admin/models", None).await;
    assert!(
        !list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "llama3.1")
    );
}

#[tokio::test]
async fn under_an_operator_quota_a_model_without_a_price_is_refused_until_an_admin_prices_it() {
    let app = app().await;
    let admin = admin(&app).await;
    let (_, alice) = test_user();
    operator_limits(&app, Some(5.0), 100, 3).await;
    let (status, problem, _) = app.ask(&alice, "gpt-6-preview").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no known price"),
        "{problem}"
    );
    let (status, _, _) = app.ask(&alice, "gpt-4.1").await;
    assert_eq!(status, StatusCode::OK, "priced models still answer");
    let (status, added) = app
        .add_model(
            &admin,
            json!({"id": "gpt-6-preview", "provider": "openai",
            "input_price": 3.0, "output_price": 12.0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["price_set_by_admin"], true);
    let (status, usage, _) = app.ask(&alice, "gpt-6-preview").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        usage["cost"]["total_usd"].as_f64().unwrap() > 0.0,
        "{usage}"
    );
    // Without a quota, an unpriced model answers (flagged unknown).
    operator_limits(&app, None, 100, 3).await;
    let (status, usage, _) = app.ask(&alice, "gpt-7").await;
    assert_eq!(
        (status, usage["cost"]["unpriced"].as_bool()),
        (StatusCode::OK, Some(true))
    );
}

/// Stores `text` as one of `user`'s Markdown datasets in `folder`; its id.
async fn dataset(app: &App, user: UserId, folder: &str, name: &str, text: &str) -> String {
    Corpus::new(app.state.table.clone(), app.state.blobs.clone())
        .upload(
            user,
            NewDocument {
                name: name.into(),
                folder: folder.into(),
                kind: DocumentKind::Dataset,
                media_type: "text/markdown".into(),
                bytes: Bytes::from(text.to_owned()),
            },
        )
        .await
        .unwrap()
        .0
        .id
}

#[tokio::test]
async fn an_attached_file_in_a_chat_without_a_profile_is_sent_whole_shown_and_cited() {
    let app = app().await;
    let (alice_id, alice) = test_user();
    let (_, mallory) = test_user();
    let attached = dataset(
        &app,
        alice_id,
        "inbox",
        "invoice.md",
        "# Invoice\n\nThe invoice total is 412 euros.\n",
    )
    .await;
    dataset(
        &app,
        alice_id,
        "",
        "grinder.md",
        "# Grinder\n\nGrind fine for espresso.\n",
    )
    .await;
    let (conv, sse) = app
        .chat_attached(
            &alice,
            "gpt-4.1",
            "What is the invoice total?",
            &attached,
            "whole",
        )
        .await;
    let done = sse.first("done");
    assert_eq!(
        done["message"]["citations"][0]["document_id"],
        attached.as_str(),
        "{done}"
    );
    assert_eq!(
        done["message"]["citations"][0]["document_name"],
        "invoice.md"
    );
    let stored = app.stored(&alice, &conv).await;
    assert_eq!(
        stored["messages"][0]["attachments"],
        json!([{"document_id": attached, "name": "invoice.md"}]),
        "the question shows its attachment"
    );
    assert!(stored["messages"][1].get("attachments").is_none());

    // The estimate counts it; an unknown id, or another user's document, is refused.
    let estimate = app
        .estimate(
            &alice,
            json!({"content": "total?", "model": "gpt-4.1", "attachments": [attached]}),
        )
        .await;
    assert_eq!(
        estimate["context"]["documents"][0]["attached"], true,
        "{estimate}"
    );
    let mallory_conv = app
        .conversation(&mallory, json!({"model": "gpt-4.1"}))
        .await;
    for (bearer, conv, ids) in [
        (&alice, &conv, json!(["01ARZ3NDEKTSV4RRFFQ69G5FAV"])),
        (&alice, &conv, json!([attached, attached])),
        (&mallory, &mallory_conv, json!([attached])),
    ] {
        let r = app
            .message(
                bearer,
                conv,
                json!({"content": "total?", "attachments": ids}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = r.json().await.unwrap();
        assert!(
            problem["field"]
                .as_str()
                .unwrap()
                .starts_with("attachments["),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn an_attachment_too_large_for_the_window_is_retrieved_and_cited() {
    let (app, manual) = tiny_app_and_manual().await;
    let (alice_id, alice) = test_user();
    let id = dataset(&app, alice_id, "manuals", "manual.md", &manual).await;
    let (_, sse) = app
        .chat_attached(
            &alice,
            "tiny",
            "How often should I descale the boiler?",
            &id,
            "retrieved",
        )
        .await;
    let citation = &sse.first("done")["message"]["citations"][0];
    assert_eq!(citation["document_id"], id.as_str());
    assert_eq!(
        citation["heading_path"],
        json!(["Manual", "Descaling"]),
        "{citation}"
    );
}
