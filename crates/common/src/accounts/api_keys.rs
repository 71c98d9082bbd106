//! Personal API keys: `rg_` followed by 40 random letters and digits (~238 bits). The value is
//! shown once at creation; the table keeps its SHA-256 (a fast hash is enough for a high-entropy
//! random key) in a lookup item written in the same transaction as the owner's listing item.

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{AccountError, AccountResult};
use super::ids::{ApiKeyId, UserId};
use super::{ListPage, keys};
use crate::auth::{AuthMethod, Principal};
use crate::clock::{self, Timestamp};
use crate::storage::{Condition, Item, StoreError, Table, TxOp, Update};

/// What every key starts with, so leaked keys are recognisable (and secret scanners can match).
pub const KEY_PREFIX: &str = "rg_";
const SECRET_CHARS: usize = 40;
/// How much of the key the list shows.
const SHOWN_PREFIX_CHARS: usize = KEY_PREFIX.len() + 8;
pub const MAX_NAME_CHARS: usize = 100;
/// At most one `last_used_at` write per key per this many seconds.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

#[derive(Debug, Serialize, Deserialize)]
struct KeyRecord {
    id: ApiKeyId,
    name: String,
    prefix: String,
    key_hash: String,
    created_at: Timestamp,
    /// Keys used before timestamps were settled stored epoch seconds here.
    #[serde(default, deserialize_with = "clock::legacy::option_epoch_or_timestamp")]
    last_used_at: Option<Timestamp>,
}

/// An API key as listed: never its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeySummary {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: Timestamp,
    /// To the minute; null until first used.
    pub last_used_at: Option<Timestamp>,
}

impl From<KeyRecord> for ApiKeySummary {
    fn from(r: KeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A key just created: the only time its value is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub summary: ApiKeySummary,
    /// The key itself; store it now, it is not shown again.
    pub key: String,
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub fn validate_name(name: &str) -> AccountResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AccountError::invalid("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AccountError::invalid(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AccountError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

pub async fn create(table: &dyn Table, user: UserId, name: &str) -> AccountResult<CreatedApiKey> {
    let name = validate_name(name)?;
    let secret: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(SECRET_CHARS)
        .map(char::from)
        .collect();
    let key = format!("{KEY_PREFIX}{secret}");
    let record = KeyRecord {
        id: ApiKeyId::new(),
        name,
        prefix: key[..SHOWN_PREFIX_CHARS].to_owned(),
        key_hash: hash(&key),
        created_at: clock::now(),
        last_used_at: None,
    };
    let owned = keys::api_key(user, record.id);
    let lookup = keys::api_key_lookup(&record.key_hash);
    table
        .transact(vec![
            TxOp::Put {
                item: Item::encode(owned.pk, owned.sk, &record)?,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: Item::new(lookup.pk, lookup.sk)
                    .with("user_id", user.to_string())
                    .with("key_id", record.id.to_string()),
                condition: Condition::NotExists,
            },
        ])
        .await?;
    Ok(CreatedApiKey {
        summary: record.into(),
        key,
    })
}

pub async fn list(
    table: &dyn Table,
    user: UserId,
    limit: usize,
    cursor: Option<String>,
) -> AccountResult<ListPage<ApiKeySummary>> {
    Ok(
        super::list_page::<KeyRecord>(table, user, keys::API_KEY_PREFIX, limit, cursor)
            .await?
            .map(ApiKeySummary::from),
    )
}

/// Revokes one of the user's keys; `NotFound` when the user has no such key.
pub async fn revoke(table: &dyn Table, user: UserId, id: ApiKeyId) -> AccountResult<()> {
    let owned = keys::api_key(user, id);
    let record: KeyRecord = table
        .get(&owned.pk, &owned.sk)
        .await?
        .ok_or(AccountError::NotFound("API key"))?
        .decode()?;
    let lookup = keys::api_key_lookup(&record.key_hash);
    match table
        .transact(vec![
            TxOp::Delete {
                pk: owned.pk,
                sk: owned.sk,
                condition: Condition::Exists,
            },
            TxOp::Delete {
                pk: lookup.pk,
                sk: lookup.sk,
                condition: Condition::None,
            },
        ])
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled(_) | StoreError::ConditionFailed) => {
            Err(AccountError::NotFound("API key"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes every key of the user (a password change, by default); returns how many.
pub async fn revoke_all(table: &dyn Table, user: UserId) -> AccountResult<usize> {
    let mut revoked = 0;
    loop {
        let page = list(table, user, 100, None).await?;
        if page.items.is_empty() {
            return Ok(revoked);
        }
        for key in page.items {
            match revoke(table, user, key.id).await {
                Ok(()) => revoked += 1,
                Err(AccountError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The principal a key belongs to; records its use (at most once a minute).
pub async fn authenticate(table: &dyn Table, key: &str) -> AccountResult<Principal> {
    if !key.starts_with(KEY_PREFIX)
        || key.len() != KEY_PREFIX.len() + SECRET_CHARS
        || !key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
    {
        return Err(AccountError::InvalidToken);
    }
    let lookup = keys::api_key_lookup(&hash(key));
    let found = table
        .get(&lookup.pk, &lookup.sk)
        .await?
        .ok_or(AccountError::InvalidToken)?;
    let (Some(user), Some(id)) = (
        found.str("user_id").and_then(UserId::parse),
        found.str("key_id").and_then(ApiKeyId::parse),
    ) else {
        return Err(AccountError::InvalidToken);
    };
    let owned = keys::api_key(user, id);
    let record: KeyRecord = table
        .get(&owned.pk, &owned.sk)
        .await?
        .ok_or(AccountError::InvalidToken)?
        .decode()?;
    let now = clock::now();
    if record
        .last_used_at
        .is_none_or(|t| now.unix_seconds() - t.unix_seconds() >= LAST_USED_RESOLUTION_SECS)
    {
        // A revocation racing this request makes the update fail; the key is refused then.
        table
            .update(
                &owned.pk,
                &owned.sk,
                Update::new().set("last_used_at", now),
                Condition::Exists,
            )
            .await
            .map_err(|e| match e {
                StoreError::ConditionFailed => AccountError::InvalidToken,
                other => other.into(),
            })?;
    }
    Ok(Principal {
        user_id: user,
        method: AuthMethod::ApiKey {
            key_id: id.to_string(),
        },
    })
}
