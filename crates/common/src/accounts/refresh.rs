//! Refresh tokens: opaque random values, stored only as their SHA-256, rotated on every use.
//! Each login starts a family; every rotation marks the presented token used and issues its
//! successor in one transaction. Presenting a used token again means it leaked: the whole
//! family is revoked, so neither the thief nor the owner can go on with it.
//!
//! A token reads `<user id>.<secret>`: the user id routes the lookup into the owner's partition
//! (keys always start from a user id); the secret is 256 random bits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::all_items;
use super::error::{AccountError, AccountResult};
use super::ids::{RefreshFamilyId, UserId};
use super::jwt::SessionClaims;
use super::keys;
use crate::clock::{self, Timestamp};
use crate::storage::{Condition, Item, StoreError, Table, TxOp, Update};

/// A refresh token (and its family) lives 30 days from its last use.
pub const REFRESH_TOKEN_TTL_SECS: i64 = 30 * 24 * 3600;
const MAX_TOKEN_LEN: usize = 128;

#[derive(Debug, Serialize, Deserialize)]
struct TokenRecord {
    family: RefreshFamilyId,
    used: bool,
    created_at: Timestamp,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token(user: UserId) -> String {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    format!("{user}.{}", URL_SAFE_NO_PAD.encode(secret))
}

/// The owner a token names, and its hash; `InvalidToken` for anything malformed.
fn parse(token: &str) -> AccountResult<(UserId, String)> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AccountError::InvalidToken);
    }
    let (user, secret) = token.split_once('.').ok_or(AccountError::InvalidToken)?;
    let user = UserId::parse(user).ok_or(AccountError::InvalidToken)?;
    if secret.len() != 43 {
        return Err(AccountError::InvalidToken);
    }
    Ok((user, hash(token)))
}

fn token_item(user: UserId, token: &str, family: RefreshFamilyId, now: i64) -> AccountResult<Item> {
    let k = keys::refresh_token(user, &hash(token));
    let record = TokenRecord {
        family,
        used: false,
        created_at: clock::now(),
    };
    Ok(Item::encode(k.pk, k.sk, &record)?.expires_at(now + REFRESH_TOKEN_TTL_SECS))
}

/// A signed-in session (a refresh-token family), as its owner lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionSummary {
    pub id: String,
    /// RFC 3339: when it signed in.
    pub created_at: String,
    /// RFC 3339: its last token refresh (null: never refreshed).
    pub last_used_at: Option<String>,
    /// The session this request comes from.
    pub current: bool,
}

/// Starts a family (a login: the password was just proved) and returns its first token and the
/// session claims its access tokens carry.
pub async fn start_family(
    table: &dyn Table,
    user: UserId,
) -> AccountResult<(String, SessionClaims)> {
    let now = clock::unix_now();
    let family = RefreshFamilyId::new();
    let token = new_token(user);
    let fk = keys::refresh_family(user, family);
    let family_item = Item::new(fk.pk, fk.sk)
        .with("revoked", false)
        .with("created_at", clock::now())
        .with("auth_time", now)
        .expires_at(now + REFRESH_TOKEN_TTL_SECS);
    table
        .transact(vec![
            TxOp::Put {
                item: family_item,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: token_item(user, &token, family, now)?,
                condition: Condition::NotExists,
            },
        ])
        .await?;
    Ok((
        token,
        SessionClaims {
            id: family.to_string(),
            auth_time: now,
        },
    ))
}

async fn revoke_family(
    table: &dyn Table,
    user: UserId,
    family: RefreshFamilyId,
) -> AccountResult<()> {
    let k = keys::refresh_family(user, family);
    match table
        .update(
            &k.pk,
            &k.sk,
            Update::new().set("revoked", true),
            Condition::Exists,
        )
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Exchanges a refresh token for its successor; returns the owner, the new token and the
/// session's claims. A used, revoked, expired or unknown token is `InvalidToken`; a used one
/// also revokes its family and is `TokenReused` (the same answer to the client, but the caller
/// can record it).
pub async fn rotate(
    table: &dyn Table,
    token: &str,
) -> AccountResult<(UserId, String, SessionClaims)> {
    let (user, token_hash) = parse(token)?;
    let k = keys::refresh_token(user, &token_hash);
    let record: TokenRecord = super::token_record(table, &k).await?;
    if record.used {
        tracing::warn!(user = %user, family = %record.family, "refresh token reused; revoking its family");
        revoke_family(table, user, record.family).await?;
        return Err(AccountError::TokenReused {
            user,
            family: record.family,
        });
    }
    let now = clock::unix_now();
    let next = new_token(user);
    let fk = keys::refresh_family(user, record.family);
    let result = table
        .transact(vec![
            super::mark_used(&k),
            TxOp::Update {
                pk: fk.pk.clone(),
                sk: fk.sk.clone(),
                update: Update::new()
                    .set("expires_at", now + REFRESH_TOKEN_TTL_SECS)
                    .set("last_used_at", clock::now()),
                condition: Condition::AttrEquals("revoked".into(), false.into()),
            },
            TxOp::Put {
                item: token_item(user, &next, record.family, now)?,
                condition: Condition::NotExists,
            },
        ])
        .await;
    match result {
        Ok(()) => {
            // Sessions started before `auth_time` was recorded count as proved at their start.
            let auth_time = table
                .get(&fk.pk, &fk.sk)
                .await?
                .and_then(|f| f.i64("auth_time"))
                .unwrap_or(0);
            let session = SessionClaims {
                id: record.family.to_string(),
                auth_time,
            };
            Ok((user, next, session))
        }
        // The family was revoked, or the same token was used concurrently: only one use of a
        // token may ever succeed, so the other is treated as reuse.
        Err(StoreError::TransactionCanceled(_) | StoreError::ConditionFailed) => {
            revoke_family(table, user, record.family).await?;
            Err(AccountError::TokenReused {
                user,
                family: record.family,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Logout: revokes the family of the token and returns whose family it was. Unknown or
/// malformed tokens are ignored (RFC 7009: revoking what is not valid is not an error).
pub async fn revoke(
    table: &dyn Table,
    token: &str,
) -> AccountResult<Option<(UserId, RefreshFamilyId)>> {
    let Ok((user, token_hash)) = parse(token) else {
        return Ok(None);
    };
    let k = keys::refresh_token(user, &token_hash);
    let Some(item) = table.get(&k.pk, &k.sk).await? else {
        return Ok(None);
    };
    let record: TokenRecord = item.decode()?;
    revoke_family(table, user, record.family).await?;
    Ok(Some((user, record.family)))
}

/// The user's live sessions, oldest first; `current` marks the one with id `current`.
pub async fn list_sessions(
    table: &dyn Table,
    user: UserId,
    current: Option<&str>,
) -> AccountResult<Vec<SessionSummary>> {
    let live = all_items(table, user, keys::REFRESH_FAMILY_PREFIX)
        .await?
        .into_iter()
        .filter(|item| item.get("revoked") == Some(&serde_json::Value::Bool(false)));
    Ok(live
        .map(|item| {
            let id = item
                .sk
                .strip_prefix(keys::REFRESH_FAMILY_PREFIX)
                .unwrap_or_default()
                .to_owned();
            SessionSummary {
                current: current == Some(id.as_str()),
                id,
                created_at: item.str("created_at").unwrap_or_default().to_owned(),
                last_used_at: item.str("last_used_at").map(str::to_owned),
            }
        })
        .collect())
}

/// Revokes every family of the user (password change).
pub async fn revoke_all(table: &dyn Table, user: UserId) -> AccountResult<usize> {
    let mut revoked = 0;
    for item in all_items(table, user, keys::REFRESH_FAMILY_PREFIX).await? {
        if item.get("revoked") != Some(&serde_json::Value::Bool(false)) {
            continue;
        }
        match table
            .update(
                &item.pk,
                &item.sk,
                Update::new().set("revoked", true),
                Condition::Exists,
            )
            .await
        {
            Ok(_) => revoked += 1,
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_are_invalid_not_errors() {
        for t in [
            "",
            "x",
            "a.b",
            &format!("{}.short", UserId::new()),
            &"x".repeat(500),
        ] {
            assert!(matches!(parse(t), Err(AccountError::InvalidToken)), "{t}");
        }
        let t = new_token(UserId::new());
        assert!(parse(&t).is_ok(), "{t}");
    }
}
