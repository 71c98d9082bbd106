//! The soak: mixed traffic from several users against a `ragenie-server` process at a fixed
//! rate (sign-ins, uploads, searches, document lists, streamed chats, stopped chats, deletions
//! of documents and conversations), then the checks — no error but the limits' 429s, p95 per
//! route, resident memory at the end against that after warm-up, open descriptors flat, every
//! document and message accounted for. `scripts/bench.sh soak` runs it for 10 minutes on the
//! optimised build; `cargo test -p ragenie-local --test soak` for 25 seconds on the debug one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Map, Value, json};

use super::{Fds, ServerProcess, Streamed, ms, percentile};

pub struct SoakConfig {
    pub duration: Duration,
    /// Operations started per second, whatever the server's speed (open loop).
    pub rate: f64,
    pub users: usize,
    /// Documents each user has before the clock starts.
    pub seed_docs: usize,
    /// Memory is compared with what it was this long after the start.
    pub warmup: Duration,
    pub model: String,
}

#[derive(Default)]
struct User {
    email: String,
    auth: String,
    /// Documents the server acknowledged and nobody deleted.
    docs: BTreeSet<String>,
    /// Idle conversations (an operation takes one out while it uses it).
    idle: Vec<String>,
    deleted_convs: BTreeSet<String>,
    /// Every streamed answer: (conversation, question sent, what the client saw).
    chats: Vec<(String, String, Streamed)>,
}

#[derive(Default)]
struct Tally {
    requests: u64,
    throttled: u64,
    errors: Vec<String>,
    latencies: BTreeMap<&'static str, Vec<f64>>,
}

impl Tally {
    fn ok(&mut self, route: &'static str, started: Instant) {
        self.requests += 1;
        self.latencies
            .entry(route)
            .or_default()
            .push(ms(started.elapsed()));
    }

    fn status(&mut self, route: &'static str, started: Instant, status: u16, detail: &str) {
        match status {
            200..=299 => self.ok(route, started),
            429 => {
                self.requests += 1;
                self.throttled += 1;
            }
            _ => {
                self.requests += 1;
                self.errors.push(format!("{route}: {status} {detail}"));
            }
        }
    }

    fn failed(&mut self, route: &'static str, error: anyhow::Error) {
        self.requests += 1;
        self.errors.push(format!("{route}: {error:#}"));
    }
}

pub struct SoakReport {
    pub requests: u64,
    pub throttled: u64,
    pub errors: Vec<String>,
    pub p95_ms: BTreeMap<&'static str, f64>,
    pub p50_ms: BTreeMap<&'static str, f64>,
    pub counts: BTreeMap<&'static str, usize>,
    pub rss_warm_kib: u64,
    pub rss_end_kib: u64,
    pub fds_start: Fds,
    pub fds_peak: usize,
    pub fds_end: Fds,
    pub documents: usize,
    pub unaccounted_documents: usize,
    pub messages: usize,
    pub lost_messages: usize,
    pub seconds: f64,
}

impl SoakReport {
    pub fn rss_growth_pct(&self) -> f64 {
        (self.rss_end_kib as f64 - self.rss_warm_kib as f64) / self.rss_warm_kib.max(1) as f64
            * 100.0
    }

    /// What failed of the soak's checks (empty: it passed). `rss_tolerance_pct`: 10 for the
    /// benchmark.
    pub fn failures(&self, rss_tolerance_pct: f64) -> Vec<String> {
        let mut out = Vec::new();
        if !self.errors.is_empty() {
            out.push(format!(
                "{} errors, e.g. {:?}",
                self.errors.len(),
                &self.errors[..self.errors.len().min(5)]
            ));
        }
        if self.rss_growth_pct() > rss_tolerance_pct {
            out.push(format!(
                "resident memory grew {:.1}% after warm-up ({} → {} KiB)",
                self.rss_growth_pct(),
                self.rss_warm_kib,
                self.rss_end_kib
            ));
        }
        // With the driver's connections closed, only what the server holds for itself is left.
        // Files (the store, blobs being written, logs) must come back to where they were;
        // sockets are the clients' and the provider pool's connections, bounded by the pools.
        if self.fds_end.files > self.fds_start.files + 2 || self.fds_end.sockets > 64 {
            out.push(format!(
                "open descriptors grew: {:?} at the start, {:?} at the end",
                self.fds_start, self.fds_end
            ));
        }
        if self.unaccounted_documents > 0 {
            out.push(format!(
                "{} documents unaccounted for",
                self.unaccounted_documents
            ));
        }
        if self.lost_messages > 0 {
            out.push(format!("{} messages lost", self.lost_messages));
        }
        out
    }

    pub fn json(&self) -> Value {
        let r = |x: f64| json!((x * 100.0).round() / 100.0);
        let mut out = Map::new();
        out.insert("soak_requests".into(), json!(self.requests));
        out.insert("soak_errors".into(), json!(self.errors.len()));
        out.insert("soak_throttled".into(), json!(self.throttled));
        out.insert("soak_rss_growth_pct".into(), r(self.rss_growth_pct()));
        out.insert("soak_rss_warm_kib".into(), json!(self.rss_warm_kib));
        out.insert("soak_rss_end_kib".into(), json!(self.rss_end_kib));
        out.insert("soak_fds_start".into(), json!(self.fds_start.total()));
        out.insert("soak_fds_peak".into(), json!(self.fds_peak));
        out.insert("soak_fds_end".into(), json!(self.fds_end.total()));
        out.insert("soak_fd_files_start".into(), json!(self.fds_start.files));
        out.insert("soak_fd_files_end".into(), json!(self.fds_end.files));
        out.insert("soak_documents".into(), json!(self.documents));
        out.insert(
            "soak_unaccounted_documents".into(),
            json!(self.unaccounted_documents),
        );
        out.insert("soak_messages".into(), json!(self.messages));
        out.insert("soak_lost_messages".into(), json!(self.lost_messages));
        out.insert("soak_seconds".into(), r(self.seconds));
        for (route, p95) in &self.p95_ms {
            out.insert(format!("soak_p95_ms_{route}"), r(*p95));
        }
        Value::Object(out)
    }

    pub fn table(&self) -> String {
        let mut t =
            String::from("| route | requests | p50 ms | p95 ms |\n| --- | ---: | ---: | ---: |\n");
        for (route, p95) in &self.p95_ms {
            t.push_str(&format!(
                "| {route} | {} | {:.1} | {:.1} |\n",
                self.counts[route], self.p50_ms[route], p95
            ));
        }
        t.push_str(&format!(
            "\n{} requests in {:.0} s, {} errors, {} throttled (429); RSS {} KiB after warm-up → {} KiB at the end ({:+.1}%); \
             descriptors {:?} at the start, {} at peak, {:?} at the end; {} documents and {} messages checked: {} unaccounted, {} lost\n",
            self.requests,
            self.seconds,
            self.errors.len(),
            self.throttled,
            self.rss_warm_kib,
            self.rss_end_kib,
            self.rss_growth_pct(),
            self.fds_start,
            self.fds_peak,
            self.fds_end,
            self.documents,
            self.messages,
            self.unaccounted_documents,
            self.lost_messages
        ));
        t
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Login,
    Upload,
    Search,
    ListDocuments,
    Chat,
    Stop,
    DeleteDocument,
    DeleteConversation,
}

/// The mix, by weight: reading and chatting most, uploads balanced by deletions so the
/// libraries stay about their seeded size.
const MIX: [(Op, u32); 8] = [
    (Op::Login, 1),
    (Op::Upload, 2),
    (Op::Search, 3),
    (Op::ListDocuments, 1),
    (Op::Chat, 3),
    (Op::Stop, 1),
    (Op::DeleteDocument, 2),
    (Op::DeleteConversation, 1),
];

struct Shared {
    base: String,
    model: String,
    http: reqwest::Client,
    users: Vec<Mutex<User>>,
    tally: Mutex<Tally>,
    serial: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn next(&self) -> u64 {
        self.serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn auth(&self, u: usize) -> String {
        self.users[u].lock().expect("user").auth.clone()
    }

    /// An idle conversation of the user, or a new one.
    async fn take_conversation(&self, u: usize) -> Option<String> {
        if let Some(c) = self.users[u].lock().expect("user").idle.pop() {
            return Some(c);
        }
        let started = Instant::now();
        let auth = self.auth(u);
        match super::conversation(&self.http, &self.base, &auth, None, &self.model).await {
            Ok(c) => {
                self.tally
                    .lock()
                    .expect("tally")
                    .ok("create_conversation", started);
                Some(c)
            }
            Err(e) => {
                self.tally
                    .lock()
                    .expect("tally")
                    .failed("create_conversation", e);
                None
            }
        }
    }

    fn give_back(&self, u: usize, conv: String) {
        self.users[u].lock().expect("user").idle.push(conv);
    }

    async fn upload(&self, u: usize) {
        let n = self.next();
        let auth = self.auth(u);
        let started = Instant::now();
        let text = super::note(1_000_000 + n, 120);
        match super::upload(&self.http, &self.base, &auth, &format!("soak-{n}.md"), text).await {
            Ok((status, body)) => {
                self.tally.lock().expect("tally").status(
                    "upload",
                    started,
                    status,
                    &body.to_string(),
                );
                if status == 201
                    && let Some(id) = body["id"].as_str()
                {
                    self.users[u].lock().expect("user").docs.insert(id.into());
                }
            }
            Err(e) => self.tally.lock().expect("tally").failed("upload", e),
        }
    }

    /// One request without a body, tallied; whether it succeeded.
    async fn call(
        &self,
        route: &'static str,
        u: usize,
        method: reqwest::Method,
        path: &str,
    ) -> bool {
        let auth = self.auth(u);
        let started = Instant::now();
        let result = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", &auth)
            .send()
            .await;
        match result {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                self.tally
                    .lock()
                    .expect("tally")
                    .status(route, started, status, &body);
                (200..300).contains(&status)
            }
            Err(e) => {
                self.tally.lock().expect("tally").failed(route, e.into());
                false
            }
        }
    }

    async fn chat(&self, u: usize, stop: bool) {
        let Some(conv) = self.take_conversation(u).await else {
            return;
        };
        let n = self.next();
        let auth = self.auth(u);
        let content = if stop {
            // A long, slow answer that the stop request cuts short.
            format!("{} [[fake:long=400 delay=25]]", super::question(n))
        } else {
            super::question(n)
        };
        let started = Instant::now();
        // Stop is pressed once the answer has started (its `meta` event), as in the web app.
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let mut started_tx = Some(started_tx);
        let stopper = stop.then(|| {
            let (http, base, auth, conv) = (
                self.http.clone(),
                self.base.clone(),
                auth.clone(),
                conv.clone(),
            );
            tokio::spawn(async move {
                let _ = started_rx.await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let started = Instant::now();
                let r = http
                    .post(format!("{base}/conversations/{conv}/stop"))
                    .header("authorization", &auth)
                    .send()
                    .await;
                (started, Instant::now(), r)
            })
        });
        let seen = super::send_with(&self.http, &self.base, &auth, &conv, &content, |seen| {
            if seen.meta.is_some()
                && let Some(tx) = started_tx.take()
            {
                let _ = tx.send(());
            }
            false
        })
        .await;
        let ended = Instant::now();
        let route = if stop { "chat_stopped" } else { "chat" };
        // When the stop was acknowledged: the answer must end within the stop poll after it.
        let mut stop_acknowledged = None;
        if let Some(stopper) = stopper
            && let Ok((at, answered, r)) = stopper.await
        {
            let mut tally = self.tally.lock().expect("tally");
            match r {
                Ok(r) => {
                    let status = r.status().as_u16();
                    tally.status("stop", at, status, "");
                    if status == 202 {
                        stop_acknowledged = Some(answered);
                    }
                }
                Err(e) => tally.failed("stop", e.into()),
            }
        }
        // Stopped, or the stop came too late to matter (a loaded server answers it slowly).
        let stop_honoured = |seen: &Streamed| {
            seen.finish_reason() == Some("stopped")
                || stop_acknowledged.is_none_or(|at| at + Duration::from_secs(2) > ended)
        };
        match seen {
            Ok(seen) => {
                {
                    let mut tally = self.tally.lock().expect("tally");
                    match seen.status {
                        200 if !seen.complete() => tally.failed(
                            route,
                            anyhow::anyhow!("stream ended badly: {:?}", seen.errors),
                        ),
                        200 if stop && !stop_honoured(&seen) => tally.failed(
                            route,
                            anyhow::anyhow!(
                                "not stopped: {:?} after {} chars in {:?}",
                                seen.finish_reason(),
                                seen.text.len(),
                                seen.elapsed
                            ),
                        ),
                        200 => {
                            tally.ok(route, started);
                            if let Some(t) = seen.first_delta {
                                tally
                                    .latencies
                                    .entry("chat_first_token")
                                    .or_default()
                                    .push(ms(t));
                            }
                        }
                        status => tally.status(route, started, status, &seen.refusal),
                    }
                }
                self.users[u]
                    .lock()
                    .expect("user")
                    .chats
                    .push((conv.clone(), content, seen));
            }
            Err(e) => self.tally.lock().expect("tally").failed(route, e),
        }
        self.give_back(u, conv);
    }

    async fn run(&self, op: Op, u: usize) {
        match op {
            Op::Login => {
                let email = self.users[u].lock().expect("user").email.clone();
                let started = Instant::now();
                match super::login(&self.http, &self.base, &email).await {
                    Ok((status, auth)) => {
                        self.tally
                            .lock()
                            .expect("tally")
                            .status("login", started, status, "");
                        if let Some(auth) = auth {
                            self.users[u].lock().expect("user").auth = auth;
                        }
                    }
                    Err(e) => self.tally.lock().expect("tally").failed("login", e),
                }
            }
            Op::Upload => self.upload(u).await,
            Op::Search => {
                let q = super::question(self.next());
                let q = q.split(" and ").next().unwrap_or("term1").replace(' ', "+");
                self.call(
                    "search",
                    u,
                    reqwest::Method::GET,
                    &format!("/search?q={q}&k=8"),
                )
                .await;
            }
            Op::ListDocuments => {
                self.call(
                    "list_documents",
                    u,
                    reqwest::Method::GET,
                    "/documents?limit=50",
                )
                .await;
            }
            Op::Chat => self.chat(u, false).await,
            Op::Stop => self.chat(u, true).await,
            Op::DeleteDocument => {
                let victim = {
                    let mut user = self.users[u].lock().expect("user");
                    let n = user.docs.len();
                    let pick = user
                        .docs
                        .iter()
                        .nth(self.next() as usize % n.max(1))
                        .cloned();
                    if let Some(id) = &pick {
                        // Out of the set first: no other operation may pick it meanwhile.
                        user.docs.remove(id);
                    }
                    pick
                };
                if let Some(id) = victim
                    && !self
                        .call(
                            "delete_document",
                            u,
                            reqwest::Method::DELETE,
                            &format!("/documents/{id}"),
                        )
                        .await
                {
                    // Not deleted: still expected at the end.
                    self.users[u].lock().expect("user").docs.insert(id);
                }
            }
            Op::DeleteConversation => {
                let victim = self.users[u].lock().expect("user").idle.pop();
                if let Some(conv) = victim {
                    if self
                        .call(
                            "delete_conversation",
                            u,
                            reqwest::Method::DELETE,
                            &format!("/conversations/{conv}"),
                        )
                        .await
                    {
                        self.users[u]
                            .lock()
                            .expect("user")
                            .deleted_convs
                            .insert(conv);
                    } else {
                        self.give_back(u, conv);
                    }
                }
            }
        }
    }
}

/// Every document id of the user, through the paginated list.
async fn listed_documents(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = http
            .get(format!("{base}/documents"))
            .query(&[("limit", "100")])
            .header("authorization", auth);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let response = request.send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "listing documents: {}",
            response.status()
        );
        let page: Value = response.json().await?;
        for d in page["items"].as_array().context("items")? {
            out.insert(
                d["id"].as_str().unwrap_or_default().to_owned(),
                d["status"].as_str().unwrap_or_default().to_owned(),
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(out),
        }
    }
}

/// Runs the soak against `server` (whose provider is the fake OpenAI server) and checks it.
pub async fn run(server: &ServerProcess, config: &SoakConfig) -> anyhow::Result<SoakReport> {
    let seeding = super::client();
    let mut users = Vec::new();
    for i in 0..config.users {
        let email = format!("soak{i}@soak.example");
        let auth = super::register(&seeding, &server.base, &email).await?;
        users.push(Mutex::new(User {
            email,
            auth,
            ..User::default()
        }));
    }
    let shared = Arc::new(Shared {
        base: server.base.clone(),
        model: config.model.clone(),
        http: seeding.clone(),
        users,
        tally: Mutex::new(Tally::default()),
        serial: Default::default(),
    });
    for u in 0..config.users {
        for _ in 0..config.seed_docs {
            shared.upload(u).await;
        }
    }
    let seeded_errors = shared.tally.lock().expect("tally").errors.clone();
    anyhow::ensure!(
        seeded_errors.is_empty(),
        "seeding failed: {seeded_errors:?}"
    );
    *shared.tally.lock().expect("tally") = Tally::default();
    drop(seeding);
    // The traffic gets a client of its own; the seeding's connections are closed by now.
    let shared = Arc::new(Shared {
        http: super::client(),
        ..Arc::into_inner(shared).context("seeding still running")?
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fds_start = server.fds();

    let total: u32 = MIX.iter().map(|(_, w)| w).sum();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rate));
    let mut tasks = tokio::task::JoinSet::new();
    let (mut rss_warm, mut fds_peak, mut tick) = (0u64, fds_start.total(), 0u64);
    while started.elapsed() < config.duration {
        ticker.tick().await;
        tick += 1;
        if rss_warm == 0 && started.elapsed() >= config.warmup {
            rss_warm = server.rss_kib();
        }
        fds_peak = fds_peak.max(server.open_fds());
        // A fixed, spread-out sequence: every user, every operation, in proportion.
        let mut pick = ((tick * 7919) % total as u64) as u32;
        let op = MIX
            .iter()
            .find(|(_, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map(|(op, _)| *op)
            .unwrap_or(Op::Search);
        let u = (tick as usize / 3) % config.users;
        let shared = shared.clone();
        tasks.spawn(async move { shared.run(op, u).await });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let seconds = started.elapsed().as_secs_f64();
    let rss_end = server.rss_kib();

    // Accounting, with a fresh client (not timed).
    let Shared {
        http, users, tally, ..
    } = Arc::into_inner(shared).context("operations still running")?;
    drop(http);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fds_end = server.fds();
    let http = super::client();
    let (mut documents, mut unaccounted, mut messages, mut lost) = (0, 0, 0, 0);
    let tally = tally.into_inner().expect("tally");
    let mut errors = tally.errors.clone();
    for user in users {
        let user = user.into_inner().expect("user");
        // Uploads are indexed in the background: the last ones may still be on their way.
        let uploaded: Vec<String> = user.docs.iter().cloned().collect();
        super::wait_until_settled(&http, &server.base, &user.auth, &uploaded).await?;
        let listed = listed_documents(&http, &server.base, &user.auth).await?;
        documents += user.docs.len();
        for id in &user.docs {
            if listed.get(id).map(String::as_str) != Some("ready") {
                unaccounted += 1;
            }
        }
        // Nothing deleted comes back, nothing unknown appears.
        unaccounted += listed.keys().filter(|id| !user.docs.contains(*id)).count();
        let mut stored: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for (conv, sent, seen) in &user.chats {
            if user.deleted_convs.contains(conv) || seen.meta.is_none() {
                continue;
            }
            if !stored.contains_key(conv.as_str()) {
                stored.insert(
                    conv,
                    super::messages(&http, &server.base, &user.auth, conv).await?,
                );
            }
            messages += 1 + usize::from(seen.done.is_some());
            lost += super::lost_messages(sent, seen, &stored[conv.as_str()]);
        }
        for conv in &user.deleted_convs {
            let status = http
                .get(format!("{}/conversations/{conv}", server.base))
                .header("authorization", &user.auth)
                .send()
                .await?
                .status();
            if status != 404 {
                errors.push(format!("a deleted conversation answers {status}"));
            }
        }
    }
    let mut p95_ms = BTreeMap::new();
    let mut p50_ms = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for (route, samples) in &tally.latencies {
        p95_ms.insert(*route, percentile(samples, 95.0));
        p50_ms.insert(*route, percentile(samples, 50.0));
        counts.insert(*route, samples.len());
    }
    Ok(SoakReport {
        requests: tally.requests,
        throttled: tally.throttled,
        errors,
        p95_ms,
        p50_ms,
        counts,
        rss_warm_kib: rss_warm.max(1),
        rss_end_kib: rss_end,
        fds_start,
        fds_peak,
        fds_end,
        documents,
        unaccounted_documents: unaccounted,
        messages,
        lost_messages: lost,
        seconds,
    })
}
