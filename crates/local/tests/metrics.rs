//! A scripted session on the local server (sign in, upload, chat with each fake provider, a
//! provider failure, a throttled sign-in, a spent budget, an API key created), then `/metrics`
//! read back: each event is there with the right labels, `/metrics` refuses non-loopback
//! callers, every metric the Grafana dashboard names is exported, and the audit trail holds the
//! session's security events.
//!
//! One test in this binary: the process has one metrics recorder, and the environment names the
//! fake providers.

use std::collections::BTreeSet;
use std::time::Duration;

use ragenie_common::config::Settings;
use ragenie_common::metrics;
use ragenie_common::testing::{TestServer, http_client};
use ragenie_fake_providers::FakeConfig;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The value of the sample `name{labels…}` whose labels include every pair given.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name).then_some((rest, value))
        })
        .find(|(rest, _)| {
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|(_, v)| v.parse().ok())
}

#[track_caller]
fn at_least(text: &str, name: &str, labels: &[(&str, &str)], min: f64) {
    let value =
        sample(text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"));
    assert!(
        value >= min,
        "{name} {labels:?} = {value}, expected ≥ {min}"
    );
}

struct Session {
    http: Client,
    base: String,
}

impl Session {
    async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        if let Some(body) = body {
            r = r.json(&body);
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn upload(&self, token: &str, name: &str, media_type: &str, bytes: Vec<u8>) -> Value {
        let r = self
            .http
            .post(format!("{}/documents?kind=dataset&name={name}", self.base))
            .bearer_auth(token)
            .header("content-type", media_type)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.json().await.unwrap()
    }

    /// The document once the server's background ingestion has settled it (ready or failed).
    async fn settled(&self, token: &str, doc: &Value) -> Value {
        let id = doc["id"].as_str().unwrap();
        ragenie_common::testing::settled_document(
            &self.http,
            &self.base,
            &format!("Bearer {token}"),
            id,
        )
        .await
    }

    async fn chat(&self, token: &str, model: &str, content: &str) -> String {
        let (status, conv) = self
            .call(
                "POST",
                "/conversations",
                Some(token),
                Some(json!({"model": model})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{conv}");
        let id = conv["id"].as_str().unwrap();
        let r = self
            .http
            .post(format!("{}/conversations/{id}/messages", self.base))
            .bearer_auth(token)
            .json(&json!({"content": content}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.unwrap()
    }
}

#[tokio::test]
async fn a_scripted_session_shows_up_in_metrics_and_the_audit_trail() {
    let handle = metrics::prometheus::install().expect("the only recorder of this process");
    let (_fakes, urls) = ragenie_fake_providers::spawn(FakeConfig::default())
        .await
        .unwrap();
    // SAFETY: set before any thread reads the environment; this binary has one test.
    unsafe {
        for (k, v) in [
            ("OPENAI_API_KEY", "test-openai"),
            ("ANTHROPIC_API_KEY", "test-anthropic"),
            ("GEMINI_API_KEY", "test-gemini"),
            ("RAGENIE_OPENAI_BASE_URL", urls.openai.as_str()),
            ("RAGENIE_ANTHROPIC_BASE_URL", urls.anthropic.as_str()),
            ("RAGENIE_GEMINI_BASE_URL", urls.gemini.as_str()),
        ] {
            std::env::set_var(k, v);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let listener = TestServer::bind().await;
    let state = ragenie_local::connect(Settings::embedded(dir.path(), &listener.base))
        .await
        .unwrap();
    let server = listener.serve(ragenie_local::app(state, None));
    let s = Session {
        http: http_client(Duration::from_secs(60)),
        base: server.base.clone(),
    };

    // Sign up, sign in, a wrong password, an API key.
    let creds = json!({"email": "ops@example.com", "password": "correct horse battery staple"});
    let (status, _) = s
        .call("POST", "/auth/register", None, Some(creds.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, tokens) = s
        .call("POST", "/auth/login", None, Some(creds.clone()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let wrong = json!({"email": "ops@example.com", "password": "not the password"});
    s.call("POST", "/auth/login", None, Some(wrong.clone()))
        .await;
    let (status, _) = s
        .call(
            "POST",
            "/auth/api-keys",
            Some(&token),
            Some(json!({"name": "scripts"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Documents: one that ingests, one that cannot be extracted; a search.
    let ok = s
        .upload(
            &token,
            "notes.md",
            "text/markdown",
            b"# Backups\n\nNightly backups go to the NAS.\n".to_vec(),
        )
        .await;
    let ok = s.settled(&token, &ok).await;
    assert_eq!(ok["status"], "ready", "{ok}");
    let broken = s
        .upload(
            &token,
            "broken.pdf",
            "application/pdf",
            b"%PDF-1.7 this is not a PDF at all".to_vec(),
        )
        .await;
    let broken = s.settled(&token, &broken).await;
    assert_eq!(broken["status"], "failed", "{broken}");
    let (status, _) = s.call("GET", "/search?q=backups", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);

    // A streamed answer from each provider, then a provider failure.
    for model in ["gpt-4.1", "claude-sonnet-4-5", "gemini-2.5-flash"] {
        let sse = s.chat(&token, model, "Where do backups go?").await;
        assert!(sse.contains("event: done"), "{model}: {sse}");
    }
    let failed = s.chat(&token, "gpt-4.1", "Again [[fake:500]]").await;
    assert!(failed.contains("error"), "{failed}");

    // A spent budget, then a throttled sign-in.
    let (status, budget) = s
        .call(
            "PUT",
            "/usage/budget",
            Some(&token),
            Some(json!({"monthly_usd": 0.000001})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{budget}");
    let (status, conv) = s
        .call(
            "POST",
            "/conversations",
            Some(&token),
            Some(json!({"model": "gpt-4.1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, refused) = s
        .call(
            "POST",
            &format!("/conversations/{}/messages", conv["id"].as_str().unwrap()),
            Some(&token),
            Some(json!({"content": "One more?"})),
        )
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{refused}");
    let mut throttled = false;
    for _ in 0..12 {
        let (status, _) = s
            .call("POST", "/auth/login", None, Some(wrong.clone()))
            .await;
        throttled |= status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(throttled);

    // /metrics, from this (loopback) client.
    let r = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    at_least(
        &text,
        metrics::HTTP_REQUESTS,
        &[
            ("function", "auth"),
            ("route", "/auth/login"),
            ("method", "POST"),
            ("status", "200"),
        ],
        1.0,
    );
    at_least(
        &text,
        metrics::HTTP_REQUESTS,
        &[
            ("function", "auth"),
            ("route", "/auth/login"),
            ("status", "401"),
        ],
        1.0,
    );
    at_least(
        &text,
        metrics::HTTP_REQUESTS,
        &[
            ("function", "chat"),
            ("route", "/conversations/{id}/messages"),
            ("status", "200"),
        ],
        4.0,
    );
    at_least(
        &text,
        &format!("{}_count", metrics::HTTP_REQUEST_DURATION),
        &[("route", "/documents")],
        2.0,
    );
    for (provider, model) in [
        ("openai", "gpt-4.1"),
        ("anthropic", "claude-sonnet-4-5"),
        ("gemini", "gemini-2.5-flash"),
    ] {
        at_least(
            &text,
            metrics::ANSWERS,
            &[
                ("provider", provider),
                ("model", model),
                ("outcome", "completed"),
            ],
            1.0,
        );
        at_least(
            &text,
            &format!("{}_count", metrics::ANSWER_TTFT),
            &[("provider", provider), ("model", model)],
            1.0,
        );
        at_least(
            &text,
            &format!("{}_count", metrics::ANSWER_DURATION),
            &[("provider", provider), ("model", model)],
            1.0,
        );
        at_least(
            &text,
            metrics::TOKENS,
            &[("provider", provider), ("model", model), ("kind", "input")],
            1.0,
        );
        at_least(
            &text,
            metrics::TOKENS,
            &[("provider", provider), ("model", model), ("kind", "output")],
            1.0,
        );
        at_least(
            &text,
            metrics::COST,
            &[("provider", provider), ("model", model)],
            1.0,
        );
        at_least(
            &text,
            metrics::PROVIDER_REQUESTS,
            &[("provider", provider), ("outcome", "ok")],
            1.0,
        );
    }
    at_least(
        &text,
        metrics::PROVIDER_ERRORS,
        &[("provider", "openai"), ("kind", "upstream_5xx")],
        1.0,
    );
    at_least(
        &text,
        metrics::PROVIDER_REQUESTS,
        &[("provider", "openai"), ("outcome", "error")],
        1.0,
    );
    at_least(
        &text,
        &format!("{}_count", metrics::INGESTION_DURATION),
        &[("file_type", "markdown"), ("outcome", "ok")],
        1.0,
    );
    at_least(
        &text,
        metrics::INGESTION_FAILURES,
        &[("file_type", "pdf")],
        1.0,
    );
    at_least(
        &text,
        &format!("{}_count", metrics::SEARCH_DURATION),
        &[("mode", "bm25")],
        1.0,
    );
    at_least(&text, metrics::SIGN_INS, &[("outcome", "succeeded")], 1.0);
    at_least(&text, metrics::SIGN_INS, &[("outcome", "failed")], 1.0);
    at_least(&text, metrics::SIGN_INS, &[("outcome", "throttled")], 1.0);
    at_least(
        &text,
        metrics::THROTTLED,
        &[("function", "auth"), ("scope", "sign_in")],
        1.0,
    );
    at_least(
        &text,
        metrics::BUDGET_REFUSALS,
        &[("function", "chat"), ("scope", "account")],
        1.0,
    );
    assert!(
        !text.contains("ops@example.com"),
        "no personal data in labels"
    );

    // The Grafana dashboard names only exported metrics.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/grafana/ragenie.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut named = BTreeSet::new();
    collect_exprs(&dashboard, &mut named);
    assert!(named.len() >= 10, "{named:?}");
    for series in &named {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{series}{{"))
                    || l.starts_with(&format!("{series} "))),
            "the dashboard names {series}, which /metrics does not export"
        );
    }
    let catalog: BTreeSet<&str> = metrics::CATALOG.iter().map(|m| m.name).collect();
    let charted: BTreeSet<String> = named
        .iter()
        .map(|n| {
            n.trim_end_matches("_bucket")
                .trim_end_matches("_count")
                .trim_end_matches("_sum")
                .to_owned()
        })
        .collect();
    for name in &catalog {
        if *name != metrics::AUDIT_WRITE_FAILURES {
            assert!(
                charted.contains(*name),
                "the dashboard does not chart {name}"
            );
        }
    }

    // Only loopback callers that no proxy forwarded may read it.
    let proxied = s
        .http
        .get(format!("{}/metrics", s.base))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), StatusCode::FORBIDDEN);
    let (status, _) = s.call("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        handle.render().contains(metrics::SIGN_INS),
        "the handle renders what /metrics served"
    );

    // The security events of the session, in the audit trail.
    let (status, trail) = s.call("GET", "/auth/audit", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["sign_in_succeeded", "sign_in_failed", "api_key_created"] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

/// Every `ragenie_…` series named in a `expr` of the dashboard.
fn collect_exprs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "expr"
                    && let Some(expr) = v.as_str()
                {
                    let mut rest = expr;
                    while let Some(i) = rest.find("ragenie_") {
                        let tail = &rest[i..];
                        let end = tail
                            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                            .unwrap_or(tail.len());
                        out.insert(tail[..end].to_owned());
                        rest = &tail[end..];
                    }
                } else {
                    collect_exprs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}
