//! Throttling of password guesses and registrations, kept in the table so it holds across
//! Lambda instances. Attempts are counted in fixed windows whose counters expire by TTL, keyed
//! by a hash of the subject (the table holds no list of addresses or emails that were tried).
//!
//! Three budgets guard a password check, so it can be neither dodged nor turned against the
//! owner:
//! * **account and address together** (tight): a guesser at one address is stopped quickly,
//!   while the owner, from their own address, is not affected;
//! * **address** (across accounts): one address spraying many accounts is stopped;
//! * **account** (slow, global): a guesser rotating addresses is still capped per account; only
//!   a sustained distributed attack reaches it, and then for one window.
//!
//! Each attempt *reserves* its place with an atomic increment before the password is checked
//! (the increment returns the new count, so parallel guesses each see a distinct number and at
//! most the budget proceed); a correct password gives the reservation back.

use sha2::{Digest, Sha256};

use super::error::{AccountError, AccountResult};
use super::keys::{self, Key};
use crate::clock;
use crate::storage::{Condition, StoreError, Table, Update};

/// One budget: at most `max` attempts per `window_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub window_secs: i64,
    pub max: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ThrottlePolicy {
    /// Failed password checks for one account from one address.
    pub account_address: Budget,
    /// Failed password checks from one address, any account.
    pub address: Budget,
    /// Failed password checks for one account, any address.
    pub account: Budget,
    /// Registrations (successful or not) from one address.
    pub registrations: Budget,
    /// Password-reset requests from one address (past it: 429).
    pub reset_requests: Budget,
    /// Reset mails to one email (past it: silently none, so a mailbox cannot be flooded and
    /// the answer still does not tell whether the account exists).
    pub reset_mails: Budget,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            account_address: Budget {
                window_secs: 15 * 60,
                max: 10,
            },
            address: Budget {
                window_secs: 15 * 60,
                max: 50,
            },
            account: Budget {
                window_secs: 3600,
                max: 100,
            },
            registrations: Budget {
                window_secs: 3600,
                max: 20,
            },
            reset_requests: Budget {
                window_secs: 3600,
                max: 10,
            },
            reset_mails: Budget {
                window_secs: 3600,
                max: 3,
            },
        }
    }
}

const ACCOUNT_ADDRESS: &str = "account-address";
const ADDRESS: &str = "address";
const ACCOUNT: &str = "account";
const REGISTER: &str = "register";
const RESET_REQUEST: &str = "reset-request";
const RESET_MAIL: &str = "reset-mail";

fn subject_hash(subject: &str) -> String {
    hex::encode(&Sha256::digest(subject.as_bytes())[..16])
}

/// A reserved attempt: give it back with [`Attempt::succeeded`] when the password was right;
/// dropping it keeps it counted.
#[must_use = "a correct password must give the attempt back"]
pub struct Attempt {
    reserved: Vec<Key>,
}

impl Attempt {
    /// The password was right: the attempt does not count against anyone.
    pub async fn succeeded(self, table: &dyn Table) -> AccountResult<()> {
        release(table, &self.reserved).await
    }
}

async fn release(table: &dyn Table, reserved: &[Key]) -> AccountResult<()> {
    for k in reserved {
        match table
            .update(
                &k.pk,
                &k.sk,
                Update::new().add("attempts", -1),
                Condition::Exists,
            )
            .await
        {
            // The window's counter expired meanwhile: nothing to give back.
            Ok(_) | Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

impl ThrottlePolicy {
    /// Reserves one place in `budget` for `subject`; `Err(retry after)` when it is used up.
    async fn reserve(
        table: &dyn Table,
        scope: &str,
        subject: &str,
        budget: Budget,
    ) -> AccountResult<Result<Key, u64>> {
        let now = clock::unix_now();
        let start = now - now.rem_euclid(budget.window_secs);
        let end = start + budget.window_secs;
        let k = keys::throttle(scope, &subject_hash(subject), start);
        let item = table
            .update(
                &k.pk,
                &k.sk,
                // Kept a window past its end, so a counter never vanishes while it counts.
                Update::new()
                    .add("attempts", 1)
                    .set("expires_at", end + budget.window_secs),
                Condition::None,
            )
            .await?;
        let count = item.i64("attempts").unwrap_or(i64::MAX);
        if count > budget.max {
            tracing::warn!(scope, "attempt throttled");
            // This refused attempt checked nothing; it does not use up more of the budget.
            release(table, std::slice::from_ref(&k)).await?;
            return Ok(Err((end - now).max(1) as u64));
        }
        Ok(Ok(k))
    }

    /// Reserves a password check for `account` from `address` in all three budgets, or
    /// `Throttled` (with the seconds until the tightest exhausted window ends).
    pub async fn begin(
        &self,
        table: &dyn Table,
        account: &str,
        address: &str,
    ) -> AccountResult<Attempt> {
        let pair = format!("{account}\n{address}");
        let mut reserved = Vec::new();
        for (scope, subject, budget) in [
            (ACCOUNT_ADDRESS, pair.as_str(), self.account_address),
            (ADDRESS, address, self.address),
            (ACCOUNT, account, self.account),
        ] {
            match Self::reserve(table, scope, subject, budget).await? {
                Ok(k) => reserved.push(k),
                Err(retry_after_secs) => {
                    release(table, &reserved).await?;
                    return Err(AccountError::Throttled { retry_after_secs });
                }
            }
        }
        Ok(Attempt { reserved })
    }

    /// Counts a registration from `address`; `Throttled` past the budget.
    pub async fn register(&self, table: &dyn Table, address: &str) -> AccountResult<()> {
        match Self::reserve(table, REGISTER, address, self.registrations).await? {
            Ok(_) => Ok(()),
            Err(retry_after_secs) => Err(AccountError::Throttled { retry_after_secs }),
        }
    }
}

impl ThrottlePolicy {
    /// Counts a reset request from `address` (`Throttled` past its budget) and says whether a
    /// mail may go to `email` (false past that email's budget, without an error).
    pub async fn reset_request(
        &self,
        table: &dyn Table,
        email: &str,
        address: &str,
    ) -> AccountResult<bool> {
        if let Err(retry_after_secs) =
            Self::reserve(table, RESET_REQUEST, address, self.reset_requests).await?
        {
            return Err(AccountError::Throttled { retry_after_secs });
        }
        Ok(Self::reserve(table, RESET_MAIL, email, self.reset_mails)
            .await?
            .is_ok())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::embedded::EmbeddedTable;

    fn policy(pair: i64, address: i64, account: i64) -> ThrottlePolicy {
        let b = |max| Budget {
            window_secs: 900,
            max,
        };
        ThrottlePolicy {
            account_address: b(pair),
            address: b(address),
            account: b(account),
            registrations: b(2),
            reset_requests: b(10),
            reset_mails: b(3),
        }
    }

    fn table() -> (tempfile::TempDir, Arc<dyn Table>) {
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(&dir.path().join("items.redb")).unwrap();
        (dir, Arc::new(table))
    }

    /// Today's check-then-record let every parallel guess through the check before any failure
    /// was recorded; reservations are atomic, so exactly the budget gets through.
    #[tokio::test]
    async fn parallel_guesses_cannot_exceed_the_budget() {
        let (_dir, table) = table();
        let policy = Arc::new(policy(5, 1000, 1000));
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (table, policy) = (table.clone(), policy.clone());
                tokio::spawn(async move {
                    policy
                        .begin(table.as_ref(), "owner@example.com", "203.0.113.9")
                        .await
                        .is_ok()
                })
            })
            .collect();
        let mut admitted = 0;
        for t in tasks {
            // Dropped attempts stay counted, as failed guesses do.
            admitted += usize::from(t.await.unwrap());
        }
        assert_eq!(admitted, 5);
    }

    #[tokio::test]
    async fn a_guesser_at_one_address_does_not_lock_the_owner_out() {
        let (_dir, table) = table();
        let policy = policy(3, 50, 20);
        let t = table.as_ref();
        for _ in 0..3 {
            drop(
                policy
                    .begin(t, "owner@example.com", "198.51.100.66")
                    .await
                    .unwrap(),
            );
        }
        assert!(matches!(
            policy.begin(t, "owner@example.com", "198.51.100.66").await,
            Err(AccountError::Throttled { .. })
        ));
        // The owner, from home, signs in; a correct password gives the attempt back.
        let own = policy
            .begin(t, "owner@example.com", "192.0.2.10")
            .await
            .unwrap();
        own.succeeded(t).await.unwrap();
        for _ in 0..10 {
            let own = policy
                .begin(t, "owner@example.com", "192.0.2.10")
                .await
                .unwrap();
            own.succeeded(t).await.unwrap();
        }
    }

    #[tokio::test]
    async fn rotating_addresses_hits_the_slower_per_account_budget() {
        let (_dir, table) = table();
        let policy = policy(3, 50, 6);
        let t = table.as_ref();
        for i in 0..6 {
            let address = format!("10.0.0.{i}");
            drop(
                policy
                    .begin(t, "owner@example.com", &address)
                    .await
                    .unwrap(),
            );
        }
        assert!(matches!(
            policy.begin(t, "owner@example.com", "10.0.0.99").await,
            Err(AccountError::Throttled { .. })
        ));
        // Other accounts are untouched.
        drop(
            policy
                .begin(t, "other@example.com", "10.0.0.99")
                .await
                .unwrap(),
        );
    }

    #[tokio::test]
    async fn registrations_are_counted_per_address() {
        let (_dir, table) = table();
        let policy = policy(3, 50, 6);
        let t = table.as_ref();
        policy.register(t, "203.0.113.1").await.unwrap();
        policy.register(t, "203.0.113.1").await.unwrap();
        assert!(matches!(
            policy.register(t, "203.0.113.1").await,
            Err(AccountError::Throttled { .. })
        ));
        policy.register(t, "203.0.113.2").await.unwrap();
    }
}
