//! `Idempotency-Key`: a client that retries a write after a network error gets the original
//! result instead of a second one (the IETF httpapi draft's header, as Stripe uses it).
//!
//! One record per user, operation and key, under the user's own partition (so one user's key can
//! never reach another's): `IDEMPOTENCY#<operation>#<sha256(key)>`, holding a fingerprint of the
//! request, the state (`pending` while the first attempt runs, `done` with its outcome) and a
//! 24-hour TTL.
//!
//! * first use: the claim is written with a conditional put; the caller does the work, then
//!   [`Idempotency::complete`]s the claim with the outcome (or [`Idempotency::release`]s it when
//!   the work failed, so a retry runs again);
//! * the same key and request again: the stored outcome ([`Claimed::Done`]);
//! * the same key with another request: [`IdempotencyError::Mismatch`] (422);
//! * while the first attempt still runs: [`IdempotencyError::InProgress`] (409); a claim left
//!   pending longer than [`LEASE_SECS`] (its process died) is taken over by the retry.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ApiError;
use crate::accounts::UserId;
use crate::clock::unix_now;
use crate::storage::{Condition, Item, StoreError, Table, Update};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// How long a key is remembered.
pub const TTL_SECS: i64 = 24 * 3600;
/// How long a first attempt may run before a retry takes its claim over.
pub const LEASE_SECS: i64 = 15 * 60;
/// What the OpenAPI documents say about the header.
const HEADER_DOC: &str = "a client-chosen key (1 to 255 visible ASCII characters) that makes retries safe: \
    the same key with the same request within 24 hours returns the original result instead of doing the work \
    again; with another request it is a 422; while the first attempt runs, a 409";

const SK_PREFIX: &str = "IDEMPOTENCY#";

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("this Idempotency-Key was already used with a different request")]
    Mismatch,
    #[error("a request with this Idempotency-Key is still in progress; retry when it has finished")]
    InProgress,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<IdempotencyError> for ApiError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Mismatch => ApiError::validation("Idempotency-Key", e.to_string()),
            IdempotencyError::InProgress => ApiError::Conflict(e.to_string()),
            IdempotencyError::Store(s) => s.into(),
        }
    }
}

/// The `Idempotency-Key` header of a request, when it has one (a malformed one is a 400).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

/// A route that takes the key says `params(IdempotencyKey)`: the header is declared once.
impl utoipa::IntoParams for IdempotencyKey {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{Required, path};
        let schema = ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ]))
            .min_length(Some(1))
            .max_length(Some(255))
            .pattern(Some(r"^[!-~]+$"));
        vec![
            path::ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(path::ParameterIn::Header)
                .required(Required::False)
                .description(Some(HEADER_DOC))
                .schema(Some(schema))
                .build(),
        ]
    }
}

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, ApiError> {
        if raw.is_empty() || raw.len() > MAX_KEY_LEN || !raw.iter().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            )));
        }
        Ok(Self(Some(String::from_utf8_lossy(raw).into_owned())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(HEADER) {
            None => Ok(Self(None)),
            Some(v) => Self::parse(v.as_bytes()),
        }
    }
}

/// A fingerprint of a request's parts (length-prefixed, so parts cannot run into each other).
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hex::encode(hash.finalize())
}

/// A first attempt's hold on a key, to complete or release.
#[derive(Clone, Debug)]
pub struct Claim {
    pk: String,
    sk: String,
    attempt: String,
}

#[derive(Debug)]
pub enum Claimed {
    /// Nobody did this yet: do the work, then complete or release the claim.
    Fresh(Claim),
    /// Done before: the outcome stored then.
    Done(Value),
}

#[derive(Clone)]
pub struct Idempotency {
    table: Arc<dyn Table>,
}

impl Idempotency {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// Claims `key` for `operation` (a stable name such as `documents.upload`) of this user, or
    /// says what became of an earlier request with it.
    pub async fn claim(
        &self,
        user: UserId,
        operation: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<Claimed, IdempotencyError> {
        let pk = user.partition();
        let sk = format!(
            "{SK_PREFIX}{operation}#{}",
            hex::encode(Sha256::digest(key.as_bytes()))
        );
        // A few rounds: an earlier record may expire, or a stale claim be taken over, in between.
        for _ in 0..3 {
            let now = unix_now();
            let attempt = ulid::Ulid::new().to_string();
            let item = Item::new(pk.clone(), sk.clone())
                .with("fingerprint", fingerprint)
                .with("state", "pending")
                .with("attempt", attempt.clone())
                .with("claimed_at", now)
                .expires_at(now + TTL_SECS);
            let claim = Claim {
                pk: pk.clone(),
                sk: sk.clone(),
                attempt,
            };
            match self.table.put(item.clone(), Condition::NotExists).await {
                Ok(()) => return Ok(Claimed::Fresh(claim)),
                Err(StoreError::ConditionFailed) => {}
                Err(e) if e.is_transient() => {
                    // The claim may have landed although its answer was lost: it is ours if it
                    // carries this attempt; else it must not hold the key against the retry.
                    if let Ok(Some(existing)) = self.table.get(&pk, &sk).await
                        && existing.str("attempt") == Some(claim.attempt.as_str())
                    {
                        return Ok(Claimed::Fresh(claim));
                    }
                    self.release(&claim).await;
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
            let Some(existing) = self.table.get(&pk, &sk).await? else {
                continue;
            };
            if existing.str("fingerprint") != Some(fingerprint) {
                return Err(IdempotencyError::Mismatch);
            }
            if existing.str("state") == Some("done") {
                let outcome = existing.get("outcome").cloned().unwrap_or(Value::Null);
                return Ok(Claimed::Done(outcome));
            }
            if existing.i64("claimed_at").unwrap_or(0) + LEASE_SECS > now {
                return Err(IdempotencyError::InProgress);
            }
            let previous = existing.get("attempt").cloned().unwrap_or(Value::Null);
            match self
                .table
                .put(item, Condition::AttrEquals("attempt".into(), previous))
                .await
            {
                Ok(()) => return Ok(Claimed::Fresh(claim)),
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(IdempotencyError::InProgress)
    }

    /// Records the outcome a retry gets (only while this attempt still holds the claim).
    pub async fn complete(&self, claim: &Claim, outcome: Value) -> Result<(), IdempotencyError> {
        let update = Update::new().set("state", "done").set("outcome", outcome);
        self.table
            .update(
                &claim.pk,
                &claim.sk,
                update,
                Condition::AttrEquals("attempt".into(), claim.attempt.clone().into()),
            )
            .await?;
        Ok(())
    }

    /// Forgets the claim: the work failed, and a retry should do it again.
    pub async fn release(&self, claim: &Claim) {
        // A claim left behind would answer 409 to every retry for the lease's 15 minutes.
        let released = crate::storage::retry_transient(|| {
            self.table.delete(
                &claim.pk,
                &claim.sk,
                Condition::AttrEquals("attempt".into(), claim.attempt.clone().into()),
            )
        })
        .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release an idempotency claim");
        }
    }

    /// Runs `work` once per key: a JSON route's status and body are stored and returned again to
    /// a retry. Without a key, just runs it.
    pub async fn once_json<F>(
        &self,
        user: UserId,
        operation: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
        work: F,
    ) -> Result<(u16, Value), ApiError>
    where
        F: Future<Output = Result<(u16, Value), ApiError>>,
    {
        let Some(key) = key.0.as_deref() else {
            return work.await;
        };
        let claim = match self.claim(user, operation, key, fingerprint).await? {
            Claimed::Done(outcome) => {
                let status = outcome.get("status").and_then(Value::as_u64).unwrap_or(200);
                let body = outcome.get("body").cloned().unwrap_or(Value::Null);
                return Ok((status as u16, body));
            }
            Claimed::Fresh(claim) => claim,
        };
        match work.await {
            Ok((status, body)) => {
                let outcome = serde_json::json!({"status": status, "body": body});
                if let Err(e) = self.complete(&claim, outcome).await {
                    tracing::warn!(error = %e, operation, "could not record an idempotent outcome");
                }
                Ok((status, body))
            }
            Err(e) => {
                self.release(&claim).await;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::embedded::EmbeddedTable;

    fn idem() -> (Idempotency, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(&dir.path().join("items.redb")).unwrap();
        (Idempotency::new(Arc::new(table)), dir)
    }

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(IdempotencyKey::parse(b"retry-1").is_ok());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"a b").is_err());
        assert!(IdempotencyKey::parse(&[b'a'; 256]).is_err());
        assert!(IdempotencyKey::parse(&[b'a'; 255]).is_ok());
    }

    #[tokio::test]
    async fn a_key_claims_once_then_replays_refuses_mismatches_and_is_per_user() {
        let (idem, _dir) = idem();
        let (alice, bob) = (UserId::new(), UserId::new());
        let Claimed::Fresh(claim) = idem.claim(alice, "op", "k", "f1").await.unwrap() else {
            panic!("first use must be fresh");
        };
        assert!(matches!(
            idem.claim(alice, "op", "k", "f1").await,
            Err(IdempotencyError::InProgress)
        ));
        idem.complete(&claim, serde_json::json!({"id": 1}))
            .await
            .unwrap();
        match idem.claim(alice, "op", "k", "f1").await.unwrap() {
            Claimed::Done(v) => assert_eq!(v["id"], 1),
            other => panic!("expected the stored outcome, got {other:?}"),
        }
        assert!(matches!(
            idem.claim(alice, "op", "k", "f2").await,
            Err(IdempotencyError::Mismatch)
        ));
        assert!(matches!(
            idem.claim(bob, "op", "k", "f2").await.unwrap(),
            Claimed::Fresh(_)
        ));
        assert!(matches!(
            idem.claim(alice, "other-op", "k", "f2").await.unwrap(),
            Claimed::Fresh(_)
        ));
    }

    #[tokio::test]
    async fn a_released_claim_lets_the_retry_run_again() {
        let (idem, _dir) = idem();
        let user = UserId::new();
        let Claimed::Fresh(claim) = idem.claim(user, "op", "k", "f").await.unwrap() else {
            panic!("fresh");
        };
        idem.release(&claim).await;
        assert!(matches!(
            idem.claim(user, "op", "k", "f").await.unwrap(),
            Claimed::Fresh(_)
        ));
    }
}
