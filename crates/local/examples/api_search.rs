//! `scripts/bench.sh api-search`: search and upload through the HTTP API of the local server
//! (every function's router, served as `ragenie-server` serves it, on 127.0.0.1) for one user
//! with thousands of one-chunk documents. The table is wrapped in a counter, so the reads a
//! search costs are those of the HTTP path.
//!
//! Per library size: upload rate (concurrent clients, counted until every document is ingested
//! and ready), warm search p50/p95 (the server's caches filled), cold search p50/p95 (a fresh
//! server, as a new Lambda instance: every cache empty, segments read through the `Blobs` port)
//! and table reads per search.
//!
//! Conversation search (`--conversations 2000 --messages 20`): one user's conversations imported
//! through `POST /conversations/import`, then `GET /conversations/search` warm (p50/p95 and
//! table reads), cold (a fresh server: the merged index read through the `Blobs` port) and
//! right after a new conversation is saved (the pending part of the index read from the table).
//!
//! `api_search --store embedded|aws --sizes 1000,10000|none --prefix KEY_PREFIX --out FILE.json
//! [--conversations N --messages M]`; `--store aws` creates its own table, bucket and secret
//! through `AWS_ENDPOINT_URL`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ragenie_common::AppState;
use ragenie_common::accounts::AccountsAuthenticator;
use ragenie_common::config::{Settings, StoreSettings};
use ragenie_common::storage::Blobs;
use ragenie_common::storage::aws::{AwsSecrets, DynamoTable, S3Blobs, load_sdk_config};
use ragenie_common::storage::counting::CountingTable;
use ragenie_corpus::{ProviderState, ProviderUse};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

#[derive(Clone, Copy, PartialEq)]
enum Store {
    Embedded,
    Aws,
}

impl Store {
    fn label(self) -> &'static str {
        match self {
            Store::Embedded => "embedded",
            Store::Aws => "AWS adapters (AWS_ENDPOINT_URL)",
        }
    }
}

struct Args {
    store: Store,
    sizes: Vec<usize>,
    prefix: String,
    out: PathBuf,
    queries: usize,
    cold: usize,
    clients: usize,
    conversations: usize,
    messages: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        store: Store::Embedded,
        sizes: vec![1000, 10_000, 50_000],
        prefix: String::new(),
        out: "target/bench/api-search.json".into(),
        queries: 200,
        cold: 20,
        clients: 8,
        conversations: 0,
        messages: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--store" => {
                args.store = match value.as_str() {
                    "embedded" => Store::Embedded,
                    "aws" => Store::Aws,
                    other => bail!("--store embedded|aws, not {other}"),
                }
            }
            "--sizes" if value == "none" => args.sizes = Vec::new(),
            "--sizes" => {
                args.sizes = value
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()
                    .context("--sizes 1000,10000")?
            }
            "--prefix" => args.prefix = value,
            "--out" => args.out = value.into(),
            "--queries" => args.queries = value.parse()?,
            "--cold" => args.cold = value.parse()?,
            "--clients" => args.clients = value.parse()?,
            "--conversations" => args.conversations = value.parse()?,
            "--messages" => args.messages = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// A synthetic vocabulary with a Zipf-like frequency curve, so common words hit many
/// documents and rare ones few, as in real text.
struct Vocabulary {
    words: Vec<String>,
    weights: WeightedIndex<f64>,
}

impl Vocabulary {
    fn new(size: usize) -> Self {
        const ONSETS: [&str; 16] = [
            "b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br",
        ];
        const NUCLEI: [&str; 6] = ["a", "e", "i", "o", "u", "ai"];
        let syllable = |n: usize| format!("{}{}", ONSETS[n % 16], NUCLEI[(n / 16) % 6]);
        let words = (0..size)
            .map(|i| {
                let (a, b, c) = (i % 96, (i / 96) % 96, i / (96 * 96));
                format!("{}{}{}x", syllable(a), syllable(b), syllable(c))
            })
            .collect();
        let weights = WeightedIndex::new((1..=size).map(|rank| 1.0 / (rank as f64).powf(1.05)))
            .expect("weights");
        Self { words, weights }
    }

    fn document(&self, rng: &mut StdRng, words: usize) -> String {
        let body: Vec<&str> = (0..words)
            .map(|_| self.words[self.weights.sample(rng)].as_str())
            .collect();
        format!("{}.\n", body.join(" "))
    }

    /// Two or three words of middling frequency: the kind of query that matches some
    /// documents, not all.
    fn query(&self, rng: &mut StdRng) -> String {
        let n = rng.gen_range(2..=3);
        (0..n)
            .map(|_| self.words[rng.gen_range(20..2000)].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

struct Server {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(state: AppState) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        // Built as the local server builds it (provider keys and base URLs from the environment).
        let providers = ProviderState::connect(state, ProviderUse::Chat).await?;
        let app = ragenie_local::app(providers, None);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ragenie_local::serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Ok(Self { base, stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A new, empty store of the chosen kind, its table counted.
async fn fresh_state(
    store: Store,
    dir: &std::path::Path,
) -> anyhow::Result<(AppState, Arc<CountingTable>)> {
    let settings = match store {
        Store::Embedded => Settings::embedded(dir, "http://127.0.0.1:1"),
        Store::Aws => {
            let sdk = load_sdk_config().await;
            let (table, bucket, secret) = (
                unique("ragenie-bench"),
                unique("ragenie-bench"),
                unique("ragenie/bench-jwt"),
            );
            DynamoTable::new(&sdk, table.clone()).create_table().await?;
            S3Blobs::new(&sdk, bucket.clone())
                .client()
                .create_bucket()
                .bucket(&bucket)
                .send()
                .await?;
            AwsSecrets::new(&sdk)
                .client()
                .create_secret()
                .name(&secret)
                .secret_string(format!("{:064}", rand::random::<u64>()))
                .send()
                .await?;
            Settings {
                store: StoreSettings::Aws {
                    table,
                    bucket,
                    jwt_secret_id: secret,
                    provider_keys_secret_id: None,
                },
                ..Settings::embedded(dir, "http://127.0.0.1:1")
            }
        }
    };
    let mut state = AppState::connect(settings).await?;
    let counting = Arc::new(CountingTable::new(state.table.clone()));
    state.table = counting.clone();
    let auth = AccountsAuthenticator::new(
        counting.clone(),
        state.jwt.clone(),
        state.settings.operator.clone(),
    );
    Ok((state.with_authenticator(Arc::new(auth)), counting))
}

const BENCH_PASSWORD: &str = "a long bench passphrase 7319";

/// The bench user's `Authorization` header. Access tokens live 15 minutes and a run on the
/// emulator takes longer, so a background task signs in again every 10 minutes, as a client of
/// the API would (sign-ins are not counted in any figure).
struct Bearer {
    header: Arc<std::sync::RwLock<String>>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Bearer {
    /// The `Authorization` header to send now.
    fn header(&self) -> String {
        self.header.read().expect("bearer").clone()
    }
}

impl Drop for Bearer {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    email: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(format!("{base}/auth/{path}"))
        .json(&json!({"email": email, "password": BENCH_PASSWORD}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if !status.is_success() {
        bail!("{path}: {status} {body}");
    }
    Ok(format!(
        "Bearer {}",
        body["access_token"].as_str().context("access_token")?
    ))
}

async fn register(http: &reqwest::Client, base: &str) -> anyhow::Result<Bearer> {
    let email = format!("{}@bench.example", unique("user"));
    let header = Arc::new(std::sync::RwLock::new(
        sign_in(http, base, "register", &email).await?,
    ));
    let (shared, http, base) = (header.clone(), http.clone(), base.to_owned());
    let renewer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(600)).await;
            match sign_in(&http, &base, "login", &email).await {
                Ok(fresh) => *shared.write().expect("bearer") = fresh,
                Err(e) => eprintln!("  signing in again failed (will retry): {e:#}"),
            }
        }
    });
    Ok(Bearer { header, renewer })
}

/// Makes request `i` of a run, with the client's own seeded generator.
type MakeRequest = Arc<dyn Fn(usize, &mut StdRng) -> reqwest::RequestBuilder + Send + Sync>;

/// Sends `count` requests from `clients` concurrent clients; fails on the first that does not
/// succeed.
/// Sends `count` requests from `clients` concurrent clients. A 503 or 429 is retried after its
/// `Retry-After` (as a client of the API should; at most 20 times per request), and the number of
/// retries is returned so the report shows how often the store pushed back.
async fn send_all(
    count: usize,
    clients: usize,
    seed: u64,
    what: &'static str,
    make: MakeRequest,
) -> anyhow::Result<usize> {
    let next = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (next, make, retries) = (next.clone(), make.clone(), retries.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed + client as u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(());
                }
                let mut attempt = 0;
                loop {
                    // The same seed state per attempt: a retry sends the same request again.
                    let mut attempt_rng = rng.clone();
                    let response = make(i, &mut attempt_rng).send().await?;
                    let status = response.status();
                    let pushed_back = status == reqwest::StatusCode::SERVICE_UNAVAILABLE
                        || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                    if pushed_back && attempt < 20 {
                        let wait = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(1);
                        attempt += 1;
                        retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(wait.min(5))).await;
                        continue;
                    }
                    if !status.is_success() {
                        bail!("{what} {i}: {status} {}", response.text().await?);
                    }
                    rng = attempt_rng;
                    break;
                }
                if i > 0 && i % 5000 == 0 {
                    eprintln!("  {i} {what}s sent");
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(retries.load(Ordering::Relaxed))
}

/// What a request-making closure owns: POSTs to the API as the bench user (the bearer as it is
/// when the request is made, renewed meanwhile).
struct AuthorizedPost {
    http: reqwest::Client,
    base: String,
    authorization: Arc<std::sync::RwLock<String>>,
}

impl AuthorizedPost {
    fn new(http: &reqwest::Client, base: &str, auth: &Bearer) -> Self {
        let (http, base) = (http.clone(), base.to_owned());
        let authorization = auth.header.clone();
        Self {
            http,
            base,
            authorization,
        }
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let authorization = self.authorization.read().expect("bearer").clone();
        let url = format!("{}{path}", self.base);
        self.http.post(url).header("authorization", authorization)
    }
}

/// Uploads `count` one-chunk documents with `clients` concurrent clients; returns docs/s and
/// how many uploads were retried after a 503/429.
async fn upload_all(
    http: &reqwest::Client,
    base: &str,
    auth: &Bearer,
    vocabulary: &Arc<Vocabulary>,
    count: usize,
    clients: usize,
    ready_by_segments: Option<(&dyn Blobs, &str)>,
) -> anyhow::Result<(f64, usize)> {
    let started = Instant::now();
    let (api, words) = (AuthorizedPost::new(http, base, auth), vocabulary.clone());
    let make: MakeRequest = Arc::new(move |i, rng| {
        // A unique first word keeps every document's content (and hash) distinct.
        let body = format!("doc{i} {}", words.document(rng, 60));
        api.post(&format!("/documents?kind=dataset&name=note-{i:06}.md"))
            .header("content-type", "text/markdown")
            .body(body)
    });
    let retries = send_all(count, clients, 0, "upload", make).await?;
    // The server ingests in the background: the rate counts until every document is ready.
    match ready_by_segments {
        None => wait_until_ready(http, base, auth, count).await?,
        Some((blobs, prefix)) => wait_until_indexed(blobs, prefix, count).await?,
    }
    Ok((count as f64 / started.elapsed().as_secs_f64(), retries))
}

/// Waits until `count` segments are stored under `prefix` (one per ingested document; its
/// `ready` status is written right after). On the emulator, `GET /documents/reindex` lists every
/// document, and moto scans the whole partition for each page of a query: at 10,000 documents
/// one poll took minutes, where DynamoDB's cost is per page.
async fn wait_until_indexed(blobs: &dyn Blobs, prefix: &str, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120 + count as u64 / 10);
    loop {
        let stored = blobs.list(prefix).await?.len();
        if stored >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {stored} of {count} documents indexed");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Waits until the user has `count` ready documents (the re-index progress counts them).
async fn wait_until_ready(
    http: &reqwest::Client,
    base: &str,
    auth: &Bearer,
    count: usize,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + std::time::Duration::from_secs(120 + count as u64 / 10);
    loop {
        let progress: Value = http
            .get(format!("{base}/documents/reindex"))
            .header("authorization", auth.header())
            .send()
            .await?
            .json()
            .await?;
        let ready = progress["documents"].as_u64().unwrap_or(0) as usize;
        if ready >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {ready} of {count} documents ready");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// What a bench searches: documents (`GET /search`, k = 8) or conversations
/// (`GET /conversations/search`, limit 20).
#[derive(Clone, Copy)]
enum Target {
    Documents,
    Conversations,
}

/// One search through the API: (milliseconds, hits).
async fn search(
    http: &reqwest::Client,
    base: &str,
    auth: &Bearer,
    target: Target,
    q: &str,
) -> anyhow::Result<(f64, usize)> {
    let (path, params) = match target {
        Target::Documents => ("search", [("q", q), ("k", "8")]),
        Target::Conversations => ("conversations/search", [("q", q), ("limit", "20")]),
    };
    // A 503 or 429 is retried after its Retry-After, as a client of the API does; the time a
    // search takes includes its retries, and they are counted (`search_retries_<size>`).
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        let response = http
            .get(format!("{base}/{path}"))
            .query(&params)
            .header("authorization", auth.header())
            .send()
            .await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        let body: Value = response.json().await?;
        let pushed_back = status == reqwest::StatusCode::SERVICE_UNAVAILABLE
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        if pushed_back && attempt < 10 {
            attempt += 1;
            SEARCH_RETRIES.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(retry_after.min(5))).await;
            continue;
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        return Ok((ms, body["items"].as_array().map_or(0, Vec::len)));
    }
}

/// Searches retried after a 503 or 429 so far.
static SEARCH_RETRIES: AtomicUsize = AtomicUsize::new(0);

/// A fresh store with a server on it and a registered user.
struct Run {
    _dir: tempfile::TempDir,
    state: AppState,
    counter: Arc<CountingTable>,
    server: Server,
    http: reqwest::Client,
    auth: Bearer,
    user_id: String,
}

impl Run {
    async fn start(args: &Args) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (state, counter) = fresh_state(args.store, dir.path()).await?;
        let server = Server::start(state.clone()).await?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .pool_max_idle_per_host(args.clients * 2)
            .build()?;
        let auth = register(&http, &server.base).await?;
        let user_id = http
            .get(format!("{}/auth/me", server.base))
            .header("authorization", auth.header())
            .send()
            .await?
            .json::<Value>()
            .await?["id"]
            .as_str()
            .context("user id")?
            .to_owned();
        Ok(Self {
            _dir: dir,
            state,
            counter,
            server,
            http,
            auth,
            user_id,
        })
    }

    async fn search(&self, target: Target, q: &str) -> anyhow::Result<(f64, usize)> {
        search(&self.http, &self.server.base, &self.auth, target, q).await
    }

    /// `queries` searches on the running server: (milliseconds each, table reads, hits).
    async fn warm(
        &self,
        target: Target,
        queries: Vec<String>,
    ) -> anyhow::Result<(Vec<f64>, u64, usize)> {
        let (mut ms, mut reads, mut hits) = (Vec::new(), 0u64, 0usize);
        for q in queries {
            let before = self.counter.calls();
            let (took, n) = self.search(target, &q).await?;
            reads += (self.counter.calls() - before).reads;
            ms.push(took);
            hits += n;
        }
        Ok((ms, reads, hits))
    }

    /// Each query on a fresh server on the same store (new routers: every cache empty, as a
    /// new Lambda instance): (milliseconds each, table reads).
    async fn cold(&self, target: Target, queries: Vec<String>) -> anyhow::Result<(Vec<f64>, u64)> {
        let (mut ms, mut reads) = (Vec::new(), 0u64);
        for q in queries {
            let server = Server::start(self.state.clone()).await?;
            let before = self.counter.calls();
            let (took, _) = search(&self.http, &server.base, &self.auth, target, &q).await?;
            reads += (self.counter.calls() - before).reads;
            ms.push(took);
            server.stop().await;
        }
        Ok((ms, reads))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 50.0), percentile(&ms, 95.0))
}

fn label(size: usize) -> String {
    if size >= 1000 && size.is_multiple_of(1000) {
        format!("{}k", size / 1000)
    } else {
        size.to_string()
    }
}

fn round(x: f64) -> Value {
    json!((x * 100.0).round() / 100.0)
}

/// Waits until the background compaction a first search starts has written its merged
/// segment (or ten minutes pass: on the emulator, merging 10,000 segments takes minutes), so
/// warm figures are not taken while it runs.
async fn settle(blobs: &dyn Blobs, merged_key: &str) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = blobs.head(merged_key).await {
            // The compaction checks its merged segment once written; let that finish too.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn run_size(
    args: &Args,
    size: usize,
    vocabulary: &Arc<Vocabulary>,
    out: &mut Map<String, Value>,
) -> anyhow::Result<()> {
    let run = Run::start(args).await?;
    let (http, base, auth) = (&run.http, run.server.base.as_str(), &run.auth);

    eprintln!("{size} documents: uploading with {} clients", args.clients);
    let segments = format!("users/{}/segments/", run.user_id);
    let ready_by_segments =
        (args.store == Store::Aws).then_some((run.state.blobs.as_ref(), segments.as_str()));
    let (rate, upload_retries) = upload_all(
        http,
        base,
        auth,
        vocabulary,
        size,
        args.clients,
        ready_by_segments,
    )
    .await?;

    let mut rng = StdRng::seed_from_u64(size as u64);
    let docs = Target::Documents;
    let (first_ms, _) = run.search(docs, &vocabulary.query(&mut rng)).await?;
    settle(
        run.state.blobs.as_ref(),
        &format!("users/{}/segments/_merged.seg", run.user_id),
    )
    .await;
    for _ in 0..5 {
        run.search(docs, &vocabulary.query(&mut rng)).await?;
    }
    let queries = |n: usize, rng: &mut StdRng| (0..n).map(|_| vocabulary.query(rng)).collect();
    let (warm, warm_reads, hits) = run.warm(docs, queries(args.queries, &mut rng)).await?;
    let (cold, cold_reads) = run.cold(docs, queries(args.cold, &mut rng)).await?;
    run.server.stop().await;
    if upload_retries > 0 {
        eprintln!("  {upload_retries} uploads retried after a 503/429 (Retry-After honoured)");
    }

    let l = label(size);
    let p = &args.prefix;
    let (w50, w95) = summary(warm);
    let (c50, c95) = summary(cold);
    let reads = warm_reads as f64 / args.queries.max(1) as f64;
    let creads = cold_reads as f64 / args.cold.max(1) as f64;
    println!(
        "{:>8} {:>10.1} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.1} {:>10.1} {:>10.1} {:>8.1}",
        size,
        rate,
        w50,
        w95,
        c50,
        c95,
        reads,
        creads,
        first_ms,
        hits as f64 / args.queries.max(1) as f64
    );
    out.insert(format!("{p}upload_docs_per_s_{l}"), round(rate));
    out.insert(format!("{p}upload_retries_{l}"), json!(upload_retries));
    out.insert(
        format!("{p}search_retries_{l}"),
        json!(SEARCH_RETRIES.swap(0, Ordering::Relaxed)),
    );
    out.insert(format!("{p}warm_p50_ms_{l}"), round(w50));
    out.insert(format!("{p}warm_p95_ms_{l}"), round(w95));
    out.insert(format!("{p}cold_p50_ms_{l}"), round(c50));
    out.insert(format!("{p}cold_p95_ms_{l}"), round(c95));
    out.insert(format!("{p}reads_per_search_{l}"), round(reads));
    out.insert(format!("{p}cold_reads_per_search_{l}"), round(creads));
    out.insert(format!("{p}first_search_ms_{l}"), round(first_ms));
    // The overall upload rate is that of the largest library.
    out.insert(format!("{p}upload_docs_per_s"), round(rate));
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The server's warnings (e.g. which store call failed before a 503) go to stderr.
    ragenie_common::telemetry::init();
    let args = parse_args()?;
    let vocabulary = Arc::new(Vocabulary::new(30_000));
    let mut out = match std::fs::read_to_string(&args.out) {
        Ok(text) => serde_json::from_str::<Map<String, Value>>(&text).unwrap_or_default(),
        Err(_) => Map::new(),
    };
    if args.sizes.is_empty() {
        return run_only_conversations(&args, &vocabulary, out).await;
    }
    println!(
        "store: {}; {} warm and {} cold searches (k=8, all datasets) per size; {} upload clients",
        args.store.label(),
        args.queries,
        args.cold,
        args.clients
    );
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "docs",
        "upload/s",
        "warm p50",
        "warm p95",
        "cold p50",
        "cold p95",
        "reads",
        "cold rds",
        "first ms",
        "hits"
    );
    for &size in &args.sizes {
        run_size(&args, size, &vocabulary, &mut out).await?;
        std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
    }
    if args.conversations > 0 {
        run_conversations(&args, &vocabulary, &mut out).await?;
        std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}

/// Imports `count` conversations of `messages` messages each, `clients` at a time; returns
/// conversations per second.
async fn import_conversations(
    http: &reqwest::Client,
    base: &str,
    auth: &Bearer,
    vocabulary: &Arc<Vocabulary>,
    (count, messages, clients): (usize, usize, usize),
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let (api, words) = (AuthorizedPost::new(http, base, auth), vocabulary.clone());
    let make: MakeRequest = Arc::new(move |i, rng| {
        let body = json!({
            "title": format!("chat{i} {}", words.query(rng)),
            "model": "gpt-4.1",
            "messages": (0..messages).map(|m| json!({
                "role": if m % 2 == 0 { "user" } else { "assistant" },
                "content": words.document(rng, if m % 2 == 0 { 15 } else { 60 }),
            })).collect::<Vec<_>>(),
        });
        api.post("/conversations/import").json(&body)
    });
    send_all(count, clients, 1000, "import", make).await?;
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Waits until the compaction the first search starts has written the merged index and
/// removed the pending marks it covered (or a few minutes pass).
async fn settle_conversations(state: &AppState, user_id: &str) -> anyhow::Result<()> {
    let user = ragenie_common::accounts::UserId::parse(user_id).context("user id")?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let pending = state
            .table
            .query(
                ragenie_common::storage::Query::partition(user.partition())
                    .prefix(ragenie_conversation::keys::SEARCH_PENDING_PREFIX)
                    .limit(1),
            )
            .await?;
        let written = state
            .blobs
            .list(&format!("{}conversation-index/", user.blob_prefix()))
            .await?;
        if pending.items.is_empty() && !written.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("the conversation index was not written within 5 minutes")
}

/// `--sizes none`: conversation search alone.
async fn run_only_conversations(
    args: &Args,
    vocabulary: &Arc<Vocabulary>,
    mut out: Map<String, Value>,
) -> anyhow::Result<()> {
    if args.conversations > 0 {
        run_conversations(args, vocabulary, &mut out).await?;
        std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}

async fn run_conversations(
    args: &Args,
    vocabulary: &Arc<Vocabulary>,
    out: &mut Map<String, Value>,
) -> anyhow::Result<()> {
    let (count, messages) = (args.conversations, args.messages);
    let run = Run::start(args).await?;
    let (http, base, auth) = (&run.http, run.server.base.as_str(), &run.auth);
    eprintln!("{count} conversations × {messages} messages: importing");
    let rate = import_conversations(
        http,
        base,
        auth,
        vocabulary,
        (count, messages, args.clients),
    )
    .await?;

    let mut rng = StdRng::seed_from_u64(7);
    let convs = Target::Conversations;
    // The first search indexes what it finds pending (here: everything) and writes the index.
    let (first_ms, _) = run.search(convs, &vocabulary.query(&mut rng)).await?;
    settle_conversations(&run.state, &run.user_id).await?;
    for _ in 0..5 {
        run.search(convs, &vocabulary.query(&mut rng)).await?;
    }
    let queries = |n: usize, rng: &mut StdRng| (0..n).map(|_| vocabulary.query(rng)).collect();
    let (warm, reads, hits) = run.warm(convs, queries(args.queries, &mut rng)).await?;
    let (cold, cold_reads) = run.cold(convs, queries(args.cold, &mut rng)).await?;

    // Right after a save: the new conversation is pending, read from the table with the rest
    // of the pending part (fewer than the compaction threshold here).
    let rounds = 20;
    let (mut after_save, mut after_save_reads) = (Vec::new(), 0u64);
    for round in 0..rounds {
        let word = format!("fresh{round}x");
        let body = json!({"title": "New one", "model": "gpt-4.1",
            "messages": [{"role": "user", "content": format!("a new question about {word}")}]});
        let response = http
            .post(format!("{base}/conversations/import"))
            .header("authorization", auth.header())
            .json(&body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("import: {}", response.status());
        }
        let (ms, reads, n) = run.warm(convs, vec![word.clone()]).await?;
        if n != 1 {
            bail!("the conversation saved just before was not found ({n} hits for {word})");
        }
        after_save_reads += reads;
        after_save.extend(ms);
    }
    run.server.stop().await;

    let (w50, w95) = summary(warm);
    let (_, s95) = summary(after_save);
    let (c50, c95) = summary(cold);
    let per = |n: u64, of: usize| n as f64 / of.max(1) as f64;
    println!(
        "conversations ({} store, {} warm and {} cold searches, limit 20): {count} × {messages} messages; import {rate:.1}/s; first search {first_ms:.0} ms (indexes everything)",
        args.store.label(),
        args.queries,
        args.cold,
    );
    println!(
        "  warm p50 {w50:.2} / p95 {w95:.2} ms, {:.1} table reads ({:.1} hits of 20)",
        per(reads, args.queries),
        per(hits as u64, args.queries),
    );
    println!(
        "  cold p50 {c50:.1} / p95 {c95:.1} ms, {:.1} table reads",
        per(cold_reads, args.cold)
    );
    println!(
        "  right after a save p95 {s95:.2} ms, {:.1} table reads on average (1 to 20 pending)",
        per(after_save_reads, rounds)
    );
    println!("  table reads include the per-request account check of the auth extractor (1)");
    let p = &args.prefix;
    out.insert(format!("{p}conversation_search_p95_ms"), round(w95));
    out.insert(format!("{p}conversation_search_p50_ms"), round(w50));
    out.insert(
        format!("{p}conversation_reads_per_search"),
        round(per(reads, args.queries)),
    );
    out.insert(format!("{p}conversation_cold_p50_ms"), round(c50));
    out.insert(format!("{p}conversation_cold_p95_ms"), round(c95));
    out.insert(
        format!("{p}conversation_cold_reads_per_search"),
        round(per(cold_reads, args.cold)),
    );
    out.insert(
        format!("{p}conversation_search_after_save_p95_ms"),
        round(s95),
    );
    out.insert(
        format!("{p}conversation_reads_after_save"),
        round(per(after_save_reads, rounds)),
    );
    out.insert(format!("{p}conversation_first_search_ms"), round(first_ms));
    out.insert(format!("{p}conversation_import_per_s"), round(rate));
    out.insert(format!("{p}conversations"), json!(count));
    out.insert(format!("{p}conversation_messages"), json!(count * messages));
    Ok(())
}
