//! Benchmark driver for `scripts/bench.sh gateway` (see scripts/bench.d/gateway.sh).
//!
//! `gateway_bench run --upstream URL [--litellm URL --litellm-key KEY --litellm-pid PID]`
//! measures, against the same fake OpenAI upstream: calling it directly, calling it through
//! this gateway in-process, and through the LiteLLM proxy; prints one flat JSON object.
//! `gateway_bench first-count` prints the milliseconds of the first token count in a fresh
//! process; `gateway_bench tiktoken FILE` prints encode throughput in MB/s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use ragenie_gateway::{
    ApiKey, ChatMessage, ChatRequest, Gateway, GatewayConfig, LlmEvent, ProviderKeys, RetryPolicy,
    Timeouts, Tokenizer, parse_base_url,
};
use serde_json::{Map, Value, json};

const MODEL: &str = "gpt-4o-mini";
const SYSTEM: &str = "You are a helpful assistant. Answer from the sources. [1] RaGenie is a chat-with-your-documents service.";
const QUESTION: &str = "What is RaGenie, in one sentence?";

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// CPU seconds and RSS (MB) of a process and all its descendants, from /proc.
fn tree_usage(root: u32) -> (f64, f64) {
    let mut procs = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
            if f.len() < 15 {
                continue;
            }
            let ppid: u32 = f[1].parse().unwrap_or(0);
            let cpu = f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
            procs.push((pid, ppid, cpu));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for (pid, ppid, _) in &procs {
            if *ppid == parent && !tree.contains(pid) {
                tree.push(*pid);
            }
        }
        i += 1;
    }
    let cpu: f64 = procs
        .iter()
        .filter(|p| tree.contains(&p.0))
        .map(|p| p.2)
        .sum::<f64>()
        / ticks_per_sec();
    let rss: f64 = tree
        .iter()
        .map(|pid| rss_mb(&format!("/proc/{pid}/status")))
        .sum();
    (cpu, rss)
}

fn rss_mb(status_path: &str) -> f64 {
    std::fs::read_to_string(status_path)
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// One way of getting an answer: returns the number of text chunks received, or an error.
#[derive(Clone)]
enum Target {
    Direct {
        client: reqwest::Client,
        url: String,
    },
    Gateway(Arc<Gateway>),
    LiteLlm {
        client: reqwest::Client,
        url: String,
        key: String,
    },
}

fn body(stream: bool) -> Value {
    let mut b = json!({"model": MODEL, "messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": QUESTION}
    ]});
    if stream {
        b["stream"] = json!(true);
        b["stream_options"] = json!({"include_usage": true});
    }
    b
}

/// Reads an OpenAI-format answer over HTTP like a thin client would: the JSON parsed, or
/// the SSE stream read to the end with its data events counted.
async fn http_call(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    stream: bool,
) -> Result<u64, String> {
    let resp = client
        .post(url)
        .bearer_auth(key)
        .json(&body(stream))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    if !stream {
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        return v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(|_| 1)
            .ok_or("no content".into());
    }
    let mut s = resp.bytes_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = s.next().await {
        buf.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
    }
    let text = String::from_utf8_lossy(&buf);
    if !text.contains("[DONE]") {
        return Err("stream ended without [DONE]".into());
    }
    Ok(text.matches("\"content\":").count() as u64)
}

impl Target {
    async fn call(&self, stream: bool) -> Result<u64, String> {
        match self {
            Target::Direct { client, url } => http_call(client, url, "test-key", stream).await,
            Target::LiteLlm { client, url, key } => http_call(client, url, key, stream).await,
            Target::Gateway(gw) => {
                let req =
                    ChatRequest::new(MODEL, vec![ChatMessage::user(QUESTION)]).with_system(SYSTEM);
                if !stream {
                    return gw
                        .complete(&req)
                        .await
                        .map(|_| 1)
                        .map_err(|e| e.to_string());
                }
                let mut s = gw.stream(&req).await.map_err(|e| e.to_string())?;
                let mut chunks = 0;
                while let Some(ev) = s.next().await {
                    match ev {
                        LlmEvent::TextDelta(_) => chunks += 1,
                        LlmEvent::Error(e) => return Err(e.to_string()),
                        _ => {}
                    }
                }
                Ok(chunks)
            }
        }
    }
}

/// Sequential latencies in milliseconds, sorted, per target. The targets take turns request
/// by request, so a neighbour's CPU burst hits them alike; a target with a limit stops
/// taking turns after that many requests.
async fn latencies(
    targets: &[(&str, &Target, usize)],
    stream: bool,
) -> Result<Vec<Vec<f64>>, String> {
    let most = targets.iter().map(|t| t.2).max().unwrap_or(0);
    let mut all: Vec<Vec<f64>> = targets.iter().map(|t| Vec::with_capacity(t.2)).collect();
    for i in 0..most {
        for (k, (name, t, limit)) in targets.iter().enumerate() {
            if i >= *limit {
                continue;
            }
            let started = Instant::now();
            t.call(stream).await.map_err(|e| format!("{name}: {e}"))?;
            all[k].push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    for v in &mut all {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    Ok(all)
}

struct Load {
    rps: f64,
    requests: u64,
    chunks: u64,
    errors: u64,
}

/// `workers` concurrent loops for `dur`.
async fn load(t: &Target, stream: bool, workers: usize, dur: Duration) -> Load {
    let done = Arc::new(AtomicU64::new(0));
    let chunks = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + dur;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (t, done, chunks, errors) = (t.clone(), done.clone(), chunks.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                match tokio::time::timeout(Duration::from_secs(30), t.call(stream)).await {
                    Ok(Ok(c)) => {
                        done.fetch_add(1, Ordering::Relaxed);
                        chunks.fetch_add(c, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = done.load(Ordering::Relaxed);
    Load {
        rps: requests as f64 / elapsed,
        requests,
        chunks: chunks.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
    }
}

/// 64 streams at once (each ~14 chunks, 5 ms apart upstream): how many fail or time out.
async fn burst(t: &Target, n: usize) -> u64 {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            matches!(
                tokio::time::timeout(Duration::from_secs(30), t.call(true)).await,
                Ok(Ok(_))
            )
        }));
    }
    let mut failures = 0;
    for task in tasks {
        if !matches!(task.await, Ok(true)) {
            failures += 1;
        }
    }
    failures
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

async fn run(args: &[String]) -> Result<Map<String, Value>, String> {
    let upstream = arg(args, "--upstream").ok_or("--upstream URL is required")?;
    let n: usize = arg(args, "--requests")
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let secs: u64 = arg(args, "--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let dur = Duration::from_secs(secs);
    let mut out = Map::new();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())?;

    let direct = Target::Direct {
        client: client.clone(),
        url: format!("{upstream}/chat/completions"),
    };
    let mut config = GatewayConfig {
        openai_base_url: parse_base_url("--upstream", &upstream).map_err(|e| e.to_string())?,
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(60),
            idle: Duration::from_secs(30),
        },
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        ..GatewayConfig::default()
    };
    config.openai_compatible_base_url = None;
    let keys = ProviderKeys {
        openai: ApiKey::new("test-key"),
        ..ProviderKeys::default()
    };
    let gateway = Target::Gateway(Arc::new(
        Gateway::new(config, keys).map_err(|e| e.to_string())?,
    ));
    let litellm = match (arg(args, "--litellm"), arg(args, "--litellm-key")) {
        (Some(url), Some(key)) => Some(Target::LiteLlm {
            client: client.clone(),
            url: format!("{url}/v1/chat/completions"),
            key,
        }),
        _ => None,
    };
    let litellm_pid: Option<u32> = arg(args, "--litellm-pid").and_then(|v| v.parse().ok());

    let mut targets: Vec<(&str, &Target)> = vec![("direct", &direct), ("ragenie", &gateway)];
    if let Some(l) = &litellm {
        targets.push(("litellm", l));
    }
    for (name, t) in &targets {
        for stream in [false, true] {
            for _ in 0..30 {
                t.call(stream)
                    .await
                    .map_err(|e| format!("{name} warm-up failed: {e}"))?;
            }
        }
    }

    for stream in [false, true] {
        let sfx = if stream { "_stream" } else { "" };
        let mut p50 = std::collections::HashMap::new();
        let plan: Vec<(&str, &Target, usize)> = targets
            .iter()
            .map(|(name, t)| (*name, *t, if *name == "litellm" { n.min(200) } else { n }))
            .collect();
        let measured = latencies(&plan, stream).await?;
        for ((name, _, count), l) in plan.iter().zip(&measured) {
            eprintln!(
                "  {name}{sfx}: p50 {:.3} ms, p99 {:.3} ms over {count}",
                percentile(l, 0.5),
                percentile(l, 0.99)
            );
            p50.insert(*name, (percentile(l, 0.5), percentile(l, 0.99)));
            out.insert(
                format!("{name}_p50_ms{sfx}"),
                json!(round(percentile(l, 0.5), 3)),
            );
            out.insert(
                format!("{name}_p99_ms{sfx}"),
                json!(round(percentile(l, 0.99), 3)),
            );
        }
        let (d50, d99) = p50["direct"];
        for name in ["ragenie", "litellm"] {
            if let Some((x50, x99)) = p50.get(name) {
                out.insert(
                    format!("{name}_added_p50_ms{sfx}"),
                    json!(round(x50 - d50, 3)),
                );
                out.insert(
                    format!("{name}_added_p99_ms{sfx}"),
                    json!(round(x99 - d99, 3)),
                );
            }
        }

        // Two rounds, targets taking turns, so drift in the machine's load hits them alike.
        let mut runs: std::collections::HashMap<&str, (Load, f64)> =
            std::collections::HashMap::new();
        for (name, t) in targets.iter().chain(targets.iter()) {
            let cpu_before = if *name == "litellm" {
                litellm_pid.map(|p| tree_usage(p).0).unwrap_or(0.0)
            } else {
                process_cpu().as_secs_f64()
            };
            let l = load(t, stream, 16, dur).await;
            let cpu_after = if *name == "litellm" {
                litellm_pid.map(|p| tree_usage(p).0).unwrap_or(0.0)
            } else {
                process_cpu().as_secs_f64()
            };
            let l = match runs.remove(*name) {
                // Best of the two rounds: the machine is shared, one neighbour's burst should
                // not decide; CPU is summed over both.
                Some((prev, prev_cpu)) => (
                    Load {
                        rps: prev.rps.max(l.rps),
                        requests: prev.requests + l.requests,
                        chunks: prev.chunks + l.chunks,
                        errors: prev.errors + l.errors,
                    },
                    prev_cpu + (cpu_after - cpu_before),
                ),
                None => {
                    runs.insert(*name, (l, cpu_after - cpu_before));
                    continue;
                }
            };
            let (l, cpu_secs) = l;
            eprintln!(
                "  {name}{sfx}: {:.0} req/s at 16 connections ({} errors)",
                l.rps, l.errors
            );
            out.insert(format!("{name}_rps{sfx}"), json!(round(l.rps, 1)));
            out.insert(format!("{name}_errors_16{sfx}"), json!(l.errors));
            if *name != "direct" && l.requests > 0 {
                let cpu_ms = cpu_secs * 1000.0;
                if *name == "ragenie" || litellm_pid.is_some() {
                    out.insert(
                        format!("{name}_cpu_ms_per_req{sfx}"),
                        json!(round(cpu_ms / l.requests as f64, 4)),
                    );
                    if stream && l.chunks > 0 {
                        out.insert(
                            format!("{name}_cpu_ms_per_chunk"),
                            json!(round(cpu_ms / l.chunks as f64, 5)),
                        );
                    }
                }
            }
            if *name == "direct" && l.requests > 0 {
                let cpu_ms = cpu_secs * 1000.0;
                out.insert(
                    format!("direct_client_cpu_ms_per_req{sfx}"),
                    json!(round(cpu_ms / l.requests as f64, 4)),
                );
            }
        }
    }

    for sfx in ["", "_stream"] {
        let direct = out
            .get(&format!("direct_rps{sfx}"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        for name in ["ragenie", "litellm"] {
            if let Some(x) = out.get(&format!("{name}_rps{sfx}")).and_then(Value::as_f64)
                && direct > 0.0
            {
                out.insert(
                    format!("{name}_rps_vs_direct{sfx}"),
                    json!(round(x / direct, 3)),
                );
            }
        }
    }
    out.insert(
        "ragenie_rss_mb".into(),
        json!(round(rss_mb("/proc/self/status"), 1)),
    );
    if let Some(pid) = litellm_pid {
        out.insert("litellm_rss_mb".into(), json!(round(tree_usage(pid).1, 1)));
    }
    for (name, t) in &targets {
        if *name == "direct" {
            continue;
        }
        let failures = burst(t, 64).await;
        out.insert(format!("{name}_failures_64_streams"), json!(failures));
    }
    Ok(out)
}

fn tiktoken(path: &str) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mb = text.len() as f64 / 1_000_000.0;
    let mut out = Map::new();
    for (name, tok) in [
        ("cl100k", Tokenizer::Cl100kBase),
        ("o200k", Tokenizer::O200kBase),
    ] {
        tok.count("warm up");
        // CPU time, not wall time: the machine is shared and the encoder is single-threaded.
        let mut best = f64::MAX;
        let mut tokens = 0;
        for _ in 0..5 {
            let started = process_cpu();
            tokens = tok.count(&text);
            best = best.min((process_cpu() - started).as_secs_f64());
        }
        out.insert(
            format!("tiktoken_rs_{name}_mb_per_s"),
            json!(round(mb / best, 2)),
        );
        out.insert(format!("tiktoken_rs_{name}_tokens"), json!(tokens));
    }
    Ok(out)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("first-count") => {
            let (started, cpu) = (Instant::now(), process_cpu());
            let n = Tokenizer::O200kBase.count("How many tokens is this sentence?");
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let cpu_ms = (process_cpu() - cpu).as_secs_f64() * 1000.0;
            Ok(Map::from_iter([
                ("first_count_ms".to_owned(), json!(round(ms, 2))),
                ("first_count_cpu_ms".to_owned(), json!(round(cpu_ms, 2))),
                ("first_count_tokens".to_owned(), json!(n)),
            ]))
        }
        Some("tiktoken") => match args.get(1) {
            Some(p) => tiktoken(p),
            None => Err("tiktoken FILE".into()),
        },
        Some("run") => run(&args[1..]).await,
        _ => Err("usage: gateway_bench run --upstream URL [--litellm URL --litellm-key KEY --litellm-pid PID] | first-count | tiktoken FILE".into()),
    };
    match result {
        Ok(m) => println!("{}", Value::Object(m)),
        Err(e) => {
            eprintln!("gateway_bench: {e}");
            std::process::exit(1);
        }
    }
}
