//! What can go wrong in the conversation domain, with the variants a caller handles
//! differently, and the one mapping to HTTP problems at the edge.

use ragenie_common::ApiError;
use ragenie_common::accounts::AccountError;
use ragenie_common::accounts::limits::Refusal;
use ragenie_common::idempotency::IdempotencyError;
use ragenie_common::storage::StoreError;
use ragenie_corpus::CorpusError;
use ragenie_gateway::GatewayError;

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    /// The user has no such conversation or message (or it belongs to someone else).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A profile named in the request does not exist for this user; `field` is where it was
    /// named (`profile_id`, `profiles.<id>`…). Only for a profile that is really absent: a store
    /// failure while looking it up is `Store`.
    #[error("{field}: no such profile")]
    NoSuchProfile { field: String },
    /// A field of the request is not acceptable; `field` names it as the client sent it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    /// A monthly budget is spent: new answers are refused.
    #[error("{0}")]
    BudgetSpent(String),
    /// An operator limit refused the answer: the quota (402), requests per minute or
    /// concurrent answers (429 with `Retry-After`).
    #[error("{0}")]
    Refused(ragenie_common::accounts::limits::Refusal),
    /// The model is disabled by an admin or not on the user's allow-list (403).
    #[error("{0}")]
    ModelRefused(String),
    /// The model provider refused before the answer started.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An `Idempotency-Key` reused with another request, or while its request still runs.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type ConversationResult<T> = Result<T, ConversationError>;

impl ConversationError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<AccountError> for ConversationError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Store(s) => Self::Store(s),
            AccountError::Unexpected(e) => Self::Unexpected(e),
            // The accounts domain's other failures (a missing profile is handled where a profile
            // is looked up) never reach a conversation; keep their words if one does.
            other => Self::Unexpected(anyhow::anyhow!(other.to_string())),
        }
    }
}

impl From<ConversationError> for ApiError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::NotFound(what) => ApiError::not_found(what),
            ConversationError::NoSuchProfile { field } => {
                ApiError::validation(field, "no such profile")
            }
            ConversationError::Invalid { field, message } => ApiError::validation(field, message),
            ConversationError::Conflict(m) => ApiError::Conflict(m),
            ConversationError::BudgetSpent(m) => ApiError::PaymentRequired(m),
            ConversationError::Refused(r) => match r {
                Refusal::QuotaSpent { .. } => ApiError::PaymentRequired(r.to_string()),
                Refusal::UnpricedModel { .. } => ApiError::Forbidden(r.to_string()),
                _ => ApiError::TooManyRequests {
                    detail: r.to_string(),
                    retry_after_secs: r.retry_after_secs(),
                },
            },
            ConversationError::ModelRefused(m) => ApiError::Forbidden(m),
            ConversationError::Gateway(e) => gateway_problem(e),
            ConversationError::Corpus(e) => e.into(),
            ConversationError::Store(e) => e.into(),
            ConversationError::Idempotency(e) => e.into(),
            ConversationError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

/// Gateway failures before an answer starts, as HTTP problems.
fn gateway_problem(e: GatewayError) -> ApiError {
    match e {
        GatewayError::UnknownModel(m) => {
            ApiError::validation("model", format!("unknown model `{m}`; see GET /models"))
        }
        GatewayError::MissingKey { provider } => ApiError::validation(
            "model",
            format!("no API key is configured for {provider}; pick another model"),
        ),
        GatewayError::InvalidRequest(m) => ApiError::BadRequest(m),
        other => {
            tracing::warn!(error = %other, "model provider failed before the answer");
            ApiError::BadGateway(other.user_message())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_own_status_and_a_store_failure_is_never_a_404_or_422() {
        let status = |e: ConversationError| ApiError::from(e).status().as_u16();
        assert_eq!(status(ConversationError::NotFound("conversation")), 404);
        assert_eq!(
            status(ConversationError::NoSuchProfile {
                field: "profile_id".into()
            }),
            422
        );
        assert_eq!(status(ConversationError::BudgetSpent("spent".into())), 402);
        assert_eq!(status(GatewayError::UnknownModel("x".into()).into()), 422);
        let store = StoreError::Unexpected(anyhow::anyhow!("the table is down"));
        assert_eq!(status(AccountError::Store(store).into()), 500);
    }
}
