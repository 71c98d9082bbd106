//! User accounts: registration with a unique normalised email (claimed in the same transaction
//! as the user is written), login checks, the account as shown to its owner, password change.

use serde::{Deserialize, Serialize};

use super::error::{AccountError, AccountResult};
use super::ids::UserId;
use super::operator::{AccountStatus, Role};
use super::{keys, passwords};
use crate::clock::{self, Timestamp};
use crate::storage::{Condition, Item, Scan, StoreError, Table, TxOp, Update, attr};

pub const MAX_EMAIL_BYTES: usize = 254;

/// The stored account.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct UserRecord {
    id: UserId,
    email: String,
    password_hash: String,
    created_at: Timestamp,
    password_changed_at: Timestamp,
    /// Accounts stored before roles existed read as active users.
    #[serde(default)]
    role: Role,
    #[serde(default)]
    status: AccountStatus,
}

/// An account as its owner sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub created_at: Timestamp,
    /// `admin` or `user` (as stored; `RAGENIE_ADMINS` may make a `user` an admin too).
    #[serde(default)]
    pub role: Role,
    /// `active`, `pending` (waits for approval) or `suspended`.
    #[serde(default)]
    pub status: AccountStatus,
}

impl From<UserRecord> for User {
    fn from(r: UserRecord) -> Self {
        Self {
            id: r.id,
            email: r.email,
            created_at: r.created_at,
            role: r.role,
            status: r.status,
        }
    }
}

/// Where a new account stands, and what else its registration writes in the same transaction
/// (the first-admin claim, a consumed invite).
#[derive(Clone, Debug, Default)]
pub struct Standing {
    pub role: Role,
    pub status: AccountStatus,
    pub also: Vec<TxOp>,
}

/// The secondary-index partition listing every account (the admin console), by creation time.
pub const USERS_INDEX_PK: &str = "USERS";

/// Trims and lower-cases an email and checks its shape (`local@domain.tld`, no spaces or
/// control characters, within RFC 5321's lengths). `field` names it in errors.
pub fn normalise_email(raw: &str, field: &str) -> AccountResult<String> {
    let email = raw.trim().to_lowercase();
    let invalid = |why: &str| Err(AccountError::invalid(field, why.to_owned()));
    if email.is_empty() {
        return invalid("is required");
    }
    if email.len() > MAX_EMAIL_BYTES {
        return invalid("must be at most 254 characters");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return invalid("is not an email address (no @)");
    };
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return invalid("is not a valid email address");
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c))
    {
        return invalid("must not contain spaces or special characters such as <>(),;:");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return invalid("has no valid domain (expected name@example.com)");
    }
    Ok(email)
}

async fn load(table: &dyn Table, user: UserId) -> AccountResult<Option<UserRecord>> {
    let k = keys::user(user);
    match table.get(&k.pk, &k.sk).await? {
        Some(item) => Ok(Some(item.decode()?)),
        None => Ok(None),
    }
}

/// Creates an active user account. The email is normalised and the password checked here.
pub async fn register(table: &dyn Table, email: &str, password: String) -> AccountResult<User> {
    let email = normalise_email(email, "email")?;
    passwords::check_policy(&password, &email, "password")?;
    let hash = hash_new_password(table, &email, password).await?;
    create(table, &email, hash, Standing::default()).await
}

/// Hashes the password of a new account, after a cheap refusal of a taken email (the
/// transaction in [`create`] is what guarantees uniqueness).
pub async fn hash_new_password(
    table: &dyn Table,
    email: &str,
    password: String,
) -> AccountResult<String> {
    let claim = keys::email(email);
    if table.get(&claim.pk, &claim.sk).await?.is_some() {
        return Err(AccountError::EmailTaken);
    }
    passwords::hash(password).await
}

/// Writes a new account (email already normalised, password already hashed) with its standing;
/// `EmailTaken` when the email is claimed, `TransactionCanceled` when one of `standing.also`
/// failed its condition.
pub async fn create(
    table: &dyn Table,
    email: &str,
    password_hash: String,
    standing: Standing,
) -> AccountResult<User> {
    let now = clock::now();
    let record = UserRecord {
        id: UserId::new(),
        email: email.to_owned(),
        password_hash,
        created_at: now,
        password_changed_at: now,
        role: standing.role,
        status: standing.status,
    };
    let k = keys::user(record.id);
    let user_item =
        Item::encode(k.pk, k.sk, &record)?.indexed(USERS_INDEX_PK, format!("{now}#{}", record.id));
    let claim = keys::email(email);
    let email_item = Item::new(claim.pk, claim.sk).with("user_id", record.id.to_string());
    let mut ops = vec![
        TxOp::Put {
            item: email_item,
            condition: Condition::NotExists,
        },
        TxOp::Put {
            item: user_item,
            condition: Condition::NotExists,
        },
    ];
    let extra = !standing.also.is_empty();
    ops.extend(standing.also);
    match table.transact(ops).await {
        Ok(()) => Ok(record.into()),
        Err(StoreError::TransactionCanceled(_) | StoreError::ConditionFailed) => {
            // Which condition failed is not reported the same way everywhere: ask the email.
            if extra && id_for_email(table, email).await?.is_none() {
                Err(AccountError::Store(StoreError::TransactionCanceled(
                    "a condition of the registration failed".into(),
                )))
            } else {
                Err(AccountError::EmailTaken)
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets an account's role and status (the admin console); `NotFound` for no such account.
pub async fn set_standing(
    table: &dyn Table,
    user: UserId,
    role: Option<Role>,
    status: Option<AccountStatus>,
) -> AccountResult<User> {
    let k = keys::user(user);
    let mut update = Update::new();
    if let Some(role) = role {
        update = update.set(
            "role",
            serde_json::to_value(role).map_err(anyhow::Error::from)?,
        );
    }
    if let Some(status) = status {
        update = update.set(
            "status",
            serde_json::to_value(status).map_err(anyhow::Error::from)?,
        );
    }
    if update.set.is_empty() {
        return get(table, user).await;
    }
    match table.update(&k.pk, &k.sk, update, Condition::Exists).await {
        Ok(item) => Ok(item.decode::<UserRecord>()?.into()),
        Err(StoreError::ConditionFailed) => Err(AccountError::NotFound("user")),
        Err(e) => Err(e.into()),
    }
}

/// One page of every account, oldest first (the admin console).
pub async fn list_all(
    table: &dyn Table,
    limit: usize,
    cursor: Option<String>,
) -> AccountResult<(Vec<User>, Option<String>)> {
    let page = table
        .query_index(
            crate::storage::Query::partition(USERS_INDEX_PK)
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let users = page
        .items
        .iter()
        .map(|i| i.decode::<UserRecord>().map(User::from))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((users, page.next_cursor))
}

/// What one run of [`backfill_users_index`] did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Backfill {
    /// Accounts read.
    pub scanned: u64,
    /// Accounts that were missing from the admin list and were added to it.
    pub indexed: u64,
    /// Set when the table has more to read: pass it back to continue.
    pub next_cursor: Option<String>,
}

/// Puts accounts created before the `USERS` index existed into it, so the admin console lists
/// them: reads the table (a scan: maintenance, not a request path) for account items without an
/// index entry and adds one (`created_at#id`, as registration writes it). Idempotent: indexed
/// accounts are skipped, so running it again changes nothing. Reads at most `pages` pages from
/// `cursor`; `next_cursor` resumes.
pub async fn backfill_users_index(
    table: &dyn Table,
    cursor: Option<String>,
    pages: usize,
) -> AccountResult<Backfill> {
    let mut done = Backfill::default();
    let mut cursor = cursor;
    for _ in 0..pages.max(1) {
        let page = table
            .scan(Scan::sort_key("USER").page(500, cursor.take()))
            .await?;
        for item in &page.items {
            if !item.pk.starts_with("USER#") {
                continue;
            }
            done.scanned += 1;
            if item.str(attr::GSI1_PK).is_some() {
                continue;
            }
            let record: UserRecord = item.decode()?;
            let update = Update::new().set(attr::GSI1_PK, USERS_INDEX_PK).set(
                attr::GSI1_SK,
                format!("{}#{}", record.created_at, record.id),
            );
            // Exists: an account deleted meanwhile is not brought back.
            match table
                .update(&item.pk, &item.sk, update, Condition::Exists)
                .await
            {
                Ok(_) => done.indexed += 1,
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    done.next_cursor = cursor;
    if done.indexed > 0 {
        tracing::info!(indexed = done.indexed, "accounts added to the admin list");
    }
    Ok(done)
}

/// The account an email (normalised) is registered to, if any.
pub async fn id_for_email(table: &dyn Table, email: &str) -> AccountResult<Option<UserId>> {
    let claim = keys::email(email);
    Ok(table
        .get(&claim.pk, &claim.sk)
        .await?
        .and_then(|item| item.str("user_id").and_then(UserId::parse)))
}

/// The account an email and password belong to. Unknown email and wrong password fail alike,
/// in the same time (an unknown email is checked against a dummy hash).
pub async fn verify_login(table: &dyn Table, email: &str, password: String) -> AccountResult<User> {
    if password.len() > passwords::MAX_PASSWORD_BYTES {
        return Err(AccountError::InvalidCredentials);
    }
    let user_id = id_for_email(table, email).await?;
    let record = match user_id {
        Some(id) => load(table, id).await?,
        None => None,
    };
    let stored = record.as_ref().map(|r| r.password_hash.clone());
    if passwords::verify(password, stored).await? {
        Ok(record
            .expect("verify succeeds only with a stored hash")
            .into())
    } else {
        Err(AccountError::InvalidCredentials)
    }
}

pub async fn get(table: &dyn Table, user: UserId) -> AccountResult<User> {
    load(table, user)
        .await?
        .map(User::from)
        .ok_or(AccountError::NotFound("user"))
}

/// Replaces the password after checking the current one. Refresh tokens are revoked by the
/// caller ([`super::refresh::revoke_all`]) once this succeeds.
pub async fn change_password(
    table: &dyn Table,
    user: UserId,
    current: String,
    new: String,
) -> AccountResult<User> {
    let record = load(table, user)
        .await?
        .ok_or(AccountError::NotFound("user"))?;
    passwords::check_policy(&new, &record.email, "new_password")?;
    if current.len() > passwords::MAX_PASSWORD_BYTES
        || !passwords::verify(current, Some(record.password_hash.clone())).await?
    {
        return Err(AccountError::WrongCurrentPassword);
    }
    if passwords::verify(new.clone(), Some(record.password_hash.clone())).await? {
        return Err(AccountError::invalid(
            "new_password",
            "must differ from the current password",
        ));
    }
    let new_hash = passwords::hash(new).await?;
    let k = keys::user(user);
    table
        .update(
            &k.pk,
            &k.sk,
            Update::new()
                .set("password_hash", new_hash)
                .set("password_changed_at", clock::now()),
            // A concurrent change wins once; the loser is told to retry.
            Condition::AttrEquals(
                "password_hash".into(),
                serde_json::Value::String(record.password_hash.clone()),
            ),
        )
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed => {
                AccountError::Conflict("the password was changed concurrently; retry".into())
            }
            other => other.into(),
        })?;
    Ok(record.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalise_email("  Alice.Smith+tag@Example.COM ", "email").unwrap(),
            "alice.smith+tag@example.com"
        );
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "al ice@example.com",
            "alice@exa_mple.com",
            "alice@-example.com",
            "a<b>@example.com",
            "alice@example..com",
        ] {
            let err = normalise_email(bad, "email").unwrap_err();
            assert!(
                matches!(&err, AccountError::Invalid { field, .. } if field == "email"),
                "{bad}: {err:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalise_email(&long, "email").is_err());
    }

    #[tokio::test]
    async fn accounts_from_before_the_users_index_are_backfilled_once_and_listed() {
        use crate::storage::embedded::EmbeddedTable;
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(&dir.path().join("t.redb")).unwrap();
        let mut old = Vec::new();
        for email in ["a@example.com", "b@example.com", "c@example.com"] {
            let user = create(&table, email, "hash".into(), Standing::default())
                .await
                .unwrap();
            old.push(user.id);
        }
        // Accounts written before the index existed: their items have no index entry.
        for id in &old[..2] {
            let k = keys::user(*id);
            let update = Update::new().remove(attr::GSI1_PK).remove(attr::GSI1_SK);
            table
                .update(&k.pk, &k.sk, update, Condition::Exists)
                .await
                .unwrap();
        }
        async fn listed(t: &dyn Table) -> Vec<UserId> {
            let (users, _) = list_all(t, 100, None).await.unwrap();
            users.into_iter().map(|u| u.id).collect()
        }
        assert_eq!(listed(&table).await, [old[2]]);
        let run = backfill_users_index(&table, None, 10).await.unwrap();
        assert_eq!((run.scanned, run.indexed, run.next_cursor), (3, 2, None));
        assert_eq!(listed(&table).await, old, "listed in creation order");
        let again = backfill_users_index(&table, None, 10).await.unwrap();
        assert_eq!((again.scanned, again.indexed), (3, 0), "idempotent");
    }
}
