//! `fake-providers`: serves the OpenAI, Anthropic and Gemini wire formats on 127.0.0.1 and
//! prints its base URLs as one JSON line on stdout, then runs until interrupted.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use ragenie_fake_providers::{FakeConfig, spawn};

const USAGE: &str =
    "usage: fake-providers [--port N] [--chunk-size CHARS] [--delay-ms MS] [--reply TEXT]

Serves fake OpenAI (/openai/v1, /compat/v1), Anthropic (/anthropic) and Gemini (/gemini) APIs
on 127.0.0.1 and prints their base URLs as one JSON line. Port 0 (the default) picks a free one.
Failures are injected with [[fake:…]] in the last user message or an x-fake-scenario header:
429, 500, 429x1 (fail once), retry_after=S, cut, error, stall, long[=N], length, cache,
chunk=N, delay=MS.";

fn parse_args() -> anyhow::Result<FakeConfig> {
    let mut c = FakeConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--port" => {
                c.port = value("--port")?
                    .parse()
                    .context("--port must be a number")?
            }
            "--chunk-size" => {
                c.chunk_size = value("--chunk-size")?
                    .parse()
                    .context("--chunk-size must be a number")?
            }
            "--delay-ms" => {
                c.chunk_delay = Duration::from_millis(
                    value("--delay-ms")?
                        .parse()
                        .context("--delay-ms must be a number")?,
                )
            }
            "--reply" => c.reply = Some(value("--reply")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if c.chunk_size == 0 {
        bail!("--chunk-size must be at least 1");
    }
    Ok(c)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = parse_args()?;
    let (handle, urls) = spawn(config)
        .await
        .context("cannot start the fake providers")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(&urls)?)?;
    out.flush()?;
    drop(out);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    handle.shutdown().await;
    Ok(())
}
