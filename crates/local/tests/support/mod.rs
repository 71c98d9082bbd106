//! What the process-level suites share (chat-ttfb and soak benchmarks, the soak and crash
//! tests): the `ragenie-server` binary started as a child process on its own data directory,
//! watched through `/proc` (resident memory, open descriptors), stopped by signal; and a small
//! HTTP client of the public API (sign-up, uploads, conversations, streamed answers read event
//! by event). Included with `#[path]` by the examples and the tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Value, json};

pub const PASSWORD: &str = "a long test passphrase 7319";

/// A `ragenie-server` child process on 127.0.0.1 and a data directory.
pub struct ServerProcess {
    child: tokio::process::Child,
    pub base: String,
    pub pid: u32,
    pub data_dir: PathBuf,
    log: PathBuf,
}

/// A port nobody listens on now (the server binds it a moment later).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl ServerProcess {
    /// Starts `binary` on `data_dir` with `env` added (provider keys from the caller's
    /// environment are not passed on) and waits until `GET /health` answers 200.
    pub async fn start(
        binary: &Path,
        data_dir: &Path,
        env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let port = free_port()?;
        let log = data_dir.with_extension("log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let mut command = tokio::process::Command::new(binary);
        command
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("GEMINI_API_KEY")
            .env_remove("RAGENIE_EMBEDDING_MODEL")
            .env("RAGENIE_PORT", port.to_string())
            .env("RAGENIE_DATA_DIR", data_dir)
            .env("RAGENIE_FRONTEND_DIR", data_dir.join("no-frontend"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("the server's pid")?;
        let mut server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            pid,
            data_dir: data_dir.to_owned(),
            log,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{}/health", server.base)).send().await
                && r.status().is_success()
            {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the server exited at start ({status}): {}",
                    server.log_text()
                );
            }
            if Instant::now() > deadline {
                bail!("the server was not ready in 60 s: {}", server.log_text());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the server wrote to standard error.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (`TERM`, `KILL`…) to the process.
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid.to_string())
            .status()?;
        if !status.success() {
            bail!("kill -{signal} {} failed", self.pid);
        }
        Ok(())
    }

    /// Waits at most `timeout` for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Resident memory in KiB (`VmRSS` of `/proc/PID/status`).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Open file descriptors by kind (the entries of `/proc/PID/fd`).
    pub fn fds(&self) -> Fds {
        let mut fds = Fds::default();
        for entry in std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .into_iter()
            .flatten()
            .flatten()
        {
            let target = std::fs::read_link(entry.path()).unwrap_or_default();
            if target.to_string_lossy().starts_with("socket:") {
                fds.sockets += 1;
            } else {
                fds.files += 1;
            }
        }
        fds
    }

    /// Open file descriptors (entries of `/proc/PID/fd`).
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// A process's open descriptors: sockets, and the rest (files, pipes, event fds).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fds {
    pub files: usize,
    pub sockets: usize,
}

impl Fds {
    pub fn total(&self) -> usize {
        self.files + self.sockets
    }
}

/// An HTTP client for one server, with long timeouts (a streamed answer may take a while).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(64)
        .build()
        .expect("an HTTP client")
}

async fn json_or_error(response: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{what}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Registers `email` and returns its `Authorization` header value.
pub async fn register(http: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<String> {
    let body = json_or_error(
        http.post(format!("{base}/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await?,
        "register",
    )
    .await?;
    Ok(format!(
        "Bearer {}",
        body["access_token"].as_str().context("access_token")?
    ))
}

/// Signs `email` in: (status, `Authorization` value when it succeeded).
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    email: &str,
) -> anyhow::Result<(u16, Option<String>)> {
    let response = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let auth = body["access_token"].as_str().map(|t| format!("Bearer {t}"));
    Ok((status, auth))
}

/// Uploads a Markdown dataset: (status, body).
pub async fn upload(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    name: &str,
    text: String,
) -> anyhow::Result<(u16, Value)> {
    let response = http
        .post(format!("{base}/documents"))
        .query(&[("kind", "dataset"), ("name", name)])
        .header("authorization", auth)
        .header("content-type", "text/markdown")
        .body(text)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// GET `path` as JSON (an error unless 2xx).
/// Waits until none of these documents is still being ingested (the server indexes uploads in
/// the background), for up to two minutes.
pub async fn wait_until_settled(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    ids: &[String],
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    for id in ids {
        loop {
            let doc = get_json(http, base, auth, &format!("/documents/{id}")).await?;
            if doc["status"] != "pending" && doc["status"] != "processing" {
                break;
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "document {id} still being ingested"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// The body of a plain GET of `url` (a presigned link: no authorization), as text.
pub async fn fetch_text(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    Ok(http
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?)
}

pub async fn get_json(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    path: &str,
) -> anyhow::Result<Value> {
    json_or_error(
        http.get(format!("{base}{path}"))
            .header("authorization", auth)
            .send()
            .await?,
        path,
    )
    .await
}

/// POST `body` as JSON to `path` (an error unless 2xx).
pub async fn post_json(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    json_or_error(
        http.post(format!("{base}{path}"))
            .header("authorization", auth)
            .json(&body)
            .send()
            .await?,
        path,
    )
    .await
}

/// A new conversation (on `profile_id` when given) answered by `model`; its id.
pub async fn conversation(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    profile_id: Option<&str>,
    model: &str,
) -> anyhow::Result<String> {
    let mut body = json!({"model": model});
    if let Some(p) = profile_id {
        body["profile_id"] = json!(p);
    }
    let conv = post_json(http, base, auth, "/conversations", body).await?;
    Ok(conv["id"].as_str().context("conversation id")?.to_owned())
}

/// One streamed answer as the client saw it.
#[derive(Debug, Default)]
pub struct Streamed {
    pub status: u16,
    /// The problem body of a refused send.
    pub refusal: String,
    pub meta: Option<Value>,
    pub text: String,
    pub errors: Vec<String>,
    pub done: Option<Value>,
    /// Since the request was sent: its first body byte, its first `delta` event.
    pub first_byte: Option<Duration>,
    pub first_delta: Option<Duration>,
    pub elapsed: Duration,
    /// The connection broke before the stream's end (a killed server).
    pub broken: bool,
}

impl Streamed {
    /// The answer ended normally: saved, with no error event.
    pub fn complete(&self) -> bool {
        self.status == 200 && self.errors.is_empty() && self.done.is_some()
    }

    pub fn finish_reason(&self) -> Option<&str> {
        self.done.as_ref()?["finish_reason"].as_str()
    }
}

/// Sends `content` to a conversation and reads the Server-Sent Events to the end.
pub async fn send(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    conv_id: &str,
    content: &str,
) -> anyhow::Result<Streamed> {
    send_with(http, base, auth, conv_id, content, |_| false).await
}

/// `send`, calling `leave` after each event: the client leaves when it returns true.
pub async fn send_with(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    conv_id: &str,
    content: &str,
    mut leave: impl FnMut(&Streamed) -> bool,
) -> anyhow::Result<Streamed> {
    let started = Instant::now();
    let response = http
        .post(format!("{base}/conversations/{conv_id}/messages"))
        .header("authorization", auth)
        .json(&json!({"content": content}))
        .send()
        .await?;
    let mut out = Streamed {
        status: response.status().as_u16(),
        ..Streamed::default()
    };
    if out.status != 200 {
        out.refusal = response.text().await.unwrap_or_default();
        out.elapsed = started.elapsed();
        return Ok(out);
    }
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    'read: while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            out.broken = true;
            break;
        };
        out.first_byte.get_or_insert_with(|| started.elapsed());
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let (mut event, mut data) = ("", String::new());
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            let value: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
            match event {
                "meta" => out.meta = Some(value),
                "delta" => {
                    out.first_delta.get_or_insert_with(|| started.elapsed());
                    out.text
                        .push_str(value["text"].as_str().unwrap_or_default());
                }
                "error" => out
                    .errors
                    .push(value["message"].as_str().unwrap_or_default().to_owned()),
                "done" => out.done = Some(value),
                _ => {}
            }
            if leave(&out) {
                break 'read;
            }
        }
    }
    out.elapsed = started.elapsed();
    Ok(out)
}

/// A conversation's stored messages.
pub async fn messages(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    conv_id: &str,
) -> anyhow::Result<Vec<Value>> {
    let detail = get_json(http, base, auth, &format!("/conversations/{conv_id}")).await?;
    Ok(detail["messages"].as_array().cloned().unwrap_or_default())
}

/// Messages a client saw acknowledged (the question in `meta`, the answer in `done`) that are
/// not stored as it saw them: the question's text, the answer's text and finish reason.
pub fn lost_messages(sent: &str, seen: &Streamed, stored: &[Value]) -> usize {
    let Some(meta) = &seen.meta else { return 0 };
    let by_id = |id: &str| stored.iter().find(|m| m["id"] == id);
    let mut lost = 0;
    let question = meta["user_message_id"].as_str().unwrap_or_default();
    if by_id(question).is_none_or(|m| m["content"] != sent) {
        lost += 1;
    }
    if seen.done.is_some() {
        let answer = meta["assistant_message_id"].as_str().unwrap_or_default();
        let stored_answer = by_id(answer);
        if stored_answer.is_none_or(|m| {
            m["content"] != seen.text.as_str()
                || m["finish_reason"].as_str() != seen.finish_reason()
        }) {
            lost += 1;
        }
    }
    lost
}

/// Percentile (nearest rank) of unsorted samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A Markdown note of about `words` words drawn from a skewed vocabulary of made-up terms (a
/// few common, most rare, as in real text), so searches match some notes and not others.
pub fn note(seed: u64, words: usize) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut text = format!("# Note {seed}\n\n");
    for i in 0..words {
        // log-uniform rank over 1..5000: a Zipf-like spread.
        let u = (next() % 10_000) as f64 / 10_000.0;
        let rank = (5000f64.powf(u)) as u64;
        text.push_str(&format!("term{rank}"));
        text.push(if i % 12 == 11 { '\n' } else { ' ' });
        if i % 120 == 119 {
            text.push_str(&format!("\n## Part {}\n\n", i / 120 + 1));
        }
    }
    text.push('\n');
    text
}

/// A question about a few middling terms of the vocabulary.
pub fn question(seed: u64) -> String {
    format!(
        "What do the notes say about term{} and term{}? ({seed})",
        20 + seed % 300,
        40 + (seed * 7) % 500
    )
}

pub mod soak;
