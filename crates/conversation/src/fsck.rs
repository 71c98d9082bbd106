//! The store's integrity check (`ragenie admin fsck`): what a failure half-way through a write
//! could leave behind, found by reading a user's partition and files — files nothing
//! references, items whose parent is gone, documents `pending` or `processing` with nothing left
//! to finish them, ready documents missing their index, messages without a conversation. It
//! reads only; each finding names the key, so an operator (or a test) can see what went wrong.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ragenie_common::accounts::{UPLOADS_PREFIX, UserId, all_items, users};
use ragenie_common::clock::{self, Timestamp};
use ragenie_common::storage::{Blobs, Item, Table};
use ragenie_corpus::keys as doc_keys;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ConversationResult;
use crate::keys;

/// How long a document may stay `pending` or `processing` before nothing can still be working
/// on it: the time after which its ingestion counts as stalled (and may be retried).
pub const PENDING_GRACE: Duration = ragenie_corpus::INGEST_STALLED_AFTER;

/// What kind of inconsistency a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A stored file no item refers to (bytes, text or segment of no document version, an
    /// upload with no upload record, files of an account that no longer exists).
    OrphanFile,
    /// An item whose parent is gone (a version, content or name claim without its document, a
    /// message without its conversation).
    OrphanItem,
    /// A document `pending` or `processing` for longer than the grace: its ingestion stalled
    /// (a lost job, a killed worker); a retry or the next start of the local server finishes it.
    StuckPending,
    /// A ready document without the text or segment of its current version, or without the
    /// version's record.
    Missing,
    /// A conversation whose head names a message that does not exist.
    DanglingHead,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Finding {
    pub user_id: String,
    pub kind: FindingKind,
    /// The item's sort key or the file's key.
    pub key: String,
    pub detail: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FsckReport {
    pub users_checked: usize,
    pub items_checked: usize,
    pub files_checked: usize,
    pub findings: Vec<Finding>,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// How many findings of each kind.
    pub fn counts(&self) -> HashMap<FindingKind, usize> {
        let mut counts = HashMap::new();
        for f in &self.findings {
            *counts.entry(f.kind).or_default() += 1;
        }
        counts
    }
}

/// Checks one user's items and files.
pub async fn check_user(
    table: &dyn Table,
    blobs: &dyn Blobs,
    user: UserId,
    pending_grace: Duration,
) -> ConversationResult<FsckReport> {
    let items = all_items(table, user, "").await?;
    let files = blobs.list(&user.blob_prefix()).await?;
    let uploaded = blobs.list(&user.upload_prefix()).await?;
    let mut report = FsckReport {
        users_checked: 1,
        items_checked: items.len(),
        files_checked: files.len() + uploaded.len(),
        findings: Vec::new(),
    };
    let mut find = |kind, key: &str, detail: String| {
        report.findings.push(Finding {
            user_id: user.to_string(),
            kind,
            key: key.to_owned(),
            detail,
        })
    };
    let by_prefix = |prefix: &'static str| {
        items
            .iter()
            .filter_map(move |i| i.sk.strip_prefix(prefix).map(|rest| (rest, i)))
    };

    let documents: HashMap<&str, &Item> = by_prefix(doc_keys::DOCUMENT_PREFIX).collect();
    // (document, version) → content hash, of versions whose document exists.
    let mut versions: HashMap<(String, u64), String> = HashMap::new();
    for (rest, item) in by_prefix("DOCV#") {
        let Some((doc_id, version)) = rest
            .rsplit_once('#')
            .and_then(|(d, v)| Some((d, v.parse::<u64>().ok()?)))
        else {
            continue;
        };
        if !documents.contains_key(doc_id) {
            find(
                FindingKind::OrphanItem,
                &item.sk,
                format!("version {version} of document {doc_id}, which no longer exists"),
            );
            continue;
        }
        let hash = item.str("content_hash").unwrap_or_default().to_owned();
        versions.insert((doc_id.to_owned(), version), hash);
    }
    for (_, item) in by_prefix("HASH#").chain(by_prefix("NAME#")) {
        let owner = item.str("doc_id").unwrap_or_default();
        if !documents.contains_key(owner) {
            find(
                FindingKind::OrphanItem,
                &item.sk,
                format!("claimed by document {owner}, which no longer exists"),
            );
        }
    }
    let stale_before = clock::now().unix_seconds() - pending_grace.as_secs() as i64;
    for (doc_id, item) in &documents {
        let version = item.i64("version").unwrap_or_default().max(0) as u64;
        let status = item.str("status").unwrap_or_default();
        let updated = item
            .str("updated_at")
            .and_then(|s| Timestamp::parse(s).ok())
            .map_or(0, Timestamp::unix_seconds);
        if matches!(status, "pending" | "processing") && updated <= stale_before {
            find(
                FindingKind::StuckPending,
                &item.sk,
                format!("{status} since {}", item.str("updated_at").unwrap_or("?")),
            );
        }
        if !versions.contains_key(&(doc_id.to_string(), version)) {
            find(
                FindingKind::Missing,
                &item.sk,
                format!("no record of its current version {version}"),
            );
        }
        if status == "ready" {
            for key in [
                doc_keys::text_blob(user, doc_id, version),
                doc_keys::segment_blob(user, doc_id, version),
            ] {
                if !files.iter().any(|f| f.key == key) {
                    find(
                        FindingKind::Missing,
                        &key,
                        format!("ready document {doc_id} has no {key}"),
                    );
                }
            }
        }
    }

    let uploads: HashSet<&str> = by_prefix("UPLOAD#").map(|(id, _)| id).collect();
    let hashes: HashSet<&str> = versions.values().map(String::as_str).collect();
    let prefix = user.blob_prefix();
    for file in &files {
        let Some(rest) = file.key.strip_prefix(&prefix) else {
            continue;
        };
        let referenced = if let Some(hash) = rest.strip_prefix("content/") {
            hashes.contains(hash)
        } else if let Some(path) = rest.strip_prefix("text/") {
            path.split_once('/')
                .and_then(|(doc, file)| {
                    let version = file.strip_suffix(".txt")?.parse().ok()?;
                    Some(versions.contains_key(&(doc.to_owned(), version)))
                })
                .unwrap_or(true)
        } else if let Some(name) = rest.strip_prefix("segments/") {
            // The merged segment is a cache of the others, rebuilt by the next search.
            name.strip_suffix(".seg")
                .and_then(|stem| stem.rsplit_once('-'))
                .and_then(|(doc, version)| {
                    Some(versions.contains_key(&(doc.to_owned(), version.parse().ok()?)))
                })
                .unwrap_or(true)
        } else {
            // A kind of file this check does not know: not judged.
            true
        };
        if !referenced {
            find(
                FindingKind::OrphanFile,
                &file.key,
                format!("{} bytes nothing refers to", file.size),
            );
        }
    }

    // Presigned uploads waiting for their commit, each with its record.
    for file in &uploaded {
        let doc_id = file
            .key
            .strip_prefix(&user.upload_prefix())
            .unwrap_or_default();
        if !uploads.contains(doc_id) {
            find(
                FindingKind::OrphanFile,
                &file.key,
                format!("an upload of {} bytes with no upload record", file.size),
            );
        }
    }

    let conversations: HashMap<&str, &Item> = by_prefix(keys::CONVERSATION_PREFIX).collect();
    let mut messages: HashSet<(&str, &str)> = HashSet::new();
    for (rest, item) in by_prefix(keys::MESSAGE_PREFIX) {
        let Some((conv_id, message_id)) = rest.split_once('#') else {
            continue;
        };
        messages.insert((conv_id, message_id));
        if !conversations.contains_key(conv_id) {
            find(
                FindingKind::OrphanItem,
                &item.sk,
                format!("a message of conversation {conv_id}, which no longer exists"),
            );
        }
    }
    for (conv_id, item) in &conversations {
        if let Some(head) = item.str("head_id")
            && !messages.contains(&(*conv_id, head))
        {
            find(
                FindingKind::DanglingHead,
                &item.sk,
                format!("its head {head} is not one of its messages"),
            );
        }
    }
    Ok(report)
}

/// Checks every account, and the files of accounts that no longer exist.
pub async fn check_all(
    table: &dyn Table,
    blobs: &dyn Blobs,
    pending_grace: Duration,
) -> ConversationResult<FsckReport> {
    let mut report = FsckReport::default();
    let mut known = HashSet::new();
    let mut cursor = None;
    loop {
        let (page, next) = users::list_all(table, 100, cursor).await?;
        for user in page {
            known.insert(user.id.to_string());
            let one = check_user(table, blobs, user.id, pending_grace).await?;
            report.users_checked += one.users_checked;
            report.items_checked += one.items_checked;
            report.files_checked += one.files_checked;
            report.findings.extend(one.findings);
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let uploads_root = format!("{UPLOADS_PREFIX}{}", UserId::BLOB_ROOT);
    let mut files = blobs.list(UserId::BLOB_ROOT).await?;
    files.extend(blobs.list(&uploads_root).await?);
    for file in files {
        let owner = file
            .key
            .strip_prefix(UserId::BLOB_ROOT)
            .or_else(|| file.key.strip_prefix(&uploads_root))
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        if !known.contains(owner) {
            report.files_checked += 1;
            report.findings.push(Finding {
                user_id: owner.to_owned(),
                kind: FindingKind::OrphanFile,
                key: file.key.clone(),
                detail: "a file of an account that does not exist".into(),
            });
        }
    }
    Ok(report)
}
