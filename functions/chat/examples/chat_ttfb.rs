//! Benchmark: time to the first streamed byte and the first answer token of a grounded chat
//! message through the chat router (embedded store, real context assembly), side by side with
//! calling the same fake provider directly through the gateway. Run by
//! `scripts/bench.sh chat-ttfb`; writes target/bench/chat-ttfb.json.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use ragenie_common::accounts::profiles::{self, NewProfile};
use ragenie_common::testing::{embedded_state, test_user};
use ragenie_corpus::{Corpus, DocumentKind, NewDocument, ProviderState};
use ragenie_gateway::{ChatMessage, ChatRequest, Gateway, GatewayConfig, LlmEvent, ProviderKeys};
use serde_json::json;

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(60);
    let (_fakes, urls) = ragenie_fake_providers::spawn(Default::default()).await?;
    let lookup = |name: &str| -> Option<String> {
        match name {
            "RAGENIE_OPENAI_BASE_URL" => Some(urls.openai.clone()),
            "OPENAI_API_KEY" => Some("bench-key".into()),
            _ => None,
        }
    };
    let gateway = Arc::new(Gateway::new(
        GatewayConfig::from_lookup(lookup)?,
        ProviderKeys::from_lookup(lookup),
    )?);

    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = embedded_state(dir.path(), &base).await;
    let router = ragenie_common::http::with_fallback(
        ragenie_chat::router(ProviderState::with_gateway(state.clone(), gateway.clone())?)
            .merge(ragenie_conversations::router(state.clone())),
    );
    // As the local server does: no Nagle delay on the many small SSE writes.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await });

    let (user_id, bearer) = test_user();
    let corpus = Corpus::new(state.table.clone(), state.blobs.clone());
    let guide = "# Espresso guide\n\n## Grinding\n\nA fine, even grind matters most.\n\n## Tamping\n\nTamp with thirty pounds of pressure.\n".repeat(20);
    let (doc, _) = corpus
        .upload(
            user_id,
            NewDocument {
                name: "guide.md".into(),
                kind: DocumentKind::Dataset,
                media_type: "text/markdown".into(),
                bytes: Bytes::from(guide),
            },
        )
        .await?;
    let profile = profiles::create(
        state.table.as_ref(),
        user_id,
        NewProfile {
            name: "Bench".into(),
            dataset_ids: vec![doc.id],
            ..Default::default()
        },
    )
    .await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let conv: serde_json::Value = http
        .post(format!("{base}/conversations"))
        .header("authorization", &bearer)
        .json(&json!({"profile_id": profile.id.to_string(), "model": "gpt-4.1"}))
        .send()
        .await?
        .json()
        .await?;
    let conv_id = conv["id"].as_str().unwrap().to_owned();

    let mut first_byte = Vec::new();
    let mut first_token = Vec::new();
    let mut direct_token = Vec::new();
    for round in 0..rounds + 5 {
        let started = Instant::now();
        let response = http
            .post(format!("{base}/conversations/{conv_id}/messages"))
            .header("authorization", &bearer)
            .json(&json!({"content": format!("How hard should I tamp? ({round})")}))
            .send()
            .await?;
        let mut body = response.bytes_stream();
        let mut seen = String::new();
        let mut byte_at = None;
        let mut token_at = None;
        while let Some(chunk) = body.next().await {
            byte_at.get_or_insert_with(|| started.elapsed());
            seen.push_str(&String::from_utf8_lossy(&chunk?));
            if token_at.is_none() && seen.contains("event: delta") {
                token_at = Some(started.elapsed());
            }
        }
        let started = Instant::now();
        let request = ChatRequest::new(
            "gpt-4.1",
            vec![ChatMessage::user(format!(
                "How hard should I tamp? ({round})"
            ))],
        );
        let mut stream = gateway.stream(&request).await?;
        let mut direct = None;
        while let Some(event) = stream.next().await {
            if matches!(event, LlmEvent::TextDelta(_)) && direct.is_none() {
                direct = Some(started.elapsed());
            }
        }
        if round >= 5 {
            first_byte.push(byte_at.unwrap().as_secs_f64() * 1000.0);
            first_token.push(token_at.expect("a delta").as_secs_f64() * 1000.0);
            direct_token.push(direct.expect("a delta").as_secs_f64() * 1000.0);
        }
    }
    let (fb50, fb95) = (
        percentile(&mut first_byte, 0.5),
        percentile(&mut first_byte, 0.95),
    );
    let (ft50, ft95) = (
        percentile(&mut first_token, 0.5),
        percentile(&mut first_token, 0.95),
    );
    let (d50, d95) = (
        percentile(&mut direct_token, 0.5),
        percentile(&mut direct_token, 0.95),
    );
    println!(
        "chat-ttfb over {rounds} messages (fake OpenAI upstream on 127.0.0.1, debug-free release build)"
    );
    println!("| measure | p50 ms | p95 ms |");
    println!("| --- | ---: | ---: |");
    println!("| first byte of the SSE response (meta event) | {fb50:.2} | {fb95:.2} |");
    println!("| first answer token through RaGenie | {ft50:.2} | {ft95:.2} |");
    println!("| first token calling the provider directly | {d50:.2} | {d95:.2} |");
    println!(
        "| added by RaGenie (store, context, persistence) | {:.2} | {:.2} |",
        ft50 - d50,
        ft95 - d95
    );
    println!(
        "ratio first token RaGenie / direct (p50): {:.2}",
        ft50 / d50
    );
    let out = json!({
        "rounds": rounds,
        "ttfb_p50_ms": fb50, "ttfb_p95_ms": fb95,
        "first_token_p50_ms": ft50, "first_token_p95_ms": ft95,
        "direct_first_token_p50_ms": d50, "direct_first_token_p95_ms": d95,
        "added_p50_ms": ft50 - d50, "ratio_first_token_p50": ft50 / d50,
    });
    std::fs::create_dir_all("target/bench")?;
    std::fs::write(
        "target/bench/chat-ttfb.json",
        serde_json::to_string_pretty(&out)?,
    )?;
    Ok(())
}
