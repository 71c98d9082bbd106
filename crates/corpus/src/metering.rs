//! Provider embedding calls billed to the user they are made for. The corpus embeds through
//! one method ([`Corpus::embed_for`](crate::Corpus)) that asks the [`EmbeddingMeter`] port
//! before the provider is called and tells it what was used after:
//!
//! * **before**: the texts' tokens, counted with the model's tokenizer, priced at the model's
//!   input price, are *reserved* against the operator's monthly quota with the same conditional
//!   atomic update answers use (`ragenie_common::accounts::limits::reserve`). A spent quota
//!   refuses: an upload then ends `failed` with the reason (retry it next month or after the
//!   quota is raised), a search ranks by BM25 alone. A model with no known price is refused
//!   when the user has a quota, as for answers; without one it runs and is flagged unpriced.
//! * **after**: the reservation is settled to the real cost, and the call is added to the
//!   user's month (which their own budget checks, so a user at their budget is refused
//!   answers), their usage rows by day and model (kind `embedding`) and the deployment's
//!   totals. Tokens are the provider's reported count, else the tokenizer's (flagged
//!   estimated).
//!
//! The built-in model (`local:<name>`) costs nothing and has no meter: its calls are not in
//! the usage rows.

use std::sync::Arc;

use async_trait::async_trait;
use ragenie_common::accounts::AccountError;
use ragenie_common::accounts::UserId;
use ragenie_common::accounts::limits::{self, Refusal, Reservation};
use ragenie_common::accounts::model_settings::ModelSettingsCache;
use ragenie_common::accounts::operator::{self, OperatorDefaults};
use ragenie_common::accounts::usage::{EmbeddingBill, record_embedding};
use ragenie_common::storage::Table;
use ragenie_gateway::ModelSpec;

use crate::{CorpusError, CorpusResult};

/// What embedding calls for one user used (one document version's chunks, or one question).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// 1 once a provider request answered: usage rows count one call per document version
    /// embedded or question asked, however many requests its texts took.
    pub calls: u32,
    pub tokens: u64,
    /// Some tokens were counted with the tokenizer: the provider reported none for them.
    pub estimated: bool,
}

/// What the meter holds for a user between admitting and settling their calls.
#[derive(Debug)]
pub struct MeterHold {
    pub(crate) user: UserId,
    pub(crate) reservation: Option<Reservation>,
    /// USD per million tokens; `None`: the price is unknown.
    pub(crate) price: Option<f64>,
}

/// Bills embedding calls to the user they are made for.
#[async_trait]
pub trait EmbeddingMeter: Send + Sync {
    /// Tokens of `texts` as the model's tokenizer counts them.
    fn count_tokens(&self, texts: &[String]) -> u64;
    /// Before calls for `user` expected to use `estimated_tokens`: holds their cost against
    /// the user's quota, or says why they may not run.
    async fn admit(
        &self,
        user: UserId,
        estimated_tokens: u64,
    ) -> CorpusResult<Result<MeterHold, Refusal>>;
    /// After the calls (also when they failed or timed out part-way): bills what they used and
    /// settles the hold. Never fails: an error is logged.
    async fn settle(&self, hold: MeterHold, used: &Tally);
}

/// The meter on the table: the operator's quota, the user's usage totals and the deployment's.
pub struct TableMeter {
    table: Arc<dyn Table>,
    defaults: OperatorDefaults,
    /// Prices an admin set (Admin → Models) win over the catalog's.
    model_settings: ModelSettingsCache,
    /// The model's id as configured: the usage rows' model.
    model: String,
    spec: ModelSpec,
}

impl TableMeter {
    pub fn new(table: Arc<dyn Table>, defaults: OperatorDefaults, spec: ModelSpec) -> Self {
        Self {
            model_settings: ModelSettingsCache::new(table.clone()),
            model: spec.id.clone(),
            table,
            defaults,
            spec,
        }
    }

    /// USD per million input tokens: the admin's price, else the catalog's, else unknown.
    async fn price(&self) -> CorpusResult<Option<f64>> {
        let settings = self.model_settings.get().await.map_err(account_error)?;
        let admin = settings
            .rule(&self.model)
            .and_then(|rule| rule.prices())
            .map(|(input, _)| input);
        Ok(admin.or(self.spec.pricing.map(|p| p.input)))
    }
}

fn account_error(e: AccountError) -> CorpusError {
    match e {
        AccountError::Store(e) => CorpusError::Store(e),
        other => CorpusError::Unexpected(anyhow::anyhow!(other)),
    }
}

fn cost(tokens: u64, price: Option<f64>) -> f64 {
    price.map_or(0.0, |p| tokens as f64 * p / 1_000_000.0)
}

#[async_trait]
impl EmbeddingMeter for TableMeter {
    fn count_tokens(&self, texts: &[String]) -> u64 {
        texts
            .iter()
            .map(|t| self.spec.tokenizer.count(t) as u64)
            .sum()
    }

    async fn admit(
        &self,
        user: UserId,
        estimated_tokens: u64,
    ) -> CorpusResult<Result<MeterHold, Refusal>> {
        let price = self.price().await?;
        let table = self.table.as_ref();
        let quota = operator::quota_usd(table, &self.defaults, user)
            .await
            .map_err(account_error)?;
        let mut hold = MeterHold {
            user,
            reservation: None,
            price,
        };
        if let Some(limit) = quota {
            if price.is_none() {
                ragenie_common::metrics::budget_refused("embedding", "unpriced_model");
                return Ok(Err(Refusal::UnpricedModel {
                    model: self.model.clone(),
                }));
            }
            match limits::reserve(table, user, limit, cost(estimated_tokens, price))
                .await
                .map_err(account_error)?
            {
                Ok(reservation) => hold.reservation = Some(reservation),
                Err(refusal) => {
                    ragenie_common::metrics::budget_refused("embedding", "quota");
                    return Ok(Err(refusal));
                }
            }
        }
        Ok(Ok(hold))
    }

    async fn settle(&self, hold: MeterHold, used: &Tally) {
        let table = self.table.as_ref();
        let cost_usd = cost(used.tokens, hold.price);
        if let Some(r) = &hold.reservation
            && let Err(e) = limits::settle(table, r, cost_usd).await
        {
            tracing::error!(error = %e, model = %self.model, "could not settle an embedding reservation");
        }
        if used.calls == 0 {
            return;
        }
        let bill = EmbeddingBill {
            user: hold.user,
            model: &self.model,
            tokens: used.tokens,
            cost_usd,
            estimated: used.estimated,
            unpriced: hold.price.is_none(),
        };
        if let Err(e) = record_embedding(table, &bill).await {
            tracing::error!(error = %e, model = %self.model, "could not record embedding usage");
        }
    }
}

/// Why texts were not embedded.
#[derive(Debug)]
pub(crate) enum EmbedFailure {
    /// The meter refused: the user's quota is spent, or the model has no price to hold.
    Refused(Refusal),
    /// The provider failed or was too slow, or the meter could not be read.
    Failed(String),
}

impl crate::Corpus {
    /// Embeds `texts` for `user` in requests of at most `batch` texts, waiting at most
    /// `timeout`: the one place the corpus calls the embedder, so every provider call is
    /// admitted and billed by the meter (what completed is billed even when a later request
    /// fails or the wait runs out).
    pub(crate) async fn embed_for(
        &self,
        user: UserId,
        texts: &[String],
        batch: usize,
        timeout: std::time::Duration,
    ) -> Result<Vec<Vec<f32>>, EmbedFailure> {
        let Some(embeddings) = self.embeddings.as_ref() else {
            return Err(EmbedFailure::Failed(
                "no embedding model is configured".into(),
            ));
        };
        let meter = embeddings.meter.as_deref();
        let hold = match meter {
            Some(meter) => match meter.admit(user, meter.count_tokens(texts)).await {
                Ok(Ok(hold)) => Some(hold),
                Ok(Err(refusal)) => return Err(EmbedFailure::Refused(refusal)),
                Err(e) => return Err(EmbedFailure::Failed(e.to_string())),
            },
            None => None,
        };
        let mut used = Tally::default();
        let calls = async {
            let mut vectors = Vec::with_capacity(texts.len());
            for part in texts.chunks(batch.max(1)) {
                let answer = embeddings.embedder.embed_billed(part).await?;
                used.calls = 1;
                match (answer.billed_tokens, meter) {
                    (Some(tokens), _) => used.tokens += tokens,
                    (None, Some(meter)) => {
                        used.tokens += meter.count_tokens(part);
                        used.estimated = true;
                    }
                    (None, None) => {}
                }
                vectors.extend(answer.vectors);
            }
            Ok::<_, ragenie_retrieval::DenseError>(vectors)
        };
        let result = tokio::time::timeout(timeout, calls).await;
        if let (Some(meter), Some(hold)) = (meter, hold) {
            meter.settle(hold, &used).await;
        }
        match result {
            Ok(Ok(vectors)) => Ok(vectors),
            Ok(Err(e)) => Err(EmbedFailure::Failed(e.to_string())),
            Err(_) => Err(EmbedFailure::Failed(format!(
                "no answer within {timeout:?}"
            ))),
        }
    }
}

/// A document's failure reason when the meter refused its embeddings.
pub(crate) fn refused_reason(refusal: &Refusal) -> String {
    match refusal {
        Refusal::QuotaSpent { .. } => format!(
            "monthly spend limit reached: {refusal}. Retry the document once the quota renews \
             or an administrator raises it"
        ),
        other => format!("not embedded: {other}. Retry the document once it is allowed"),
    }
}
