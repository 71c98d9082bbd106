//! Deleting an account and everything it owns: every item of its partition (profiles,
//! documents and their versions, conversations and messages, usage, sessions, API keys,
//! preferences, reset tokens), the lookups that live outside it (its email claim, its API keys'
//! hashes), and every blob under its prefix (document bytes, extracted text, index segments,
//! pending uploads).
//!
//! [`delete_account`] takes no password: it is the domain operation, for the owner (after
//! `DELETE /auth/me` checked the password) and for an administrator later. It is safe to run
//! again after a failure: the account record and the email claim go last, so a half-deleted
//! account can still sign in and finish.

use serde::Serialize;

use super::error::AccountResult;
use super::ids::UserId;
use super::{all_items, keys};
use crate::storage::{Blobs, Condition, Table, TxOp};

/// What a deletion removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeletionReport {
    pub documents: usize,
    pub document_versions: usize,
    pub conversations: usize,
    pub messages: usize,
    pub profiles: usize,
    pub usage_records: usize,
    pub api_keys: usize,
    pub sessions: usize,
    /// Every table item removed, the above included.
    pub items: usize,
    /// Stored files: document bytes, extracted text, index segments, uploads.
    pub files: usize,
    pub file_bytes: u64,
}

impl DeletionReport {
    fn count(&mut self, sk: &str) {
        self.items += 1;
        let counter = match () {
            _ if sk.starts_with("DOC#") => &mut self.documents,
            _ if sk.starts_with("DOCV#") => &mut self.document_versions,
            _ if sk.starts_with("CONV#") => &mut self.conversations,
            _ if sk.starts_with("MSG#") => &mut self.messages,
            _ if sk.starts_with(keys::PROFILE_PREFIX) => &mut self.profiles,
            _ if sk.starts_with("USAGE#") => &mut self.usage_records,
            _ if sk.starts_with(keys::API_KEY_PREFIX) => &mut self.api_keys,
            _ if sk.starts_with(keys::REFRESH_FAMILY_PREFIX) => &mut self.sessions,
            _ => return,
        };
        *counter += 1;
    }
}

/// Deletes the account and everything it owns; returns what went.
pub async fn delete_account(
    table: &dyn Table,
    blobs: &dyn Blobs,
    user: UserId,
) -> AccountResult<DeletionReport> {
    let mut report = DeletionReport::default();
    let items = all_items(table, user, "").await?;
    let account = keys::user(user);
    let email = items
        .iter()
        .find(|i| i.sk == account.sk)
        .and_then(|i| i.str("email").map(str::to_owned));

    // Credentials first, so nothing new can be done with them while the rest goes.
    for item in items
        .iter()
        .filter(|i| i.sk.starts_with(keys::API_KEY_PREFIX))
    {
        if let Some(hash) = item.str("key_hash") {
            let lookup = keys::api_key_lookup(hash);
            table
                .delete(&lookup.pk, &lookup.sk, Condition::None)
                .await?;
        }
    }
    for item in items.iter().filter(|i| {
        i.sk.starts_with(keys::REFRESH_FAMILY_PREFIX)
            || i.sk.starts_with(keys::REFRESH_TOKEN_PREFIX)
    }) {
        table.delete(&item.pk, &item.sk, Condition::None).await?;
    }

    let prefixes = [user.blob_prefix(), user.upload_prefix()];
    for prefix in &prefixes {
        for blob in blobs.list(prefix).await? {
            blobs.delete(&blob.key).await?;
            report.files += 1;
            report.file_bytes += blob.size;
        }
    }

    for item in items.iter().filter(|i| i.sk != account.sk) {
        if !is_session(&item.sk) {
            table.delete(&item.pk, &item.sk, Condition::None).await?;
        }
        report.count(&item.sk);
    }
    // Anything written meanwhile (a request that was in flight) goes too.
    for item in all_items(table, user, "").await? {
        if item.sk != account.sk {
            table.delete(&item.pk, &item.sk, Condition::None).await?;
            report.count(&item.sk);
        }
    }
    for prefix in &prefixes {
        for blob in blobs.list(prefix).await? {
            blobs.delete(&blob.key).await?;
            report.files += 1;
            report.file_bytes += blob.size;
        }
    }

    // Last, the account and its email, together.
    let mut last = vec![TxOp::Delete {
        pk: account.pk,
        sk: account.sk,
        condition: Condition::None,
    }];
    if let Some(email) = email {
        let claim = keys::email(&email);
        last.push(TxOp::Delete {
            pk: claim.pk,
            sk: claim.sk,
            condition: Condition::None,
        });
    }
    table.transact(last).await?;
    report.items += 1;
    tracing::info!(user = %user, items = report.items, files = report.files, "account deleted");
    Ok(report)
}

/// Refresh tokens and families were deleted with the credentials above.
fn is_session(sk: &str) -> bool {
    sk.starts_with(keys::REFRESH_FAMILY_PREFIX) || sk.starts_with(keys::REFRESH_TOKEN_PREFIX)
}
