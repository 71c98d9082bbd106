//! Password reset: "forgot password" mails a single-use link. The token is 256 random bits,
//! stored only as its SHA-256, valid 30 minutes and once; using it sets the new password and
//! revokes every session of the account. Asking never reveals whether an account has the
//! email: the answer is the same, and a failure to send is logged, not shown.
//!
//! A token reads `<user id>.<secret>`, like a refresh token: the user id routes the lookup into
//! the owner's partition.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{AccountError, AccountResult};
use super::ids::UserId;
use super::{keys, passwords, refresh, users};
use crate::clock;
use crate::mail::{Mail, Mailer};
use crate::storage::{Condition, Item, Query, StoreError, Table, TxOp, Update};

/// How long a reset link works.
pub const RESET_TOKEN_TTL_SECS: i64 = 30 * 60;
const SECRET_CHARS: usize = 43;

#[derive(Debug, Serialize, Deserialize)]
struct ResetRecord {
    used: bool,
    created_at: clock::Timestamp,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn parse(token: &str) -> AccountResult<(UserId, String)> {
    let token = token.trim();
    let (user, secret) = token.split_once('.').ok_or(AccountError::InvalidToken)?;
    let user = UserId::parse(user).ok_or(AccountError::InvalidToken)?;
    if secret.len() != SECRET_CHARS
        || !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AccountError::InvalidToken);
    }
    Ok((user, hash(token)))
}

/// The account an (already normalised) email belongs to, if any.
pub async fn account_of(table: &dyn Table, email: &str) -> AccountResult<Option<UserId>> {
    let claim = keys::email(email);
    Ok(table
        .get(&claim.pk, &claim.sk)
        .await?
        .and_then(|item| item.str("user_id").and_then(UserId::parse)))
}

/// Creates a single-use reset token for `user`, valid [`RESET_TOKEN_TTL_SECS`]: mailed by
/// [`request`], or handed to an administrator who passes the link on (`POST
/// /admin/users/{id}/password-reset`).
pub async fn issue(table: &dyn Table, user: UserId) -> AccountResult<String> {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!("{user}.{}", URL_SAFE_NO_PAD.encode(secret));
    let k = keys::password_reset(user, &hash(&token));
    let record = ResetRecord {
        used: false,
        created_at: clock::now(),
    };
    table
        .put(
            Item::encode(k.pk, k.sk, &record)?.expires_at(clock::unix_now() + RESET_TOKEN_TTL_SECS),
            Condition::NotExists,
        )
        .await?;
    Ok(token)
}

/// The page that takes a reset token. The token travels in the fragment: browsers never send
/// it to a server or in a Referer.
pub fn link(public_url: &str, token: &str) -> String {
    format!("{public_url}/reset-password#token={token}")
}

/// Mails a reset link to `email` when an account has it; otherwise does nothing. `public_url`
/// is the web app's origin (configuration, never the request's `Host`, which a caller could
/// point at their own site).
pub async fn request(
    table: &dyn Table,
    mailer: &dyn Mailer,
    email: &str,
    public_url: &str,
) -> AccountResult<()> {
    let Some(user) = account_of(table, email).await? else {
        tracing::info!("password reset asked for an email no account has");
        return Ok(());
    };
    let link = link(public_url, &issue(table, user).await?);
    let mail = Mail {
        to: email.to_owned(),
        subject: "Reset your RaGenie password".into(),
        text: format!(
            "Someone (hopefully you) asked to reset the password of your RaGenie account.\n\n\
             Open this link within 30 minutes to choose a new password:\n\n{link}\n\n\
             It works once. Using it signs out every device signed in to your account.\n\
             If you did not ask, ignore this message: your password stays as it is.\n"
        ),
    };
    if let Err(e) = mailer.send(&mail).await {
        // Not the caller's business: an error here would tell them the account exists.
        tracing::error!(user = %user, error = %e, "the password-reset mail could not be sent");
    } else {
        tracing::info!(user = %user, "password-reset link sent");
    }
    Ok(())
}

/// Uses a reset token: sets `new_password`, marks the token used (in the same transaction, so
/// it works once even when presented twice at the same moment), drops the account's other
/// reset tokens and revokes every session. Returns the account.
pub async fn confirm(
    table: &dyn Table,
    token: &str,
    new_password: String,
) -> AccountResult<UserId> {
    let (user, token_hash) = parse(token)?;
    let k = keys::password_reset(user, &token_hash);
    let record: ResetRecord = super::token_record(table, &k).await?;
    if record.used {
        return Err(AccountError::InvalidToken);
    }
    let email = users::get(table, user).await?.email;
    passwords::check_policy(&new_password, &email, "new_password")?;
    let password_hash = passwords::hash(new_password).await?;
    let account = keys::user(user);
    match table
        .transact(vec![
            super::mark_used(&k),
            TxOp::Update {
                pk: account.pk,
                sk: account.sk,
                update: Update::new()
                    .set("password_hash", password_hash)
                    .set("password_changed_at", clock::now()),
                condition: Condition::Exists,
            },
        ])
        .await
    {
        Ok(()) => {}
        Err(StoreError::TransactionCanceled(_) | StoreError::ConditionFailed) => {
            return Err(AccountError::InvalidToken);
        }
        Err(e) => return Err(e.into()),
    }
    // Links mailed earlier must not outlive the password they were meant to replace.
    let others = table
        .query(
            Query::partition(user.partition())
                .prefix(keys::PASSWORD_RESET_PREFIX)
                .limit(100),
        )
        .await?;
    for item in others.items.iter().filter(|i| i.sk != k.sk) {
        table.delete(&item.pk, &item.sk, Condition::None).await?;
    }
    let revoked = refresh::revoke_all(table, user).await?;
    tracing::info!(user = %user, revoked, "password reset; every session revoked");
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_are_invalid() {
        let user = UserId::new();
        for t in [
            "",
            "nodot",
            "not-a-ulid.abc",
            &format!("{user}.short"),
            &format!("{user}.{}", "!".repeat(43)),
        ] {
            assert!(matches!(parse(t), Err(AccountError::InvalidToken)), "{t}");
        }
        assert!(parse(&format!("{user}.{}", "a".repeat(43))).is_ok());
    }
}
