//! The Lambda output: with the EMF recorder installed and the routers wrapped as `lambda::serve`
//! wraps them, a request, a streamed answer, a provider failure and an ingestion failure each
//! leave CloudWatch Embedded Metric Format lines, checked against the specification's
//! required fields.
//!
//! One test in this binary: the process has one metrics recorder.

use std::time::{Duration, Instant};

use ragenie_common::config::Settings;
use ragenie_common::lambda::with_emf_flush;
use ragenie_common::metrics;
use ragenie_common::testing::{Answered, TestServer, http_client};
use ragenie_fake_providers::FakeConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Checks one EMF document against the specification's required fields and returns it.
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>
fn check_emf(line: &str) -> Value {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let root = doc.as_object().expect("a JSON object");
    let aws = root["_aws"].as_object().expect("_aws");
    let ts = aws["Timestamp"]
        .as_u64()
        .expect("_aws.Timestamp: epoch milliseconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        ts <= now + 60_000 && ts + 3_600_000 > now,
        "timestamp {ts} is now-ish"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty());
    for d in directives {
        let ns = d["Namespace"].as_str().expect("Namespace");
        assert!(!ns.is_empty() && ns.len() <= 1024);
        let sets = d["Dimensions"]
            .as_array()
            .expect("Dimensions: an array of dimension sets");
        for set in sets {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions");
            for name in set {
                let name = name.as_str().expect("dimension names are strings");
                assert!(
                    root.get(name).is_some_and(Value::is_string),
                    "dimension {name} has a string value at the root: {line}"
                );
            }
        }
        let metrics = d["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for m in metrics {
            let name = m["Name"].as_str().expect("Metric Name");
            if let Some(unit) = m.get("Unit") {
                assert!(unit.is_string(), "{line}");
            }
            let value = root
                .get(name)
                .unwrap_or_else(|| panic!("no value for {name}: {line}"));
            let ok = value.is_number()
                || value.as_array().is_some_and(|a| {
                    !a.is_empty() && a.len() <= 100 && a.iter().all(Value::is_number)
                });
            assert!(
                ok,
                "{name} must be a number or an array of up to 100: {line}"
            );
        }
    }
    doc
}

/// Every document flushed so far (flushes follow the response bodies' end; wait a little).
fn documents_until(collected: &mut Vec<Value>, wanted: impl Fn(&[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        for line in metrics::emf::take_captured().lines() {
            collected.push(check_emf(line));
        }
        if wanted(collected) || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn find<'a>(docs: &'a [Value], metric: &str, labels: &[(&str, &str)]) -> Option<&'a Value> {
    docs.iter().find(|d| {
        d.get(metric).is_some()
            && labels
                .iter()
                .all(|(k, v)| d.get(*k).and_then(Value::as_str) == Some(*v))
    })
}

#[tokio::test]
async fn requests_answers_and_failures_are_written_as_valid_emf_lines() {
    assert!(metrics::emf::install("RaGenieTest"));
    metrics::emf::capture();
    let (_fakes, urls) = ragenie_fake_providers::spawn(FakeConfig::default())
        .await
        .unwrap();
    // SAFETY: set before any thread reads the environment; this binary has one test.
    unsafe {
        std::env::set_var("OPENAI_API_KEY", "test-openai");
        std::env::set_var("RAGENIE_OPENAI_BASE_URL", &urls.openai);
    }
    let dir = tempfile::tempdir().unwrap();
    let listener = TestServer::bind().await;
    let state = ragenie_local::connect(Settings::embedded(dir.path(), &listener.base))
        .await
        .unwrap();
    let server = listener.serve(with_emf_flush(ragenie_local::app(state, None)));
    let http = http_client(Duration::from_secs(60));
    let url = |p: &str| format!("{}{p}", server.base);

    let r = http
        .post(url("/auth/register"))
        .json(&json!({"email": "emf@example.com", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let broken = http
        .post(url("/documents?kind=dataset&name=broken.pdf"))
        .bearer_auth(&token)
        .header("content-type", "application/pdf")
        .body("%PDF-1.7 not really")
        .send()
        .await
        .unwrap();
    // Ingested in the background: wait until the document settles.
    let id = broken.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = ragenie_common::testing::settled_document(
        &http,
        &server.base,
        &format!("Bearer {token}"),
        &id,
    )
    .await;
    assert_eq!(doc["status"], "failed");
    for content in ["Hello there", "Again [[fake:500]]"] {
        let conv: Value = http
            .post(url("/conversations"))
            .bearer_auth(&token)
            .json(&json!({"model": "gpt-4.1"}))
            .json_answer()
            .await;
        let sse = http
            .post(url(&format!(
                "/conversations/{}/messages",
                conv["id"].as_str().unwrap()
            )))
            .bearer_auth(&token)
            .json(&json!({"content": content}))
            .text_answer()
            .await;
        assert!(sse.contains("event:"), "{sse}");
    }

    let mut docs = Vec::new();
    let needed: [(&str, Vec<(&str, &str)>); 6] = [
        (
            metrics::HTTP_REQUESTS,
            vec![
                ("function", "auth"),
                ("route", "/auth/register"),
                ("status", "201"),
            ],
        ),
        (
            metrics::HTTP_REQUESTS,
            vec![
                ("function", "chat"),
                ("route", "/conversations/{id}/messages"),
                ("status", "200"),
            ],
        ),
        (
            metrics::ANSWER_TTFT,
            vec![("provider", "openai"), ("model", "gpt-4.1")],
        ),
        (
            metrics::ANSWERS,
            vec![("provider", "openai"), ("outcome", "completed")],
        ),
        (
            metrics::PROVIDER_ERRORS,
            vec![("provider", "openai"), ("kind", "upstream_5xx")],
        ),
        (metrics::INGESTION_FAILURES, vec![("file_type", "pdf")]),
    ];
    documents_until(&mut docs, |d| {
        needed.iter().all(|(m, l)| find(d, m, l).is_some())
    });
    for (metric, labels) in &needed {
        let doc = find(&docs, metric, labels)
            .unwrap_or_else(|| panic!("no EMF document for {metric} {labels:?} in {docs:#?}"));
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "RaGenieTest");
        let sets = directive["Dimensions"].as_array().unwrap();
        assert_eq!(
            sets.last().unwrap(),
            &json!([]),
            "the dimensionless rollup the alarms read"
        );
        for (k, _) in labels {
            assert!(
                sets[0].as_array().unwrap().contains(&json!(k)),
                "{k} is a dimension: {doc}"
            );
        }
    }
    let ttft = find(&docs, metrics::ANSWER_TTFT, &[("provider", "openai")]).unwrap();
    let units: Vec<&Value> = ttft["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["Name"] == metrics::ANSWER_TTFT)
        .map(|m| &m["Unit"])
        .collect();
    assert_eq!(units, [&json!("Seconds")]);
}
