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

    /// What a user may be shown: the kind of failure and the HTTP status, never the provider's
    /// own text (which can echo request details, account ids or parts of a key). The full
    /// error belongs in the logs (`Display`).
    pub fn user_message(&self) -> String {
        match self {
            GatewayError::MissingKey { provider } => {
                format!("no API key is configured for {provider}; pick another model")
            }
            GatewayError::UnknownModel(model) => format!("unknown model {model:?}"),
            // Our own wording, about the request the user made.
            GatewayError::InvalidRequest(message) => format!("invalid request: {message}"),
            GatewayError::Config { .. } => {
                "the model provider is not configured correctly; ask the operator".into()
            }
            GatewayError::Auth { status, .. } => format!(
                "the model provider refused RaGenie's credentials (HTTP {status}); ask the operator"
            ),
            GatewayError::RateLimited { .. } => {
                "the model provider is rate limiting requests; try again shortly".into()
            }
            GatewayError::Upstream { status, .. } => {
                format!("the model provider failed to answer (HTTP {status}); try again")
            }
            GatewayError::Provider { .. } => {
                "the model provider reported an error during the answer; try again".into()
            }
            GatewayError::Timeout(_) => "the model provider did not answer in time".into(),
            GatewayError::Connection(_) => "the model provider could not be reached".into(),
            GatewayError::Protocol(_) => {
                "the model provider sent an answer RaGenie could not read".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_shown_the_kind_of_failure_never_the_providers_text() {
        let leak = "org-SECRET123 key sk-abc...xyz request {\"messages\":[...]}";
        let errors = [
            GatewayError::Auth {
                status: 401,
                message: leak.into(),
            },
            GatewayError::RateLimited {
                retry_after: None,
                message: leak.into(),
            },
            GatewayError::Upstream {
                status: 500,
                message: leak.into(),
            },
            GatewayError::Provider {
                kind: leak.into(),
                message: leak.into(),
            },
            GatewayError::Timeout(leak.into()),
            GatewayError::Connection(leak.into()),
            GatewayError::Protocol(leak.into()),
            GatewayError::Config {
                name: leak.into(),
                message: leak.into(),
            },
        ];
        for e in errors {
            let shown = e.user_message();
            assert!(
                !shown.contains("SECRET") && !shown.contains("sk-"),
                "{shown}"
            );
            assert!(
                e.to_string().contains("SECRET"),
                "the log keeps the detail: {e}"
            );
        }
        assert!(
            GatewayError::Upstream {
                status: 503,
                message: leak.into()
            }
            .user_message()
            .contains("503")
        );
    }
}
