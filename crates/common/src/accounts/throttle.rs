//! Login throttling, kept in the table so it holds across Lambda instances: failed attempts are
//! counted per account and per client address in fixed windows whose counters expire by TTL.
//! Counters are keyed by a hash of the subject, so the table holds no list of addresses or of
//! emails that were tried.

use sha2::{Digest, Sha256};

use super::error::{AccountError, AccountResult};
use super::keys;
use crate::clock;
use crate::storage::{Condition, Table, Update};

#[derive(Clone, Debug, PartialEq)]
pub struct ThrottlePolicy {
    pub window_secs: i64,
    /// Failed logins for one account in a window before it is refused until the window ends.
    pub max_account_failures: i64,
    /// Failed logins from one client address in a window.
    pub max_address_failures: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window_secs: 15 * 60,
            max_account_failures: 10,
            max_address_failures: 50,
        }
    }
}

const ACCOUNT: &str = "account";
const ADDRESS: &str = "address";

fn subject_hash(subject: &str) -> String {
    hex::encode(&Sha256::digest(subject.as_bytes())[..16])
}

impl ThrottlePolicy {
    fn window(&self, now: i64) -> (i64, i64) {
        let start = now - now.rem_euclid(self.window_secs);
        (start, start + self.window_secs)
    }

    /// `Throttled` (with the seconds until the window ends) when the account or the address has
    /// used up its failures.
    pub async fn check(
        &self,
        table: &dyn Table,
        account: &str,
        address: &str,
    ) -> AccountResult<()> {
        let now = clock::unix_now();
        let (start, end) = self.window(now);
        for (scope, subject, max) in [
            (ACCOUNT, account, self.max_account_failures),
            (ADDRESS, address, self.max_address_failures),
        ] {
            let k = keys::throttle(scope, &subject_hash(subject), start);
            let failures = table
                .get(&k.pk, &k.sk)
                .await?
                .and_then(|i| i.i64("failures"))
                .unwrap_or(0);
            if failures >= max {
                tracing::warn!(scope, "login throttled");
                return Err(AccountError::Throttled {
                    retry_after_secs: (end - now).max(1) as u64,
                });
            }
        }
        Ok(())
    }

    /// Counts a failed attempt against both the account and the address.
    pub async fn record_failure(
        &self,
        table: &dyn Table,
        account: &str,
        address: &str,
    ) -> AccountResult<()> {
        let (start, end) = self.window(clock::unix_now());
        for (scope, subject) in [(ACCOUNT, account), (ADDRESS, address)] {
            let k = keys::throttle(scope, &subject_hash(subject), start);
            table
                .update(
                    &k.pk,
                    &k.sk,
                    // Kept a window past its end, so a counter never vanishes while it counts.
                    Update::new()
                        .add("failures", 1)
                        .set("expires_at", end + self.window_secs),
                    Condition::None,
                )
                .await?;
        }
        Ok(())
    }
}
