//! Usage totals (per user per month, per profile per month, per day and model), updated with
//! atomic increments, and the optional monthly budgets that refuse new messages once spent.

use ragenie_common::accounts::UserId;
/// Costs are kept in micro-dollars (integers add atomically and exactly); days are UTC.
pub use ragenie_common::accounts::limits::{micro, today};
pub use ragenie_common::accounts::usage::UsageKind;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{ConversationError, ConversationResult};
use ragenie_common::storage::{Condition, Item, Query, SortKey, StoreError, Table, TxOp, Update};

/// How long the record that an answer was billed is kept (retries come within seconds).
const BILLED_TTL_SECS: i64 = 2 * 24 * 3600;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::keys;
use crate::model::{MessageCost, TokenUsage};

fn month_of(day: &str) -> &str {
    &day[..7]
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Budgets {
    /// Monthly spending limit for the whole account, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub monthly_usd: Option<f64>,
    /// Monthly limits per profile id (one of the caller's profiles), in USD: 0 to 1,000,000, at
    /// most 200 profiles.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct UsageRow {
    /// `YYYY-MM-DD` (empty in the per-model totals).
    pub day: String,
    pub model: String,
    /// `chat`: answers of a chat model; `embedding`: calls of the embedding model (a
    /// document's chunks at ingestion, a search's question), billed like answers.
    pub kind: UsageKind,
    /// Answers (chat rows) or embedding calls (embedding rows).
    pub messages: i64,
    /// Of those, answers or calls billed from the tokenizer's count because the provider reported no
    /// usage (a client that left, a stop, a cut connection).
    pub estimated_messages: i64,
    /// Of those, answers of a model with no known price: their cost is counted as 0 but was
    /// not free.
    pub unpriced_messages: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct UsageReport {
    pub from: String,
    pub to: String,
    pub days: Vec<UsageRow>,
    /// Totals per model over the range.
    pub models: Vec<UsageRow>,
    pub total_cost_usd: f64,
    pub total_input_tokens: i64,
    pub total_output_tokens: i64,
    /// This month's spending and the budgets, for the usage page.
    pub month_cost_usd: f64,
    pub budgets: Budgets,
}

#[derive(Clone)]
pub struct UsageLedger {
    table: Arc<dyn Table>,
}

impl UsageLedger {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// Adds one answer's usage to every total it belongs to, in one transaction with a record
    /// that the answer was billed (kept two days): all totals move or none, and a retry after
    /// an answer lost in a timeout cannot count the answer twice.
    pub async fn record(
        &self,
        answer_id: &str,
        user_id: UserId,
        profile_id: Option<&str>,
        model: &str,
        usage: &TokenUsage,
        cost: &MessageCost,
    ) -> ConversationResult<()> {
        let day = today();
        let input = (usage.input + usage.cache_read + usage.cache_write) as i64;
        let add = || {
            Update::new()
                .add("messages", 1)
                .add("estimated_messages", i64::from(cost.estimated))
                .add("unpriced_messages", i64::from(cost.unpriced))
                .add("input_tokens", input)
                .add("output_tokens", usage.output as i64)
                .add("cost_micro_usd", micro(cost.total_usd))
        };
        let pk = keys::user_pk(user_id);
        let total = |sk: String, update: Update| TxOp::Update {
            pk: pk.clone(),
            sk,
            update,
            condition: Condition::None,
        };
        let mut ops = vec![
            TxOp::Put {
                item: Item::new(pk.clone(), keys::billed_sk(answer_id))
                    .with("day", day.clone())
                    .expires_at(ragenie_common::clock::unix_now() + BILLED_TTL_SECS),
                condition: Condition::NotExists,
            },
            total(keys::usage_month_sk(month_of(&day)), add()),
            total(
                keys::usage_day_sk(&day, model),
                add().set("day", day.clone()).set("model", model),
            ),
        ];
        if let Some(profile) = profile_id {
            ops.push(total(
                keys::usage_profile_month_sk(profile, month_of(&day)),
                add(),
            ));
        }
        match ragenie_common::storage::retry_transient(|| self.table.transact(ops.clone())).await {
            // Recorded already (by an attempt whose answer was lost).
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn budgets(&self, user_id: UserId) -> ConversationResult<Budgets> {
        match self
            .table
            .get(&keys::user_pk(user_id), keys::BUDGET_SK)
            .await?
        {
            Some(item) => Ok(item.decode()?),
            None => Ok(Budgets::default()),
        }
    }

    pub async fn set_budgets(&self, user_id: UserId, budgets: &Budgets) -> ConversationResult<()> {
        let valid = |v: f64| v.is_finite() && (0.0..=1_000_000.0).contains(&v);
        if budgets.monthly_usd.is_some_and(|v| !valid(v)) {
            return Err(ConversationError::invalid("monthly_usd", "0 to 1,000,000"));
        }
        if let Some((id, _)) = budgets.profiles.iter().find(|(_, v)| !valid(**v)) {
            return Err(ConversationError::invalid(
                format!("profiles.{id}"),
                "0 to 1,000,000",
            ));
        }
        if budgets.profiles.len() > 200 {
            return Err(ConversationError::invalid(
                "profiles",
                "at most 200 profile budgets",
            ));
        }
        self.table
            .put(
                Item::encode(keys::user_pk(user_id), keys::BUDGET_SK, budgets)?,
                Condition::None,
            )
            .await?;
        Ok(())
    }

    async fn month_cost(&self, user_id: UserId, sk: &str) -> ConversationResult<f64> {
        let item = self.table.get(&keys::user_pk(user_id), sk).await?;
        Ok(item.and_then(|i| i.i64("cost_micro_usd")).unwrap_or(0) as f64 / 1_000_000.0)
    }

    /// Refuses a new message once this month's budget (account or profile) is spent.
    pub async fn check_budget(
        &self,
        user_id: UserId,
        profile_id: Option<&str>,
    ) -> ConversationResult<()> {
        let budgets = self.budgets(user_id).await?;
        let day = today();
        let month = month_of(&day);
        if let Some(limit) = budgets.monthly_usd {
            let spent = self
                .month_cost(user_id, &keys::usage_month_sk(month))
                .await?;
            if spent >= limit {
                ragenie_common::metrics::budget_refused("chat", "account");
                return Err(ConversationError::BudgetSpent(format!(
                    "this month's budget of ${limit:.2} is spent (${spent:.2}); raise it in Usage to keep chatting"
                )));
            }
        }
        if let Some(profile) = profile_id
            && let Some(limit) = budgets.profiles.get(profile)
        {
            let spent = self
                .month_cost(user_id, &keys::usage_profile_month_sk(profile, month))
                .await?;
            if spent >= *limit {
                ragenie_common::metrics::budget_refused("chat", "profile");
                return Err(ConversationError::BudgetSpent(format!(
                    "this profile's monthly budget of ${limit:.2} is spent (${spent:.2})"
                )));
            }
        }
        Ok(())
    }

    /// Usage by day and by model between two days (inclusive, `YYYY-MM-DD`).
    pub async fn report(
        &self,
        user_id: UserId,
        from: &str,
        to: &str,
    ) -> ConversationResult<UsageReport> {
        let valid = |d: &str| {
            time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
        };
        if !valid(from) {
            return Err(ConversationError::invalid("from", "a date as YYYY-MM-DD"));
        }
        if !valid(to) || to < from {
            return Err(ConversationError::invalid(
                "to",
                "a date as YYYY-MM-DD, not before `from`",
            ));
        }
        let mut days = Vec::new();
        let mut cursor = None;
        loop {
            let query = Query::partition(keys::user_pk(user_id))
                .sort(SortKey::Between(
                    format!("{}{from}", keys::USAGE_DAY_PREFIX),
                    format!("{}{to}#\u{10FFFF}", keys::USAGE_DAY_PREFIX),
                ))
                .limit(1000)
                .after(cursor);
            let page = self.table.query(query).await?;
            for item in &page.items {
                days.push(UsageRow {
                    day: item.str("day").unwrap_or_default().to_owned(),
                    model: item.str("model").unwrap_or_default().to_owned(),
                    kind: UsageKind::of(item),
                    messages: item.i64("messages").unwrap_or(0),
                    estimated_messages: item.i64("estimated_messages").unwrap_or(0),
                    unpriced_messages: item.i64("unpriced_messages").unwrap_or(0),
                    input_tokens: item.i64("input_tokens").unwrap_or(0),
                    output_tokens: item.i64("output_tokens").unwrap_or(0),
                    cost_usd: item.i64("cost_micro_usd").unwrap_or(0) as f64 / 1_000_000.0,
                });
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut models: BTreeMap<String, UsageRow> = BTreeMap::new();
        for row in &days {
            let total = models.entry(row.model.clone()).or_insert_with(|| UsageRow {
                model: row.model.clone(),
                kind: row.kind,
                ..UsageRow::default()
            });
            total.messages += row.messages;
            total.estimated_messages += row.estimated_messages;
            total.unpriced_messages += row.unpriced_messages;
            total.input_tokens += row.input_tokens;
            total.output_tokens += row.output_tokens;
            total.cost_usd += row.cost_usd;
        }
        let day = today();
        Ok(UsageReport {
            from: from.into(),
            to: to.into(),
            total_cost_usd: days.iter().map(|d| d.cost_usd).sum(),
            total_input_tokens: days.iter().map(|d| d.input_tokens).sum(),
            total_output_tokens: days.iter().map(|d| d.output_tokens).sum(),
            days,
            models: models.into_values().collect(),
            month_cost_usd: self
                .month_cost(user_id, &keys::usage_month_sk(month_of(&day)))
                .await?,
            budgets: self.budgets(user_id).await?,
        })
    }
}
