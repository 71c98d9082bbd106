//! `scripts/bench.sh soak [--duration SECONDS]`: mixed traffic from several users against the
//! local server (`--server`, the `local` profile build) for 10 minutes by default, then the
//! checks (see `tests/support/soak.rs`). Writes `soak_requests`, `soak_errors`,
//! `soak_rss_growth_pct`, `soak_p95_ms_<route>` and the accounting to `--out`; exits non-zero
//! when a check fails.
//!
//! `soak --server PATH [--duration 600] [--rate 10] [--users 6] [--seed-docs 100] [--out FILE]`

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use support::ServerProcess;
use support::soak::{SoakConfig, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut server_bin: PathBuf = "target/local/ragenie-server".into();
    let mut out: PathBuf = "target/bench/soak.json".into();
    let mut config = SoakConfig {
        duration: Duration::from_secs(600),
        rate: 10.0,
        users: 6,
        seed_docs: 100,
        warmup: Duration::from_secs(60),
        model: "gpt-4o-mini".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--server" => server_bin = value.into(),
            "--out" => out = value.into(),
            "--duration" => config.duration = Duration::from_secs(value.parse()?),
            "--rate" => config.rate = value.parse()?,
            "--users" => config.users = value.parse()?,
            "--seed-docs" => config.seed_docs = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    // Memory is compared with what it was after a tenth of the run (at least 10 s).
    config.warmup = (config.duration / 10).max(Duration::from_secs(10));
    let (_fakes, urls) = ragenie_fake_providers::spawn(Default::default()).await?;
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::start(
        &server_bin,
        &dir.path().join("data"),
        &[
            ("RAGENIE_OPENAI_BASE_URL", urls.openai.clone()),
            ("OPENAI_API_KEY", "soak-key".into()),
        ],
    )
    .await?;
    eprintln!(
        "soak: {} s at {} operations/s, {} users with {} documents each, default limits",
        config.duration.as_secs(),
        config.rate,
        config.users,
        config.seed_docs
    );
    let report = run(&server, &config).await?;
    println!("{}", report.table());
    let mut json = report.json();
    json["soak_rate_per_s"] = serde_json::json!(config.rate);
    json["soak_users"] = serde_json::json!(config.users);
    json["not_covered"] = serde_json::json!(
        "AWS adapters and Lambda (embedded store, one process); real providers (fake OpenAI on 127.0.0.1)"
    );
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&json)?)?;
    let failures = report.failures(10.0);
    if !failures.is_empty() {
        bail!("the soak failed: {failures:#?}");
    }
    Ok(())
}
