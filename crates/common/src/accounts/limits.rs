//! Per-user limits that hold across every instance, kept in the table:
//!
//! * **the operator's monthly quota**: before an answer, its worst-case cost is *reserved* by
//!   one conditional atomic update (`committed += reservation` only while `committed` is below
//!   the limit), and the answer is settled to its real cost after (`committed += real −
//!   reserved`). Concurrent answers are serialised by the store: the last one admitted saw
//!   `committed < limit`, so spending can pass the limit by at most one reservation.
//! * **requests per minute**: one counter per user and minute, raised only while below the
//!   limit (a refused request does not count); it expires by TTL.
//! * **concurrent answers**: `max` leased slots per user; an answer takes a free one with a
//!   conditional put and gives it back when it ends. A lease expires by TTL, so an instance
//!   that died mid-answer frees its slot after [`SLOT_LEASE_SECS`].

use serde::{Deserialize, Serialize};

use super::error::AccountResult;
use super::ids::UserId;
use super::keys;
pub use super::usage::UsageKind;
use crate::clock;
use crate::storage::{Condition, Item, Query, StoreError, Table, Update};

/// How long an answer holds its slot at most (Lambda's longest run).
pub const SLOT_LEASE_SECS: i64 = 15 * 60;
/// What a refused answer is told to wait when all its slots are taken.
pub const SLOT_RETRY_SECS: u64 = 5;

/// Micro-dollars: integers add atomically and exactly.
pub fn micro(usd: f64) -> i64 {
    (usd * 1_000_000.0).round() as i64
}

fn usd(micro: i64) -> f64 {
    micro as f64 / 1_000_000.0
}

/// `YYYY-MM-DD` today (UTC, from the one clock).
pub fn today() -> String {
    let d = clock::now().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Seconds until the first day of next month (UTC), when a monthly quota renews.
fn secs_to_next_month() -> (u64, String) {
    let now = clock::now().datetime();
    let (y, m) = match now.month() {
        time::Month::December => (now.year() + 1, time::Month::January),
        m => (now.year(), m.next()),
    };
    let next = time::Date::from_calendar_date(y, m, 1)
        .expect("the first of a month exists")
        .midnight()
        .assume_utc();
    (
        (next - now).whole_seconds().max(1) as u64,
        format!("{y:04}-{:02}-01", u8::from(m)),
    )
}

/// Why an answer was refused, and when to try again.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// This month's operator quota is used up (committed includes answers still running).
    QuotaSpent {
        limit_usd: f64,
        committed_usd: f64,
        renews_on: String,
        retry_after_secs: u64,
    },
    /// Too many answers started this minute.
    RateLimited {
        per_minute: u32,
        retry_after_secs: u64,
    },
    /// Too many answers streaming at once.
    TooManyAnswers { max: u32, retry_after_secs: u64 },
    /// The model has no known price and the user has an operator quota: its cost could not be
    /// held against the quota, so it is refused until an admin sets its price.
    UnpricedModel { model: String },
}

impl Refusal {
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Refusal::QuotaSpent {
                retry_after_secs, ..
            }
            | Refusal::RateLimited {
                retry_after_secs, ..
            }
            | Refusal::TooManyAnswers {
                retry_after_secs, ..
            } => *retry_after_secs,
            Refusal::UnpricedModel { .. } => 0,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::QuotaSpent {
                limit_usd,
                committed_usd,
                renews_on,
                ..
            } => write!(
                f,
                "this month's quota of ${limit_usd:.2} set by your administrator is used up \
                 (${committed_usd:.2} spent or held by answers in progress); it renews on {renews_on}"
            ),
            Refusal::RateLimited {
                per_minute,
                retry_after_secs,
            } => write!(
                f,
                "at most {per_minute} answers a minute; retry in {retry_after_secs} seconds"
            ),
            Refusal::TooManyAnswers {
                max,
                retry_after_secs,
            } => write!(
                f,
                "at most {max} answers at once; wait for one to finish (retry in {retry_after_secs} seconds)"
            ),
            Refusal::UnpricedModel { model } => write!(
                f,
                "the model `{model}` has no known price and your account has a spending quota, so \
                 its cost cannot be counted; pick a priced model, or ask an administrator to set \
                 its price (Admin → Models)"
            ),
        }
    }
}

/// Money held against a user's monthly quota until the answer is settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub user: UserId,
    pub month: String,
    pub micro: i64,
}

/// Reserves `reserve_usd` (at least one micro-dollar) of `user`'s quota of `limit_usd` for
/// this month, if the month's committed spending is still below the limit.
pub async fn reserve(
    table: &dyn Table,
    user: UserId,
    limit_usd: f64,
    reserve_usd: f64,
) -> AccountResult<Result<Reservation, Refusal>> {
    let month = today()[..7].to_owned();
    let k = keys::quota_month(user, &month);
    let amount = micro(reserve_usd).max(1);
    let limit = micro(limit_usd);
    match table
        .update(
            &k.pk,
            &k.sk,
            Update::new().add("committed_micro", amount),
            Condition::AttrAtMost("committed_micro".into(), limit - 1),
        )
        .await
    {
        Ok(_) => Ok(Ok(Reservation {
            user,
            month,
            micro: amount,
        })),
        Err(StoreError::ConditionFailed) => {
            let committed = table
                .get(&k.pk, &k.sk)
                .await?
                .and_then(|i| i.i64("committed_micro"))
                .unwrap_or(0);
            let (retry_after_secs, renews_on) = secs_to_next_month();
            Ok(Err(Refusal::QuotaSpent {
                limit_usd,
                committed_usd: usd(committed),
                renews_on,
                retry_after_secs,
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// Replaces a reservation by what the answer really cost (zero for an answer that never ran).
pub async fn settle(
    table: &dyn Table,
    reservation: &Reservation,
    cost_usd: f64,
) -> AccountResult<()> {
    let k = keys::quota_month(reservation.user, &reservation.month);
    let cost = micro(cost_usd);
    let mut update = Update::new().add("committed_micro", cost - reservation.micro);
    if cost != 0 {
        update = update.add("spent_micro", cost);
    }
    table.update(&k.pk, &k.sk, update, Condition::None).await?;
    Ok(())
}

/// A user's quota standing this month.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonthSpend {
    /// Settled spending this month, USD.
    pub spent_usd: f64,
    /// Spending plus what answers in progress hold, USD.
    pub committed_usd: f64,
}

pub async fn month_spend(table: &dyn Table, user: UserId) -> AccountResult<MonthSpend> {
    let k = keys::quota_month(user, &today()[..7]);
    let item = table.get(&k.pk, &k.sk).await?;
    let get = |name| item.as_ref().and_then(|i| i.i64(name)).unwrap_or(0);
    Ok(MonthSpend {
        spent_usd: usd(get("spent_micro")),
        committed_usd: usd(get("committed_micro")),
    })
}

/// Counts one request in this minute's window, unless `per_minute` were already counted.
pub async fn count_request(
    table: &dyn Table,
    user: UserId,
    per_minute: u32,
) -> AccountResult<Result<(), Refusal>> {
    let now = clock::unix_now();
    let start = now - now.rem_euclid(60);
    let k = keys::rate_window(user, start);
    match table
        .update(
            &k.pk,
            &k.sk,
            // Kept a window past its end, so a counter never vanishes while it counts.
            Update::new()
                .add("requests", 1)
                .set("expires_at", start + 120),
            Condition::AttrAtMost("requests".into(), i64::from(per_minute) - 1),
        )
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(StoreError::ConditionFailed) => Ok(Err(Refusal::RateLimited {
            per_minute,
            retry_after_secs: (start + 60 - now).max(1) as u64,
        })),
        Err(e) => Err(e.into()),
    }
}

/// A concurrent-answer slot held by one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub user: UserId,
    pub n: u32,
    pub lease: String,
}

/// Takes a free slot of the `max` a user has, or refuses.
pub async fn acquire_slot(
    table: &dyn Table,
    user: UserId,
    max: u32,
) -> AccountResult<Result<Slot, Refusal>> {
    let lease = ulid::Ulid::new().to_string();
    let expires = clock::unix_now() + SLOT_LEASE_SECS;
    for n in 0..max {
        let k = keys::answer_slot(user, n);
        let item = Item::new(k.pk, k.sk)
            .with("lease", lease.clone())
            .expires_at(expires);
        match table.put(item, Condition::NotExists).await {
            Ok(()) => return Ok(Ok(Slot { user, n, lease })),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Err(Refusal::TooManyAnswers {
        max,
        retry_after_secs: SLOT_RETRY_SECS,
    }))
}

/// Gives a slot back (only if this answer still holds it: an expired lease may have passed on).
pub async fn release_slot(table: &dyn Table, slot: &Slot) -> AccountResult<()> {
    let k = keys::answer_slot(slot.user, slot.n);
    match table
        .delete(
            &k.pk,
            &k.sk,
            Condition::AttrEquals("lease".into(), slot.lease.clone().into()),
        )
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Adds one call of `kind` (an answer, or an embedding call) to the deployment's totals by day
/// and model (the admin console's chart).
pub async fn record_operator_usage(
    table: &dyn Table,
    kind: UsageKind,
    model: &str,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: f64,
    cost_unknown: bool,
) -> AccountResult<()> {
    let day = today();
    let k = keys::operator_usage_day(&day, model);
    let mut update = Update::new()
        .set("day", day.clone())
        .set("model", model)
        .add("answers", 1)
        .add("unpriced_answers", i64::from(cost_unknown))
        .add("input_tokens", input_tokens)
        .add("output_tokens", output_tokens)
        .add("cost_micro_usd", micro(cost_usd));
    if kind != UsageKind::Chat {
        update = update.set("kind", kind.as_str());
    }
    table.update(&k.pk, &k.sk, update, Condition::None).await?;
    Ok(())
}

/// The deployment's totals for one day and model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OperatorUsageRow {
    pub day: String,
    pub model: String,
    /// `chat` (answers) or `embedding` (calls of the embedding model, at ingestion and search).
    pub kind: UsageKind,
    /// Answers (chat) or embedding calls (embedding).
    pub answers: i64,
    /// Of those, calls of models without a known price (their cost is not in `cost_usd`).
    pub unpriced_answers: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
}

/// The deployment's totals by day and model between two days (`YYYY-MM-DD`, inclusive).
pub async fn operator_usage(
    table: &dyn Table,
    from: &str,
    to: &str,
) -> AccountResult<Vec<OperatorUsageRow>> {
    let (pk, lo) = {
        let k = keys::operator_usage_day(from, "");
        (k.pk, k.sk)
    };
    let hi = format!("{}\u{10FFFF}", keys::operator_usage_day(to, "").sk);
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(pk.clone())
                    .sort(crate::storage::SortKey::Between(lo.clone(), hi.clone()))
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for i in &page.items {
            rows.push(OperatorUsageRow {
                day: i.str("day").unwrap_or_default().to_owned(),
                model: i.str("model").unwrap_or_default().to_owned(),
                kind: UsageKind::of(i),
                answers: i.i64("answers").unwrap_or(0),
                unpriced_answers: i.i64("unpriced_answers").unwrap_or(0),
                input_tokens: i.i64("input_tokens").unwrap_or(0),
                output_tokens: i.i64("output_tokens").unwrap_or(0),
                cost_usd: usd(i.i64("cost_micro_usd").unwrap_or(0)),
            });
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(rows)
}
