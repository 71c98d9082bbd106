//! Usage that does not come from an answer: provider embedding calls made for a user (at
//! ingestion and for a search's question), added to the same totals the chat pipeline keeps —
//! the user's month (what their own budget checks), their day-and-model rows (GET /usage) and
//! the deployment's day-and-model totals (GET /admin/usage) — with atomic increments, so
//! concurrent calls on any instance add up exactly.

use serde::{Deserialize, Serialize};

use super::error::AccountResult;
use super::ids::UserId;
use super::keys;
use super::limits::{micro, record_operator_usage, today};
use crate::storage::{Condition, Item, Table, Update};

/// What a usage row counts.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum UsageKind {
    /// Answers of a chat model.
    #[default]
    Chat,
    /// Calls of an embedding model (a document's chunks, a search's question).
    Embedding,
}

impl UsageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageKind::Chat => "chat",
            UsageKind::Embedding => "embedding",
        }
    }

    /// The kind a usage item records (items written before kinds existed are chat).
    pub fn of(item: &Item) -> Self {
        match item.str("kind") {
            Some("embedding") => UsageKind::Embedding,
            _ => UsageKind::Chat,
        }
    }
}

/// One provider embedding call, as billed.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingBill<'a> {
    pub user: UserId,
    /// The embedding model's id (as configured; the usage rows' model).
    pub model: &'a str,
    pub tokens: u64,
    pub cost_usd: f64,
    /// The tokens were counted with the model's tokenizer: the provider reported none.
    pub estimated: bool,
    /// The model has no known price: `cost_usd` is 0 but the call was not free.
    pub unpriced: bool,
}

/// Adds one embedding call to the user's month and day-and-model totals and to the
/// deployment's totals. (The operator's quota is settled separately, by whoever reserved.)
pub async fn record_embedding(table: &dyn Table, bill: &EmbeddingBill<'_>) -> AccountResult<()> {
    let day = today();
    let pk = bill.user.partition();
    let tokens = i64::try_from(bill.tokens).unwrap_or(i64::MAX);
    let cost = micro(bill.cost_usd);
    // The month's totals are what the user's budget checks: cost and tokens, not messages.
    table
        .update(
            &pk,
            &keys::usage_month_sk(&day[..7]),
            Update::new()
                .add("input_tokens", tokens)
                .add("cost_micro_usd", cost),
            Condition::None,
        )
        .await?;
    table
        .update(
            &pk,
            &keys::usage_day_sk(&day, bill.model),
            Update::new()
                .set("day", day.clone())
                .set("model", bill.model)
                .set("kind", UsageKind::Embedding.as_str())
                .add("messages", 1)
                .add("estimated_messages", i64::from(bill.estimated))
                .add("unpriced_messages", i64::from(bill.unpriced))
                .add("input_tokens", tokens)
                .add("output_tokens", 0)
                .add("cost_micro_usd", cost),
            Condition::None,
        )
        .await?;
    record_operator_usage(
        table,
        UsageKind::Embedding,
        bill.model,
        tokens,
        0,
        bill.cost_usd,
        bill.unpriced,
    )
    .await
}
