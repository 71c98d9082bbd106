//! What can go wrong in the accounts domain, and its one mapping to HTTP.

use crate::error::ApiError;
use crate::storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field of the input is not acceptable; `field` names it as the client sent it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Unknown email or wrong password: deliberately one error, so accounts cannot be probed.
    #[error("the email or password is not correct")]
    InvalidCredentials,
    #[error("the current password is not correct")]
    WrongCurrentPassword,
    /// An access token, refresh token or API key that is malformed, expired, revoked or forged.
    #[error("the credential is invalid, expired or revoked")]
    InvalidToken,
    /// A refresh token was presented a second time; its family has been revoked. The client
    /// sees the same answer as for `InvalidToken`.
    #[error("the credential is invalid, expired or revoked")]
    TokenReused {
        user: super::UserId,
        family: super::RefreshFamilyId,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// Allowed for nobody in the caller's position (registration closed, not an admin…).
    #[error("{0}")]
    Forbidden(String),
    /// The account waits for an administrator's approval.
    #[error("your account is waiting for an administrator's approval")]
    Pending,
    /// An administrator suspended the account: its sessions and API keys stop working.
    #[error("this account is suspended; ask an administrator")]
    Suspended,
    #[error("too many failed attempts; retry in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type AccountResult<T> = Result<T, AccountError>;

impl AccountError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid { field, message } => ApiError::Validation { field, message },
            AccountError::EmailTaken => ApiError::Conflict(e.to_string()),
            AccountError::InvalidCredentials
            | AccountError::InvalidToken
            | AccountError::TokenReused { .. } => ApiError::Unauthorized(e.to_string()),
            AccountError::WrongCurrentPassword => ApiError::Forbidden(e.to_string()),
            AccountError::NotFound(what) => ApiError::not_found(what),
            AccountError::Forbidden(m) => ApiError::Forbidden(m),
            AccountError::Pending => ApiError::AccountInactive {
                slug: "account-pending",
                detail: e.to_string(),
            },
            AccountError::Suspended => ApiError::AccountInactive {
                slug: "account-suspended",
                detail: e.to_string(),
            },
            AccountError::Conflict(m) => ApiError::Conflict(m),
            AccountError::Throttled { retry_after_secs } => ApiError::TooManyRequests {
                detail: e.to_string(),
                retry_after_secs,
            },
            AccountError::Store(s) => ApiError::from(s),
            AccountError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}
