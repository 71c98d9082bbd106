//! The operator's limits on answers, enforced in the one place every answer passes
//! ([`AnswerGuard`]): requests per minute, concurrent answers, the user's own budgets, and the
//! operator's monthly quota, reserved before the provider is called and settled after —
//! whatever became of the answer (completed, stopped, failed, client gone). The counters live in
//! the table (`ragenie_common::accounts::limits`), so they hold across every instance.

use std::sync::Arc;

use async_trait::async_trait;
use ragenie_common::accounts::limits::{self, Refusal};
use ragenie_common::accounts::operator::{self, OperatorDefaults};
use ragenie_common::metrics;
use ragenie_common::storage::Table;

use crate::answer::{Admission, AnswerGuard, Bill, Hold, LedgerGuard};
use crate::error::{ConversationError, ConversationResult};
use crate::usage::UsageLedger;

/// The metrics' function label for refusals here (the chat function runs every answer).
const FUNCTION: &str = "chat";

pub struct OperatorGuard {
    table: Arc<dyn Table>,
    defaults: OperatorDefaults,
    ledger: LedgerGuard,
}

impl OperatorGuard {
    pub fn new(table: Arc<dyn Table>, defaults: OperatorDefaults) -> Self {
        Self {
            ledger: LedgerGuard(UsageLedger::new(table.clone())),
            table,
            defaults,
        }
    }

    async fn give_back(&self, hold: Hold) {
        if let Some(r) = &hold.reservation
            && let Err(e) = limits::settle(self.table.as_ref(), r, 0.0).await
        {
            tracing::error!(error = %e, "could not give back a quota reservation");
        }
        self.free_slot(hold).await;
    }

    async fn free_slot(&self, hold: Hold) {
        if let Some(slot) = &hold.slot
            && let Err(e) = limits::release_slot(self.table.as_ref(), slot).await
        {
            tracing::error!(error = %e, "could not free an answer slot (its lease will expire)");
        }
    }
}

fn refused(r: Refusal) -> ConversationError {
    match &r {
        Refusal::QuotaSpent { .. } => metrics::budget_refused(FUNCTION, "quota"),
        Refusal::RateLimited { .. } => metrics::throttled(FUNCTION, "requests_per_minute"),
        Refusal::TooManyAnswers { .. } => metrics::throttled(FUNCTION, "concurrent_answers"),
        Refusal::UnpricedModel { .. } => metrics::budget_refused(FUNCTION, "unpriced_model"),
    }
    ConversationError::Refused(r)
}

#[async_trait]
impl AnswerGuard for OperatorGuard {
    async fn admit(&self, a: &Admission<'_>) -> ConversationResult<Hold> {
        let table = self.table.as_ref();
        let settings = operator::settings(table, &self.defaults).await?;
        limits::count_request(table, a.user_id, settings.requests_per_minute)
            .await?
            .map_err(refused)?;
        let slot = limits::acquire_slot(table, a.user_id, settings.max_concurrent_answers)
            .await?
            .map_err(refused)?;
        let mut hold = Hold {
            reservation: None,
            slot: Some(slot),
        };
        // Whatever refuses from here gives the slot back.
        let rest: ConversationResult<()> = async {
            self.ledger.admit(a).await?;
            let quota = match operator::user_limits(table, a.user_id)
                .await?
                .monthly_quota_usd
            {
                Some(q) => Some(q),
                None => settings.default_monthly_quota_usd,
            };
            if let Some(limit) = quota {
                // An unknown price cannot be held against a quota: refuse rather than let the
                // answer through as if it were free.
                if !a.priced {
                    return Err(refused(Refusal::UnpricedModel {
                        model: a.model.to_owned(),
                    }));
                }
                let reservation = limits::reserve(table, a.user_id, limit, a.worst_case_usd)
                    .await?
                    .map_err(refused)?;
                hold.reservation = Some(reservation);
            }
            Ok(())
        }
        .await;
        match rest {
            Ok(()) => Ok(hold),
            Err(e) => {
                self.free_slot(hold).await;
                Err(e)
            }
        }
    }

    async fn settle(&self, bill: &Bill<'_>, hold: Hold) {
        let table = self.table.as_ref();
        if let Some(r) = &hold.reservation
            && let Err(e) = limits::settle(table, r, bill.cost.total_usd).await
        {
            tracing::error!(error = %e, model = bill.model, "could not settle a quota reservation");
        }
        let input = (bill.usage.input + bill.usage.cache_read + bill.usage.cache_write) as i64;
        if let Err(e) = limits::record_operator_usage(
            table,
            limits::UsageKind::Chat,
            bill.model,
            input,
            bill.usage.output as i64,
            bill.cost.total_usd,
            !bill.priced,
        )
        .await
        {
            tracing::error!(error = %e, model = bill.model, "could not record the deployment's usage");
        }
        self.ledger.settle(bill, Hold::default()).await;
        self.free_slot(hold).await;
    }

    async fn release(&self, hold: Hold) {
        self.give_back(hold).await;
    }
}
