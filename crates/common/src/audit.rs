//! The security audit trail: sign-ins, password and credential changes, revoked sessions… each
//! stored as an item in the owner's partition (`USER#<id>`, sort key `AUDIT#<ulid>`, so a
//! user's trail reads newest first from one partition) and in the `AUDIT` partition of the
//! secondary index (every user's events, for the admin listing). Items carry `expires_at`, the
//! table's TTL attribute, so events age out after the configured retention (default a year).
//!
//! Recording never fails or holds up the action it records: the write waits at most
//! [`WRITE_TIMEOUT`], and a failure is logged and counted
//! (`ragenie_audit_write_failures_total`), never returned.
//!
//! Handlers take the [`Audit`] extractor and call [`Audit::record`]:
//!
//! ```ignore
//! async fn revoke_key(audit: Audit, auth: AuthUser, …) -> ApiResult<StatusCode> {
//!     …
//!     audit.record(AuditEntry::new(AuditAction::ApiKeyRevoked, user).target(format!("api_key:{id}"))).await;
//! }
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::accounts::web::ClientAddress;
use crate::accounts::{ListPage, UserId, keys};
use crate::clock::{self, Timestamp};
use crate::request_id::RequestId;
use crate::state::HasAppState;
use crate::storage::{Condition, Item, Query, StoreResult, Table};

/// The longest an action waits for its audit write.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(500);

/// The actor of events nobody authenticated for (a failed sign-in).
pub const ANONYMOUS: &str = "anonymous";

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    SignInSucceeded,
    /// A wrong password for an existing account (unknown emails belong to nobody's trail).
    SignInFailed,
    PasswordChanged,
    PasswordReset,
    ApiKeyCreated,
    ApiKeyRevoked,
    /// The refresh tokens of one sign-in were revoked: sign-out, or a reused token.
    RefreshFamilyRevoked,
    /// Every session of the account was revoked.
    SessionsRevoked,
    AccountDeleted,
    /// An admin changed the account's role, status or quota (`detail` says which).
    AccountChangedByAdmin,
}

impl AuditAction {
    pub const ALL: [AuditAction; 10] = [
        AuditAction::SignInSucceeded,
        AuditAction::SignInFailed,
        AuditAction::PasswordChanged,
        AuditAction::PasswordReset,
        AuditAction::ApiKeyCreated,
        AuditAction::ApiKeyRevoked,
        AuditAction::RefreshFamilyRevoked,
        AuditAction::SessionsRevoked,
        AuditAction::AccountDeleted,
        AuditAction::AccountChangedByAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignInSucceeded => "sign_in_succeeded",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::ApiKeyCreated => "api_key_created",
            AuditAction::ApiKeyRevoked => "api_key_revoked",
            AuditAction::RefreshFamilyRevoked => "refresh_family_revoked",
            AuditAction::SessionsRevoked => "sessions_revoked",
            AuditAction::AccountDeleted => "account_deleted",
            AuditAction::AccountChangedByAdmin => "account_changed_by_admin",
        }
    }
}

/// An event about to be recorded; time, address and request id come from the [`Audit`] that
/// records it.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    action: AuditAction,
    owner: UserId,
    actor: Option<String>,
    target: String,
    detail: Option<String>,
}

impl AuditEntry {
    /// An event in `owner`'s trail, done by the owner to their own account unless said
    /// otherwise.
    pub fn new(action: AuditAction, owner: UserId) -> Self {
        Self {
            action,
            owner,
            actor: Some(owner.to_string()),
            target: format!("user:{owner}"),
            detail: None,
        }
    }

    /// Done by nobody signed in (a failed sign-in).
    pub fn anonymous(mut self) -> Self {
        self.actor = None;
        self
    }

    /// Done by someone else (an admin).
    pub fn actor(mut self, actor: UserId) -> Self {
        self.actor = Some(actor.to_string());
        self
    }

    /// What the action touched, as `kind:id` (`api_key:…`, `refresh_family:…`, `user:…`).
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self
    }

    /// A short machine-readable reason (`wrong_password`, `sign_out`, `token_reuse`…); never a
    /// secret.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// A recorded security event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// A ULID: events sort by it in time order.
    pub id: String,
    /// Whose trail the event is in.
    pub user: String,
    pub action: AuditAction,
    /// Who did it: a user id, or `anonymous`.
    pub actor: String,
    /// What it touched: `user:…`, `api_key:…`, `refresh_family:…`.
    pub target: String,
    /// When it happened (RFC 3339, UTC).
    pub at: Timestamp,
    /// The client address the request came from.
    pub address: String,
    /// The request's `x-request-id`, to find its log lines.
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The request an event happened in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditContext {
    pub request_id: String,
    pub address: String,
}

/// Records audit events for one request (an axum extractor; never rejects).
#[derive(Clone)]
pub struct Audit {
    table: Arc<dyn Table>,
    retention_secs: i64,
    context: AuditContext,
}

impl Audit {
    pub fn new(table: Arc<dyn Table>, retention_days: u32, context: AuditContext) -> Self {
        Self {
            table,
            retention_secs: i64::from(retention_days) * 24 * 60 * 60,
            context,
        }
    }

    pub fn context(&self) -> &AuditContext {
        &self.context
    }

    /// Stores the event; waits at most [`WRITE_TIMEOUT`] and never fails the caller. Returns
    /// whether the event was stored.
    pub async fn record(&self, entry: AuditEntry) -> bool {
        let action = entry.action;
        let write = write(
            self.table.as_ref(),
            self.retention_secs,
            &self.context,
            entry,
        );
        let outcome = match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {WRITE_TIMEOUT:?}"),
        };
        tracing::warn!(
            action = action.as_str(),
            error = %outcome,
            "audit event not recorded"
        );
        crate::metrics::audit_write_failed(action.as_str());
        false
    }
}

/// Event ids increase within a process even in the same millisecond (a plain ULID's random part
/// would order two events of one millisecond by chance), so "newest first" is the order they
/// happened in.
fn next_event_id() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // The random part overflows only after 2^80 ids in one millisecond.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

async fn write(
    table: &dyn Table,
    retention_secs: i64,
    context: &AuditContext,
    entry: AuditEntry,
) -> StoreResult<()> {
    let now = clock::now();
    let id = next_event_id().to_string();
    let event = AuditEvent {
        id: id.clone(),
        user: entry.owner.to_string(),
        action: entry.action,
        actor: entry.actor.unwrap_or_else(|| ANONYMOUS.to_owned()),
        target: entry.target,
        at: now,
        address: context.address.clone(),
        request_id: context.request_id.clone(),
        detail: entry.detail,
    };
    let k = keys::audit_event(entry.owner, &id);
    let item = Item::encode(k.pk, k.sk, &event)?
        .indexed(keys::AUDIT_INDEX_PK, id)
        .expires_at(now.unix_seconds() + retention_secs);
    table.put(item, Condition::NotExists).await
}

impl<S: HasAppState> FromRequestParts<S> for Audit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ClientAddress(address) = ClientAddress::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let state = state.app_state();
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate);
        Ok(Audit::new(
            state.table.clone(),
            state.settings.audit_retention_days,
            AuditContext {
                request_id: request_id.to_string(),
                address,
            },
        ))
    }
}

/// Whose events a listing reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditScope {
    /// One user's trail (their partition): what `GET /auth/audit` shows its caller.
    User(UserId),
    /// Every user's events (the secondary index), for admins.
    All,
}

/// A page of events, newest first. `cursor` is the `next_cursor` of the previous page of the
/// same scope (a cursor of another scope is refused as invalid by the store).
pub async fn list(
    table: &dyn Table,
    scope: AuditScope,
    limit: usize,
    cursor: Option<String>,
) -> StoreResult<ListPage<AuditEvent>> {
    let page = match scope {
        AuditScope::User(user) => {
            table
                .query(
                    Query::partition(user.partition())
                        .prefix(keys::AUDIT_PREFIX)
                        .descending()
                        .limit(limit)
                        .after(cursor),
                )
                .await?
        }
        AuditScope::All => {
            table
                .query_index(
                    Query::partition(keys::AUDIT_INDEX_PK)
                        .descending()
                        .limit(limit)
                        .after(cursor),
                )
                .await?
        }
    };
    let items = page
        .items
        .iter()
        .map(Item::decode)
        .collect::<StoreResult<_>>()?;
    Ok(ListPage {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Every event of the scope as JSON lines (one event per line, newest first), at most `max`.
pub async fn export_json_lines(
    table: &dyn Table,
    scope: AuditScope,
    max: usize,
) -> StoreResult<String> {
    let mut out = String::new();
    let mut cursor = None;
    let mut written = 0;
    loop {
        let page = list(table, scope, 1000.min(max - written).max(1), cursor).await?;
        for event in &page.items {
            if written == max {
                return Ok(out);
            }
            out.push_str(&serde_json::to_string(event).map_err(anyhow::Error::from)?);
            out.push('\n');
            written += 1;
        }
        match page.next_cursor {
            Some(next) if written < max => cursor = Some(next),
            _ => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::embedded::EmbeddedTable;

    fn audit(table: Arc<dyn Table>, request_id: &str) -> Audit {
        Audit::new(
            table,
            365,
            AuditContext {
                request_id: request_id.into(),
                address: "192.0.2.1".into(),
            },
        )
    }

    fn table() -> (Arc<dyn Table>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(&dir.path().join("items.redb")).unwrap();
        (Arc::new(table), dir)
    }

    #[tokio::test]
    async fn an_event_is_stored_with_every_field_and_a_year_of_retention() {
        let (table, _dir) = table();
        let user = UserId::new();
        let stored = audit(table.clone(), "req-1")
            .record(
                AuditEntry::new(AuditAction::ApiKeyCreated, user)
                    .target("api_key:k1")
                    .detail("named ci"),
            )
            .await;
        assert!(stored);
        let page = list(table.as_ref(), AuditScope::User(user), 10, None)
            .await
            .unwrap();
        let [event] = page.items.as_slice() else {
            panic!("{page:?}")
        };
        assert_eq!(event.user, user.to_string());
        assert_eq!(event.actor, user.to_string());
        assert_eq!(event.action, AuditAction::ApiKeyCreated);
        assert_eq!(event.target, "api_key:k1");
        assert_eq!(event.address, "192.0.2.1");
        assert_eq!(event.request_id, "req-1");
        assert_eq!(event.detail.as_deref(), Some("named ci"));
        assert!((clock::unix_now() - event.at.unix_seconds()).abs() < 60);
        let k = keys::audit_event(user, &event.id);
        let item = table.get(&k.pk, &k.sk).await.unwrap().unwrap();
        let ttl = item.i64("expires_at").unwrap();
        assert_eq!(ttl, event.at.unix_seconds() + 365 * 24 * 3600);
    }

    #[tokio::test]
    async fn a_users_listing_is_newest_first_and_holds_only_their_events() {
        let (table, _dir) = table();
        let (alice, bob) = (UserId::new(), UserId::new());
        let a = audit(table.clone(), "r");
        a.record(AuditEntry::new(AuditAction::SignInSucceeded, alice))
            .await;
        a.record(AuditEntry::new(AuditAction::SignInFailed, bob).anonymous())
            .await;
        a.record(AuditEntry::new(AuditAction::PasswordChanged, alice))
            .await;
        let mine = list(table.as_ref(), AuditScope::User(alice), 10, None)
            .await
            .unwrap();
        let actions: Vec<_> = mine.items.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [AuditAction::PasswordChanged, AuditAction::SignInSucceeded]
        );
        let all = list(table.as_ref(), AuditScope::All, 10, None)
            .await
            .unwrap();
        assert_eq!(all.items.len(), 3);
        assert_eq!(all.items[1].actor, ANONYMOUS);
        assert_eq!(all.items[1].user, bob.to_string());
    }

    #[test]
    fn event_ids_increase_within_one_millisecond() {
        let ids: Vec<_> = (0..1000).map(|_| next_event_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[tokio::test]
    async fn listing_pages_through_a_trail_and_exports_json_lines() {
        let (table, _dir) = table();
        let user = UserId::new();
        let a = audit(table.clone(), "r");
        for _ in 0..5 {
            a.record(AuditEntry::new(AuditAction::SignInSucceeded, user))
                .await;
        }
        let first = list(table.as_ref(), AuditScope::User(user), 2, None)
            .await
            .unwrap();
        let second = list(table.as_ref(), AuditScope::User(user), 2, first.next_cursor)
            .await
            .unwrap();
        assert_eq!(second.items.len(), 2);
        assert!(first.items[1].id > second.items[0].id, "newest first");
        let lines = export_json_lines(table.as_ref(), AuditScope::User(user), 100)
            .await
            .unwrap();
        assert_eq!(lines.lines().count(), 5);
        for line in lines.lines() {
            let event: AuditEvent = serde_json::from_str(line).unwrap();
            assert_eq!(event.user, user.to_string());
        }
        let capped = export_json_lines(table.as_ref(), AuditScope::User(user), 3)
            .await
            .unwrap();
        assert_eq!(capped.lines().count(), 3);
    }
}
