//! Embedding calls are billed to the user they are made for: an upload's chunks and a search's
//! question, embedded by the (fake) OpenAI embeddings endpoint, show in the user's usage (a row
//! of kind `embedding` with the provider's token count and its cost), in their month's
//! spending that the operator's quota and their own budget check, and in the deployment's
//! totals — and a user whose quota is spent gets the document failed with the reason (no
//! provider call) and answers refused.

use std::sync::Arc;

use ragenie_common::accounts::UserId;
use ragenie_common::accounts::limits;
use ragenie_common::accounts::operator::{self, UserLimits};
use ragenie_common::config::EmbeddingSettings;
use ragenie_common::testing::{TestServer, embedded_state, test_user};
use ragenie_corpus::ProviderState;
use ragenie_fake_providers::scenario::count_tokens;
use ragenie_fake_providers::{FakeConfig, FakeHandle};
use ragenie_gateway::{Gateway, Tokenizer};
use serde_json::{Value, json};

mod support;

const MODEL: &str = "text-embedding-3-small";
/// USD per million tokens of `MODEL` (models.json).
const PRICE: f64 = 0.02;

struct App {
    base: String,
    http: reqwest::Client,
    state: ragenie_common::AppState,
    fakes: FakeHandle,
    _dir: tempfile::TempDir,
    _server: TestServer,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let (fakes, urls) = ragenie_fake_providers::spawn(FakeConfig::default())
        .await
        .unwrap();
    let gateway = Gateway::from_lookup(|name| urls.env(name)).unwrap();
    let listener = TestServer::bind().await;
    let base = listener.base.clone();
    let mut state = embedded_state(dir.path(), &base).await;
    let mut settings = (*state.settings).clone();
    settings.embedding = Some(EmbeddingSettings {
        model: MODEL.into(),
        dimensions: Some(256),
        model_dir: None,
    });
    state.settings = Arc::new(settings);
    let providers = ProviderState::with_gateway(state.clone(), Arc::new(gateway)).unwrap();
    let server = listener.serve(ragenie_local::app(providers, None));
    App {
        base,
        http: support::client(),
        state,
        fakes,
        _dir: dir,
        _server: server,
    }
}

/// A document of several chunks, each sentence distinct.
fn handbook() -> String {
    let mut text = String::from("# Handbook\n\n");
    for i in 0..40 {
        text.push_str(&format!(
            "## Section {i}\n\nParcel {i} leaves the warehouse at {i} o'clock and returns by the river.\n\n"
        ));
    }
    text
}

impl App {
    /// Texts sent to the embeddings endpoint since the last call, and what the provider
    /// reported for them (the fake counts a token per four characters).
    fn embedded(&self) -> (Vec<String>, u64) {
        let texts: Vec<String> = self
            .fakes
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/embeddings"))
            .flat_map(|r| match &r.body["input"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
                _ => vec![],
            })
            .collect();
        self.fakes.clear_requests();
        let tokens = texts.iter().map(|t| count_tokens(t)).sum();
        (texts, tokens)
    }

    async fn upload(&self, auth: &str, name: &str, text: String) -> Value {
        let (status, doc) = support::upload(&self.http, &self.base, auth, name, text)
            .await
            .unwrap();
        assert_eq!(status, 201, "{doc}");
        doc
    }

    async fn get(&self, auth: &str, path: &str) -> Value {
        support::get_json(&self.http, &self.base, auth, path)
            .await
            .unwrap()
    }

    async fn usage(&self, auth: &str) -> Value {
        let day = limits::today();
        self.get(auth, &format!("/usage?from={day}&to={day}")).await
    }

    async fn embedding_row(&self, auth: &str) -> Option<Value> {
        let usage = self.usage(auth).await;
        usage["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "embedding")
            .cloned()
    }

    async fn quota(&self, user: UserId, usd: f64) {
        operator::set_user_limits(
            self.state.table.as_ref(),
            user,
            &UserLimits {
                monthly_quota_usd: Some(usd),
                allowed_models: None,
            },
        )
        .await
        .unwrap();
    }

    async fn month(&self, user: UserId) -> limits::MonthSpend {
        limits::month_spend(self.state.table.as_ref(), user)
            .await
            .unwrap()
    }

    /// Sends one question in a new conversation: the HTTP status of the send.
    async fn ask(&self, auth: &str) -> u16 {
        let conv = support::conversation(&self.http, &self.base, auth, None, "gpt-4.1")
            .await
            .unwrap();
        support::send(
            &self.http,
            &self.base,
            auth,
            &conv,
            "When does parcel 7 leave?",
        )
        .await
        .unwrap()
        .status
    }
}

/// Equal within the ledger's rounding (micro-dollars, per call).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1.5e-6
}

#[tokio::test]
async fn uploads_and_searches_bill_their_embeddings_to_the_user() {
    let app = app().await;
    let (user, auth) = test_user();
    let (other, other_auth) = test_user();
    // A quota far from spent: the month's spending is kept for this user.
    app.quota(user, 100.0).await;

    let doc = app.upload(&auth, "handbook.md", handbook()).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    assert_eq!(doc["embedding_model"], format!("{MODEL}/256"));
    let (texts, tokens) = app.embedded();
    assert!(texts.len() > 1, "several chunks: {}", texts.len());
    // The provider's count is billed, not the tokenizer's (they differ for these texts).
    let tiktoken: u64 = texts
        .iter()
        .map(|t| Tokenizer::Cl100kBase.count(t) as u64)
        .sum();
    assert_ne!(tokens, tiktoken);

    let row = app.embedding_row(&auth).await.expect("an embedding row");
    assert_eq!(row["model"], MODEL);
    assert_eq!(row["messages"], 1, "one call per document version");
    assert_eq!(row["estimated_messages"], 0);
    assert_eq!(row["unpriced_messages"], 0);
    assert_eq!(row["input_tokens"], tokens);
    assert_eq!(row["output_tokens"], 0);
    let cost = tokens as f64 * PRICE / 1e6;
    assert!(close(row["cost_usd"].as_f64().unwrap(), cost), "{row}");
    let usage = app.usage(&auth).await;
    assert!(close(usage["month_cost_usd"].as_f64().unwrap(), cost));
    let models = usage["models"].as_array().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0]["kind"], "embedding");
    // The operator's quota counts it, reservation settled to the real cost.
    let month = app.month(user).await;
    assert!(close(month.spent_usd, cost), "{month:?}");
    assert!(close(month.committed_usd, cost), "{month:?}");

    // A search embeds its question: a second call on the same row.
    let hits = app
        .get(&auth, "/search?q=when%20does%20the%20parcel%20return")
        .await;
    assert!(!hits["items"].as_array().unwrap().is_empty(), "{hits}");
    let (texts, question_tokens) = app.embedded();
    assert_eq!(texts, ["when does the parcel return"]);
    let row = app.embedding_row(&auth).await.unwrap();
    assert_eq!(row["messages"], 2);
    assert_eq!(row["input_tokens"], tokens + question_tokens);
    let cost = (tokens + question_tokens) as f64 * PRICE / 1e6;
    assert!(close(row["cost_usd"].as_f64().unwrap(), cost), "{row}");
    assert!(close(app.month(user).await.spent_usd, cost));

    // Another user's usage is untouched.
    let theirs = app.usage(&other_auth).await;
    assert_eq!(theirs["days"], json!([]));
    assert_eq!(app.month(other).await, limits::MonthSpend::default());

    // The deployment's totals by day and model have the calls too.
    let (_, admin) = ragenie_common::testing::first_admin(app.state.table.as_ref()).await;
    let day = limits::today();
    let totals = app
        .get(&admin, &format!("/admin/usage?from={day}&to={day}"))
        .await;
    let row = totals["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == MODEL)
        .unwrap_or_else(|| panic!("{totals}"))
        .clone();
    assert_eq!(row["kind"], "embedding");
    assert_eq!(row["answers"], 2);
    assert_eq!(row["input_tokens"], tokens + question_tokens);
    assert_eq!(
        totals["total_answers"], 0,
        "embedding calls are not answers"
    );
    assert!(close(totals["total_cost_usd"].as_f64().unwrap(), cost));

    // The user's own budget counts embeddings: below what they spent, answers are refused.
    let r = app
        .http
        .put(format!("{}/usage/budget", app.base))
        .header("authorization", &auth)
        .json(&json!({"monthly_usd": cost / 2.0}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    assert_eq!(app.ask(&auth).await, 402);
}

#[tokio::test]
async fn a_spent_quota_fails_the_upload_with_the_reason_and_refuses_answers() {
    let app = app().await;
    let (user, auth) = test_user();
    // Less than the first upload's embeddings cost: that upload is admitted (nothing spent
    // yet) and its embeddings spend the quota.
    app.quota(user, 0.000_01).await;
    let first = app.upload(&auth, "handbook.md", handbook()).await;
    assert_eq!(first["status"], "ready", "{first}");
    let (_, tokens) = app.embedded();
    let cost = tokens as f64 * PRICE / 1e6;
    assert!(cost > 0.000_01, "the handbook costs {cost}");
    assert!(close(app.month(user).await.spent_usd, cost));

    // The next upload is refused before the provider is called: failed, with the reason.
    let second = app
        .upload(
            &auth,
            "notes.md",
            "# Notes\n\nThe river floods in spring.".into(),
        )
        .await;
    assert_eq!(second["status"], "failed", "{second}");
    let reason = second["failure_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("monthly spend limit reached"),
        "{reason}"
    );
    assert!(reason.contains("renews on"), "{reason}");
    assert!(app.embedded().0.is_empty(), "no provider call");
    let row = app.embedding_row(&auth).await.unwrap();
    assert_eq!(row["messages"], 1, "the refused upload is not billed");

    // Answers are refused too (402 with the quota's reason).
    assert_eq!(app.ask(&auth).await, 402);

    // Once the quota is raised, retrying the document ingests it.
    app.quota(user, 100.0).await;
    let id = second["id"].as_str().unwrap();
    let r = app
        .http
        .post(format!("{}/documents/{id}/reindex", app.base))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    support::wait_until_settled(&app.http, &app.base, &auth, &[id.to_owned()])
        .await
        .unwrap();
    let doc = app.get(&auth, &format!("/documents/{id}")).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    assert!(
        doc.get("failure_reason").is_none_or(Value::is_null),
        "{doc}"
    );
    let (texts, more) = app.embedded();
    assert!(!texts.is_empty());
    let row = app.embedding_row(&auth).await.unwrap();
    assert_eq!(row["messages"], 2);
    assert_eq!(row["input_tokens"], tokens + more);
}
