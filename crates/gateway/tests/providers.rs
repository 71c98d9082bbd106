//! Every provider streams through the fake servers: text, usage, finish reasons, system
//! placement, injected errors, retries, timeouts, cancellation and embeddings.

use std::time::{Duration, Instant};

use futures::StreamExt;
use ragenie_fake_providers::{FakeConfig, FakeHandle, FakeUrls, scenario::count_tokens, spawn};
use ragenie_gateway::{
    ApiKey, Catalog, ChatMessage, ChatRequest, FinishReason, Gateway, GatewayConfig, GatewayError,
    LlmEvent, ProviderKeys, ProviderKind, RetryPolicy, Timeouts, Usage, collect, parse_base_url,
};

const MODELS: [(&str, &str); 4] = [
    ("gpt-4o-mini", "openai"),
    ("claude-haiku-4-5", "anthropic"),
    ("gemini-2.5-flash", "gemini"),
    ("local-model", "openai_compatible"),
];

fn config(urls: &FakeUrls) -> GatewayConfig {
    GatewayConfig {
        openai_base_url: parse_base_url("openai", &urls.openai).unwrap(),
        anthropic_base_url: parse_base_url("anthropic", &urls.anthropic).unwrap(),
        gemini_base_url: parse_base_url("gemini", &urls.gemini).unwrap(),
        openai_compatible_base_url: Some(
            parse_base_url("compat", &urls.openai_compatible).unwrap(),
        ),
        openai_compatible_models: vec!["local-model".into()],
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            total: Duration::from_secs(20),
            idle: Duration::from_millis(1500),
        },
        retry: RetryPolicy {
            max_retries: 2,
            base_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(5),
        },
    }
}

fn keys(value: &str) -> ProviderKeys {
    ProviderKeys {
        openai: ApiKey::new(value),
        anthropic: ApiKey::new(value),
        gemini: ApiKey::new(value),
        openai_compatible: None,
    }
}

async fn setup() -> (FakeHandle, FakeUrls, Gateway) {
    let (handle, urls) = spawn(FakeConfig::default())
        .await
        .expect("fake providers start");
    let gw = Gateway::new(config(&urls), keys("test-key")).expect("gateway builds");
    (handle, urls, gw)
}

fn ask(model: &str, question: &str) -> ChatRequest {
    ChatRequest::new(model, vec![ChatMessage::user(question)])
}

async fn events(gw: &Gateway, req: &ChatRequest) -> Vec<LlmEvent> {
    let stream = gw
        .stream(req)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", req.model));
    tokio::time::timeout(Duration::from_secs(15), stream.collect::<Vec<_>>())
        .await
        .expect("stream ends")
}

fn text_of(events: &[LlmEvent]) -> String {
    events
        .iter()
        .filter_map(|e| {
            if let LlmEvent::TextDelta(t) = e {
                Some(t.as_str())
            } else {
                None
            }
        })
        .collect()
}

#[tokio::test]
async fn each_provider_streams_text_usage_and_finish_in_order() {
    let (fake, _urls, gw) = setup().await;
    for (model, _) in MODELS {
        let req = ask(model, "What is the capital of France?").with_system("Answer briefly.");
        let evs = events(&gw, &req).await;
        assert!(
            matches!(&evs[0], LlmEvent::Start { model: m, .. } if m == model),
            "{model}: {evs:?}"
        );
        let deltas = evs
            .iter()
            .filter(|e| matches!(e, LlmEvent::TextDelta(_)))
            .count();
        assert!(deltas > 3, "{model}: the answer arrives in several chunks");
        let text = text_of(&evs);
        assert!(
            text.contains("What is the capital of France?"),
            "{model}: {text}"
        );
        let n = evs.len();
        assert_eq!(
            evs[n - 1],
            LlmEvent::Finish {
                reason: FinishReason::Stop
            },
            "{model}"
        );
        let expected_input =
            count_tokens("Answer briefly.") + count_tokens("What is the capital of France?");
        assert_eq!(
            evs[n - 2],
            LlmEvent::Usage(Usage {
                input: expected_input,
                output: count_tokens(&text),
                cache_read: 0,
                cache_write: 0
            }),
            "{model}"
        );
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn non_streamed_answers_match_streamed_ones() {
    let (fake, _urls, gw) = setup().await;
    for (model, _) in MODELS {
        let req = ask(model, "Tell me about sources").with_system("Sources: [1] a note");
        let streamed = collect(gw.stream(&req).await.unwrap())
            .await
            .into_result()
            .unwrap();
        let whole = gw.complete(&req).await.unwrap();
        assert_eq!(whole.text, streamed.text, "{model}");
        assert_eq!(whole.usage, streamed.usage, "{model}");
        assert_eq!(whole.finish, Some(FinishReason::Stop), "{model}");
        assert!(
            whole.text.contains("[1]"),
            "{model}: the fake cites numbered sources"
        );
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn instructions_are_placed_where_each_provider_wants_them() {
    let (fake, _urls, gw) = setup().await;
    let last_body = |provider: &str| {
        fake.requests()
            .into_iter()
            .rev()
            .find(|r| r.provider == provider)
            .expect("a recorded request")
            .body
    };
    for (model, provider) in MODELS {
        gw.complete(&ask(model, "hi").with_system("RULES"))
            .await
            .unwrap();
        let b = last_body(provider);
        match provider {
            "anthropic" => {
                assert_eq!(b["system"], "RULES");
                assert_eq!(b["messages"][0]["content"], "hi");
            }
            "gemini" => {
                assert_eq!(b["systemInstruction"]["parts"][0]["text"], "RULES");
                assert_eq!(b["contents"][0]["role"], "user");
            }
            _ => {
                assert_eq!(b["messages"][0]["role"], "system");
                assert_eq!(b["messages"][0]["content"], "RULES");
            }
        }
    }
    // A model without a system role gets the instructions as a leading user turn.
    let mut catalog = Catalog::built_in();
    catalog
        .apply_engines_yaml("engines:\n  - name: openai\n    models:\n      - name: gpt-4o-mini\n        supports_system_role: false\n")
        .unwrap();
    let (fake2, urls2) = spawn(FakeConfig::default()).await.unwrap();
    let gw2 = Gateway::with_catalog(config(&urls2), keys("k"), catalog).unwrap();
    gw2.complete(&ask("gpt-4o-mini", "hi").with_system("RULES"))
        .await
        .unwrap();
    let b = fake2.requests().pop().unwrap().body;
    assert_eq!(
        b["messages"][0],
        serde_json::json!({"role": "user", "content": "RULES"})
    );
    assert_eq!(b["messages"][1]["content"], "hi");
    fake.shutdown().await;
    fake2.shutdown().await;
}

#[tokio::test]
async fn catalog_limits_are_applied_to_requests() {
    let (fake, _urls, gw) = setup().await;
    // gpt-5 has a fixed temperature: none is sent. Claude's range is 0..1: 1.7 is clamped.
    gw.complete(&ask("gpt-5", "hi").with_temperature(0.3))
        .await
        .unwrap();
    let b = fake.requests().pop().unwrap().body;
    assert!(b.get("temperature").is_none());
    assert_eq!(
        b["max_completion_tokens"], 16384,
        "the catalog's default output limit"
    );
    gw.complete(
        &ask("claude-haiku-4-5", "hi")
            .with_temperature(1.7)
            .with_max_output_tokens(1_000_000),
    )
    .await
    .unwrap();
    let b = fake.requests().pop().unwrap().body;
    assert_eq!(b["temperature"], 1.0);
    assert_eq!(
        b["max_tokens"], 64000,
        "capped at the model's maximum output"
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn a_small_output_limit_finishes_with_length() {
    let (fake, _urls, gw) = setup().await;
    for (model, _) in MODELS {
        let a = collect(
            gw.stream(&ask(model, "hello").with_max_output_tokens(3))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(a.finish, Some(FinishReason::Length), "{model}");
        assert_eq!(a.text.chars().count(), 12, "{model}");
        assert_eq!(a.usage.unwrap().output, 3, "{model}");
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn cached_prompt_tokens_are_reported_separately() {
    let (fake, _urls, gw) = setup().await;
    let q = "cache me please [[fake:cache]]";
    let input = count_tokens(q);
    for (model, provider) in MODELS {
        let u = gw.complete(&ask(model, q)).await.unwrap().usage.unwrap();
        let write = if provider == "anthropic" {
            input / 4
        } else {
            0
        };
        assert_eq!(u.cache_read, input / 2, "{model}");
        assert_eq!(u.cache_write, write, "{model}");
        assert_eq!(u.total_input(), input, "{model}: nothing counted twice");
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn anthropic_prompt_caching_is_requested_and_billed_from_usage() {
    let (fake, _urls, gw) = setup().await;
    let system = "Long instructions and documents. ".repeat(20);
    let req = ask("claude-haiku-4-5", "first turn")
        .with_system(system.clone())
        .with_cached_system();
    let first = gw.complete(&req).await.unwrap().usage.unwrap();
    let body = fake.requests().pop().unwrap().body;
    assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
    assert_eq!(body["system"][0]["text"], system.as_str());
    let sys_tokens = count_tokens(&system);
    assert_eq!((first.cache_write, first.cache_read), (sys_tokens, 0));
    let second = collect(gw.stream(&req).await.unwrap()).await.usage.unwrap();
    assert_eq!((second.cache_write, second.cache_read), (0, sys_tokens));
    assert_eq!(
        second.input,
        count_tokens("first turn"),
        "cached tokens are not billed as input"
    );
    // Other providers ignore the flag (their caching is automatic).
    gw.complete(
        &ask("gpt-4o-mini", "x")
            .with_system("s")
            .with_cached_system(),
    )
    .await
    .unwrap();
    assert_eq!(
        fake.requests().pop().unwrap().body["messages"][0]["content"],
        "s"
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let (fake, _urls, gw) = setup().await;
    for (model, provider) in MODELS {
        fake.clear_requests();
        let err = match gw.stream(&ask(model, "boom [[fake:500]]")).await {
            Err(e) => e,
            Ok(_) => panic!("{model}: a 500 must fail"),
        };
        assert!(
            matches!(err, GatewayError::Upstream { status: 500, .. }),
            "{model}: {err:?}"
        );
        let attempts = fake
            .requests()
            .iter()
            .filter(|r| r.provider == provider)
            .count();
        assert_eq!(attempts, 3, "{model}: one attempt and two retries");
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn a_transient_429_is_retried_after_retry_after() {
    let (fake, _urls, gw) = setup().await;
    for (model, _) in MODELS {
        let started = Instant::now();
        let a = collect(
            gw.stream(&ask(model, "busy [[fake:429x1 retry_after=1]]"))
                .await
                .unwrap(),
        )
        .await;
        let waited = started.elapsed();
        assert_eq!(a.finish, Some(FinishReason::Stop), "{model}: {a:?}");
        assert!(
            waited >= Duration::from_millis(950),
            "{model}: honoured Retry-After, waited {waited:?}"
        );
        assert!(waited < Duration::from_secs(4), "{model}: {waited:?}");
    }
    // Two 503s, then success, on the non-streaming endpoint.
    let a = gw
        .complete(&ask(
            "claude-haiku-4-5",
            "busy [[fake:503x2 retry_after=0.1]]",
        ))
        .await
        .unwrap();
    assert_eq!(a.finish, Some(FinishReason::Stop));
    fake.shutdown().await;
}

#[tokio::test]
async fn persistent_rate_limits_and_long_waits_are_reported_with_the_wait() {
    let (fake, _urls, gw) = setup().await;
    let err = gw
        .complete(&ask("gpt-4o-mini", "[[fake:429 retry_after=0.05]]"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_millis(50)),
        "{err:?}"
    );
    // A wait beyond the policy's maximum is not slept through.
    let started = Instant::now();
    let err = gw
        .complete(&ask("gemini-2.5-flash", "[[fake:429 retry_after=60]]"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(60)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    fake.shutdown().await;
}

#[tokio::test]
async fn a_connection_cut_mid_stream_becomes_an_error_event_after_the_partial_text() {
    let (fake, _urls, gw) = setup().await;
    for (model, _) in MODELS {
        let evs = events(&gw, &ask(model, "cut me [[fake:cut]]")).await;
        assert!(!text_of(&evs).is_empty(), "{model}: partial text arrived");
        assert!(
            matches!(
                evs.last(),
                Some(LlmEvent::Error(GatewayError::Connection(_)))
            ),
            "{model}: {:?}",
            evs.last()
        );
        assert!(
            !evs.iter().any(|e| matches!(e, LlmEvent::Finish { .. })),
            "{model}"
        );
        // Non-streamed: the cut body is an error too.
        assert!(
            gw.complete(&ask(model, "cut me [[fake:cut]]"))
                .await
                .is_err(),
            "{model}"
        );
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn a_provider_error_mid_stream_becomes_an_error_event() {
    let (fake, _urls, gw) = setup().await;
    for (model, _) in MODELS {
        let evs = events(&gw, &ask(model, "fail later [[fake:error]]")).await;
        assert!(!text_of(&evs).is_empty(), "{model}");
        assert!(
            matches!(
                evs.last(),
                Some(LlmEvent::Error(GatewayError::Provider { .. }))
            ),
            "{model}: {:?}",
            evs.last()
        );
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn a_compatible_server_that_ignores_stream_true_still_streams_events() {
    let (fake, _urls, gw) = setup().await;
    let evs = events(
        &gw,
        &ask("local-model", "no streaming here [[fake:nostream]]"),
    )
    .await;
    assert!(matches!(evs[0], LlmEvent::Start { .. }));
    assert!(text_of(&evs).contains("no streaming here"));
    assert!(matches!(evs[evs.len() - 2], LlmEvent::Usage(_)));
    assert_eq!(
        evs.last(),
        Some(&LlmEvent::Finish {
            reason: FinishReason::Stop
        })
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn a_stalled_stream_times_out_instead_of_hanging() {
    let (fake, _urls, gw) = setup().await;
    for (model, _) in MODELS {
        let started = Instant::now();
        let evs = events(&gw, &ask(model, "[[fake:stall]]")).await;
        assert!(
            matches!(evs.last(), Some(LlmEvent::Error(GatewayError::Timeout(_)))),
            "{model}: {:?}",
            evs.last()
        );
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{model}: idle timeout is 1.5 s"
        );
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_upstream_answer() {
    let (fake, _urls, gw) = setup().await;
    for (model, _) in MODELS {
        let mut stream = gw.stream(&ask(model, "[[fake:long=5000]]")).await.unwrap();
        let mut deltas = 0;
        while deltas < 5 {
            if let Some(LlmEvent::TextDelta(_)) = stream.next().await {
                deltas += 1;
            }
        }
        assert_eq!(fake.active_streams(), 1, "{model}");
        drop(stream);
        let deadline = Instant::now() + Duration::from_secs(3);
        while fake.active_streams() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            fake.active_streams(),
            0,
            "{model}: the fake stopped writing"
        );
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn key_problems_are_reported_without_retrying() {
    let (fake, urls, _gw) = setup().await;
    let gw = Gateway::new(config(&urls), keys("invalid-key")).unwrap();
    for (model, _) in &MODELS[..3] {
        fake.clear_requests();
        let err = gw.complete(&ask(model, "hi")).await.unwrap_err();
        assert!(
            matches!(
                err,
                GatewayError::Auth { .. } | GatewayError::Upstream { status: 400, .. }
            ),
            "{model}: {err:?}"
        );
        assert!(
            fake.requests().len() <= 1,
            "{model}: no retry on a key error"
        );
    }
    let gw = Gateway::new(config(&urls), ProviderKeys::default()).unwrap();
    let err = gw
        .complete(&ask("claude-haiku-4-5", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        GatewayError::MissingKey {
            provider: "anthropic".into()
        }
    );
    assert!(
        gw.complete(&ask("local-model", "hi")).await.is_ok(),
        "compatible servers need no key"
    );
    assert!(matches!(
        gw.complete(&ask("nope", "hi")).await,
        Err(GatewayError::UnknownModel(_))
    ));
    let models = gw.models();
    assert!(
        models
            .iter()
            .filter(|m| m.model.provider != ProviderKind::OpenAiCompatible)
            .all(|m| !m.available)
    );
    assert!(
        models
            .iter()
            .any(|m| m.model.id == "local-model" && m.available)
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_provider_is_a_connection_error_after_retries() {
    // A port that was just free: nothing listens there.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let (fake, urls) = spawn(FakeConfig::default()).await.unwrap();
    let mut c = config(&urls);
    c.openai_base_url = parse_base_url("x", &format!("http://127.0.0.1:{port}/v1")).unwrap();
    let gw = Gateway::new(c, keys("k")).unwrap();
    let started = Instant::now();
    let err = gw.complete(&ask("gpt-4o-mini", "hi")).await.unwrap_err();
    assert!(matches!(err, GatewayError::Connection(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    fake.shutdown().await;
}

#[tokio::test]
async fn costs_come_from_reported_usage_and_estimates_are_flagged() {
    let (fake, _urls, gw) = setup().await;
    let req = ask("claude-haiku-4-5", "How much? [[fake:cache]]");
    let a = gw.complete(&req).await.unwrap();
    let (usage, cost) = gw.cost(&req, &a).unwrap();
    assert_eq!(Some(usage), a.usage);
    assert!(!cost.estimated && cost.priced && cost.total_usd > 0.0);
    let expected = (usage.input as f64 * 1.0
        + usage.output as f64 * 5.0
        + usage.cache_read as f64 * 0.10
        + usage.cache_write as f64 * 1.25)
        / 1e6;
    assert!((cost.total_usd - expected).abs() < 1e-12);
    let no_usage = ragenie_gateway::Answer { usage: None, ..a };
    let (_, est) = gw.cost(&req, &no_usage).unwrap();
    assert!(est.estimated);
    let e = gw.estimate(&req).unwrap();
    assert!(e.input_tokens > 0 && e.cost.estimated);
    fake.shutdown().await;
}

#[tokio::test]
async fn embeddings_come_back_in_order_with_the_requested_size() {
    let (fake, _urls, gw) = setup().await;
    let texts: Vec<String> = vec![
        "the cat sat".into(),
        "a dog ran".into(),
        "the cat sat".into(),
    ];
    for (model, dims) in [
        ("text-embedding-3-small", Some(64)),
        ("gemini-embedding-001", Some(32)),
        ("local-embed", None),
    ] {
        let e = gw.embedder(model, dims).unwrap();
        let out = e
            .embed(&texts)
            .await
            .unwrap_or_else(|err| panic!("{model}: {err}"));
        assert_eq!(out.vectors.len(), 3, "{model}");
        let want = dims.unwrap_or(1536) as usize;
        assert!(out.vectors.iter().all(|v| v.len() == want), "{model}");
        assert_eq!(
            out.vectors[0], out.vectors[2],
            "{model}: same text, same vector"
        );
        assert_ne!(out.vectors[0], out.vectors[1], "{model}");
        let norm: f32 = out.vectors[1].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{model}");
        let one = e.embed(&texts[..1]).await.unwrap();
        assert_eq!(
            one.vectors[0], out.vectors[0],
            "{model}: single and batch calls agree"
        );
    }
    assert!(gw.embedder("claude-haiku-4-5", None).is_err());
    fake.shutdown().await;
}
