//! `scripts/bench.sh chat-ttfb`: the time RaGenie adds to an answer's first byte, through the
//! local server's streaming chat endpoint, for a user whose profile holds 1,000 datasets (too
//! many for the model's window, so every message runs retrieval), then 50 concurrent streams
//! whose stored messages are compared with what was sent and received.
//!
//! * The upstream is the fake OpenAI server (in this process); its own time to the first answer
//!   byte is measured by calling it directly, right before each message through RaGenie.
//!   Added = (first `delta` event through RaGenie) − (first content chunk from the fake), per
//!   message; p50/p95 of those.
//! * The server is the `ragenie-server` binary (`--server`, built with the `local` profile by
//!   the script) on a fresh data directory, as `scripts/dev.sh` runs it.
//! * The 50 concurrent streams come from the same user: the bench raises that user's limits
//!   through their settings (`RAGENIE_MAX_CONCURRENT_ANSWERS=50`,
//!   `RAGENIE_REQUESTS_PER_MINUTE=10000`), as an operator would; the defaults (3 at once, 60 a
//!   minute) would refuse most of them with 429.
//!
//! `chat_ttfb --server PATH [--docs 1000] [--rounds 100] [--streams 50] [--out FILE.json]`

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::json;
use support::{ServerProcess, ms, percentile};

const MODEL: &str = "gpt-4o";
const MAX_CONCURRENT: usize = 50;
const REQUESTS_PER_MINUTE: usize = 10_000;

struct Args {
    server: PathBuf,
    docs: usize,
    rounds: usize,
    streams: usize,
    out: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        server: "target/local/ragenie-server".into(),
        docs: 1000,
        rounds: 100,
        streams: 50,
        out: "target/bench/chat-ttfb.json".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--server" => args.server = value.into(),
            "--docs" => args.docs = value.parse()?,
            "--rounds" => args.rounds = value.parse()?,
            "--streams" => args.streams = value.parse()?,
            "--out" => args.out = value.into(),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// The fake's own time to its first content chunk, called directly (streamed, as RaGenie asks).
async fn upstream_ttfb(http: &reqwest::Client, openai: &str, q: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let response = http
        .post(format!("{openai}/chat/completions"))
        .bearer_auth("bench-key")
        .json(
            &json!({"model": MODEL, "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": q}]}),
        )
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("the fake answered {}", response.status());
    }
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    let mut first = None;
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk?));
        if first.is_none() && seen.contains("\"content\":\"") {
            first = Some(started.elapsed());
        }
    }
    Ok(ms(first.context("the fake sent no content")?))
}

async fn upload_library(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); count]));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, base, auth, next, ids) = (
            http.clone(),
            base.to_owned(),
            auth.to_owned(),
            next.clone(),
            ids.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(());
                }
                let (status, body) = support::upload(
                    &http,
                    &base,
                    &auth,
                    &format!("note-{i:04}.md"),
                    support::note(i as u64, 250),
                )
                .await?;
                if status != 201 {
                    bail!("upload {i}: {status} {body}");
                }
                let id = body["id"].as_str().context("document id")?.to_owned();
                ids.lock().expect("ids")[i] = id;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let ids = ids.lock().expect("ids").clone();
    Ok(ids)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let (_fakes, urls) = ragenie_fake_providers::spawn(Default::default()).await?;
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::start(
        &args.server,
        &dir.path().join("data"),
        &[
            ("RAGENIE_OPENAI_BASE_URL", urls.openai.clone()),
            ("OPENAI_API_KEY", "bench-key".into()),
            ("RAGENIE_MAX_CONCURRENT_ANSWERS", MAX_CONCURRENT.to_string()),
            (
                "RAGENIE_REQUESTS_PER_MINUTE",
                REQUESTS_PER_MINUTE.to_string(),
            ),
        ],
    )
    .await?;
    let base = server.base.clone();
    let http = support::client();
    let auth = support::register(&http, &base, "bench@bench.example").await?;

    eprintln!("uploading {} notes of ~250 words", args.docs);
    let started = Instant::now();
    let ids = upload_library(&http, &base, &auth, args.docs).await?;
    // The server indexes uploads in the background: the library is ready when all are.
    support::wait_until_settled(&http, &base, &auth, &ids).await?;
    let upload_s = started.elapsed().as_secs_f64();
    // A profile of every note: two profiles of at most 500 datasets, the second inheriting
    // the first (a profile lists at most 500).
    let half = ids.len().div_ceil(2);
    let first = support::post_json(
        &http,
        &base,
        &auth,
        "/profiles",
        json!({"name": "Library A", "dataset_ids": ids[..half]}),
    )
    .await?;
    let profile = support::post_json(
        &http,
        &base,
        &auth,
        "/profiles",
        json!({"name": "Library", "dataset_ids": ids[half..], "parent_ids": [first["id"]]}),
    )
    .await?;
    let profile_id = profile["id"].as_str().context("profile id")?.to_owned();

    // Sequential messages, five per conversation (history grows as in real use).
    let (mut added, mut through, mut upstream, mut first_bytes) = (vec![], vec![], vec![], vec![]);
    let mut mode = String::new();
    let mut conv = String::new();
    let warmup = 5;
    for round in 0..args.rounds + warmup {
        if round % 5 == 0 {
            conv = support::conversation(&http, &base, &auth, Some(&profile_id), MODEL).await?;
        }
        let q = support::question(round as u64);
        let direct = upstream_ttfb(&http, &urls.openai, &q).await?;
        let seen = support::send(&http, &base, &auth, &conv, &q).await?;
        if !seen.complete() {
            bail!("message {round}: {seen:?}");
        }
        mode = seen.meta.as_ref().map_or(String::new(), |m| {
            m["context"]["datasets_mode"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        });
        if round >= warmup {
            let e2e = ms(seen.first_delta.context("no delta")?);
            through.push(e2e);
            upstream.push(direct);
            added.push(e2e - direct);
            first_bytes.push(ms(seen.first_byte.context("no byte")?));
        }
    }
    if mode != "retrieved" {
        bail!("the datasets fit the window ({mode}): the bench must exercise retrieval");
    }

    // Concurrent streams, each in its own conversation, released at once.
    let mut convs = Vec::new();
    for _ in 0..args.streams {
        convs.push(support::conversation(&http, &base, &auth, Some(&profile_id), MODEL).await?);
    }
    let gate = Arc::new(tokio::sync::Barrier::new(args.streams));
    let mut tasks = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        let (http, base, auth, conv, gate) = (
            http.clone(),
            base.clone(),
            auth.clone(),
            conv.clone(),
            gate.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let q = format!("{} [stream {i}]", support::question(10_000 + i as u64));
            gate.wait().await;
            let seen = support::send(&http, &base, &auth, &conv, &q).await;
            (conv, q, seen)
        }));
    }
    let (mut errors, mut lost, mut concurrent_ttft) = (0usize, 0usize, Vec::new());
    for task in tasks {
        let (conv, q, seen) = task.await?;
        match seen {
            Ok(seen) => {
                if !seen.complete() {
                    eprintln!(
                        "stream error: {} {} {:?}",
                        seen.status, seen.refusal, seen.errors
                    );
                    errors += 1;
                }
                if let Some(t) = seen.first_delta {
                    concurrent_ttft.push(ms(t));
                }
                let stored = support::messages(&http, &base, &auth, &conv).await?;
                lost += support::lost_messages(&q, &seen, &stored);
            }
            Err(e) => {
                eprintln!("stream failed: {e:#}");
                errors += 1;
            }
        }
    }

    let r = |x: f64| (x * 100.0).round() / 100.0;
    let (a50, a95) = (percentile(&added, 50.0), percentile(&added, 95.0));
    println!(
        "chat-ttfb: {} datasets in the profile (retrieval: {mode}), model {MODEL} on the fake OpenAI server; \
         {} messages after {warmup} warm-up; server process {}",
        args.docs,
        args.rounds,
        args.server.display()
    );
    println!("| measure | p50 ms | p95 ms |");
    println!("| --- | ---: | ---: |");
    for (name, v) in [
        ("first answer byte through RaGenie", &through),
        ("first byte of the upstream (called directly)", &upstream),
        ("added by RaGenie (per message)", &added),
        ("first SSE byte (the `meta` event)", &first_bytes),
        ("first answer byte, 50 concurrent streams", &concurrent_ttft),
    ] {
        println!(
            "| {name} | {:.2} | {:.2} |",
            percentile(v, 50.0),
            percentile(v, 95.0)
        );
    }
    println!(
        "concurrent streams: {}, errors {errors}, lost messages {lost}",
        args.streams
    );
    let out = json!({
        "added_ttfb_p50_ms": r(a50),
        "added_ttfb_p95_ms": r(a95),
        "concurrent_streams": args.streams,
        "concurrent_stream_errors": errors,
        "lost_messages": lost,
        "ttfb_p50_ms": r(percentile(&through, 50.0)),
        "ttfb_p95_ms": r(percentile(&through, 95.0)),
        "upstream_ttfb_p50_ms": r(percentile(&upstream, 50.0)),
        "upstream_ttfb_p95_ms": r(percentile(&upstream, 95.0)),
        "first_sse_byte_p95_ms": r(percentile(&first_bytes, 95.0)),
        "concurrent_ttfb_p50_ms": r(percentile(&concurrent_ttft, 50.0)),
        "concurrent_ttfb_p95_ms": r(percentile(&concurrent_ttft, 95.0)),
        "documents": args.docs,
        "messages": args.rounds,
        "datasets_mode": mode,
        "model": MODEL,
        "server": args.server.display().to_string(),
        "upload_s": r(upload_s),
        "limits": format!("one user; RAGENIE_MAX_CONCURRENT_ANSWERS={MAX_CONCURRENT} RAGENIE_REQUESTS_PER_MINUTE={REQUESTS_PER_MINUTE} set for the bench"),
        "not_covered": "network to a real provider, Lambda (the embedded store, one process), hybrid retrieval (BM25 only)",
    });
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
    drop(server);
    Ok(())
}
