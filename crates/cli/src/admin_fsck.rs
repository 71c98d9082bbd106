//! `ragenie admin fsck`: the store's integrity check, run by an operator against the store
//! itself (the settings of the server: `RAGENIE_STORE`, `RAGENIE_DATA_DIR` or the AWS table and
//! bucket), not through the API. On the embedded store, stop the local server first (its
//! database is opened by one process at a time).

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use ragenie_common::AppState;
use ragenie_common::accounts::UserId;
use ragenie_common::config::Settings;
use ragenie_conversation::fsck::{self, FsckReport};

#[derive(Clone, Debug, Args)]
pub struct FsckArgs {
    /// Check only this account (its id); default: every account, and files of deleted ones.
    #[arg(long)]
    pub user: Option<String>,
    /// Seconds a document may stay `pending` or `processing` before it counts as stuck.
    #[arg(long, default_value_t = fsck::PENDING_GRACE.as_secs())]
    pub pending_grace_secs: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the check with the server's settings from the environment; fails when it finds
/// anything.
pub async fn run(args: FsckArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let settings = Settings::from_env().context("reading the store settings")?;
    let state = AppState::connect(settings)
        .await
        .context("opening the store (on the embedded store, stop the server first)")?;
    let report = check(&state, &args).await?;
    print(&report, args.json, out)?;
    if !report.is_clean() {
        bail!("{} problem(s) found", report.findings.len());
    }
    Ok(())
}

pub async fn check(state: &AppState, args: &FsckArgs) -> anyhow::Result<FsckReport> {
    let grace = Duration::from_secs(args.pending_grace_secs);
    let (table, blobs) = (state.table.as_ref(), state.blobs.as_ref());
    Ok(match &args.user {
        Some(id) => {
            let user = UserId::parse(id).with_context(|| format!("`{id}` is not a user id"))?;
            fsck::check_user(table, blobs, user, grace).await?
        }
        None => fsck::check_all(table, blobs, grace).await?,
    })
}

pub fn print(report: &FsckReport, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
        return Ok(());
    }
    for f in &report.findings {
        let kind = serde_json::to_value(f.kind)?;
        writeln!(
            out,
            "{}  {}  {}  {}",
            kind.as_str().unwrap_or_default(),
            f.user_id,
            f.key,
            f.detail
        )?;
    }
    writeln!(
        out,
        "{} account(s), {} item(s), {} file(s) checked: {} problem(s)",
        report.users_checked,
        report.items_checked,
        report.files_checked,
        report.findings.len()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ragenie_common::storage::{Condition, Item};
    use ragenie_common::testing::embedded_state;

    #[tokio::test]
    async fn fsck_reports_an_orphan_and_prints_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let user = UserId::new();
        state
            .table
            .put(
                Item::new(user.partition(), "MSG#01GONE#01M"),
                Condition::None,
            )
            .await
            .unwrap();
        let args = FsckArgs {
            user: Some(user.to_string()),
            pending_grace_secs: 0,
            json: false,
        };
        let report = check(&state, &args).await.unwrap();
        assert_eq!(report.findings.len(), 1);
        let mut out = Vec::new();
        print(&report, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("orphan_item"), "{text}");
        assert!(text.contains("1 problem(s)"), "{text}");
        let bad = FsckArgs {
            user: Some("nope".into()),
            ..args
        };
        assert!(check(&state, &bad).await.is_err());
    }
}
