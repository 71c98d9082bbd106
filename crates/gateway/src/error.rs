//! The gateway's error type: one variant per situation a caller handles differently.

use std::time::Duration;

/// Everything that can go wrong between RaGenie and a model provider.
///
/// Errors carry strings rather than source errors so they can travel inside stream events,
/// be cloned into a persisted message and compared in tests. Messages never contain keys.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GatewayError {
    /// The provider of this model has no API key (or base URL) configured.
    #[error("no API key configured for provider {provider}")]
    MissingKey { provider: String },
    /// The model id is not in the catalog.
    #[error("unknown model {0:?}")]
    UnknownModel(String),
    /// The request cannot be sent as is (empty conversation, bad parameter…).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A configuration value (environment variable or secret field) is malformed.
    #[error("invalid configuration {name}: {message}")]
    Config { name: String, message: String },
    /// The provider refused the key (401/403).
    #[error("provider rejected the credentials ({status}): {message}")]
    Auth { status: u16, message: String },
    /// 429 after the retries were spent (or the wait asked for was too long).
    #[error("rate limited by the provider: {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// Any other non-success HTTP status.
    #[error("provider answered HTTP {status}: {message}")]
    Upstream { status: u16, message: String },
    /// The provider reported an error inside an otherwise successful stream.
    #[error("provider error during the answer ({kind}): {message}")]
    Provider { kind: String, message: String },
    /// Connect, first-byte, idle or total timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The connection failed or was cut.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The provider sent something that is not its documented wire format.
    #[error("unexpected response from the provider: {0}")]
    Protocol(String),
}

impl GatewayError {
    /// True for errors that a later identical request may not hit (rate limits, overload,
    /// timeouts, cut connections): the chat layer can offer "retry".
    pub fn is_transient(&self) -> bool {
        match self {
            GatewayError::RateLimited { .. }
            | GatewayError::Timeout(_)
            | GatewayError::Connection(_)
            | GatewayError::Provider { .. } => true,
            GatewayError::Upstream { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
