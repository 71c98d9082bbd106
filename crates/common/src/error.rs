//! One error type for every HTTP handler, mapped once to RFC 9457 `application/problem+json`.
//! Clients see a clear title and detail; unexpected errors are logged with their chain and shown
//! only as a generic 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::storage::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// A field of the request is invalid; `field` is its JSON path (e.g. `profile.name`).
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    PaymentRequired(String),
    /// The account exists but may not act: `slug` says why (`account-pending`,
    /// `account-suspended`), so a client can show the right screen.
    #[error("{detail}")]
    AccountInactive { slug: &'static str, detail: String },
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    Unavailable(String),
    /// Something this request needs is busy or unreachable for a moment (the store throttled
    /// or timed out): 503 with `Retry-After`, and nothing half-done is left behind.
    #[error("{detail}")]
    Busy {
        detail: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            ApiError::AccountInactive { .. } => StatusCode::FORBIDDEN,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Validation { .. } => "validation",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::TooManyRequests { .. } => "too-many-requests",
            ApiError::PaymentRequired(_) => "budget-exhausted",
            ApiError::AccountInactive { slug, .. } => slug,
            ApiError::BadGateway(_) => "upstream",
            ApiError::Unavailable(_) | ApiError::Busy { .. } => "unavailable",
            ApiError::Unexpected(_) => "internal",
        }
    }
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:ragenie:problem:<slug>`).
    #[serde(rename = "type")]
    #[schema(format = "uri-reference")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status, repeated.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The offending field, for validation problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub field: Option<String>,
    /// This occurrence: `urn:ragenie:request:<id>`, where `<id>` is the response's
    /// `x-request-id` and the `request_id` of every log line the request wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub instance: Option<String>,
}

/// A problem+json response for any status (used for framework rejections as well).
pub fn problem_response(
    status: StatusCode,
    slug: &str,
    detail: String,
    field: Option<String>,
) -> Response {
    let problem = Problem {
        kind: format!("urn:ragenie:problem:{slug}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        field,
        instance: crate::request_id::current().map(|id| id.instance()),
    };
    let mut response = (status, Json(problem)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            ApiError::Unexpected(e) => {
                tracing::error!(error = ?e, "unexpected error");
                "something went wrong on our side; it has been logged".to_owned()
            }
            ApiError::Validation { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let field = match &self {
            ApiError::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        let mut response = problem_response(status, self.slug(), detail, field);
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        }
        | ApiError::Busy {
            retry_after_secs, ..
        } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed => {
                ApiError::Conflict("the resource changed or already exists".into())
            }
            StoreError::TransactionCanceled(_) => {
                ApiError::Conflict("a concurrent change conflicted; retry".into())
            }
            StoreError::ItemTooLarge { size, limit } => ApiError::PayloadTooLarge(format!(
                "the record would be {size} bytes; the limit is {limit}"
            )),
            StoreError::TooLarge { limit } => {
                ApiError::PayloadTooLarge(format!("the file is larger than {limit} bytes"))
            }
            StoreError::InvalidCursor => {
                ApiError::validation("cursor", "the cursor is not valid for this list")
            }
            StoreError::Invalid(m) => ApiError::BadRequest(m),
            e @ (StoreError::Throttled | StoreError::Timeout | StoreError::Unavailable(_)) => {
                tracing::warn!(error = %e, "the store failed transiently; the client is told to retry");
                ApiError::Busy {
                    detail: "the store is busy; retry shortly".into(),
                    retry_after_secs: STORE_RETRY_AFTER_SECS,
                }
            }
            StoreError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What `Retry-After` says when the store failed transiently: the SDK already retried with
/// backoff inside the request, so a second later is a fair first retry.
pub const STORE_RETRY_AFTER_SECS: u64 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transient_store_failure_is_a_503_with_retry_after_and_an_unexpected_one_a_500() {
        for e in [
            StoreError::Throttled,
            StoreError::Timeout,
            StoreError::Unavailable("connection refused".into()),
        ] {
            assert!(e.is_transient());
            let response = ApiError::from(e).into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
            assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        }
        let broken = StoreError::Unexpected(anyhow::anyhow!("corrupt"));
        assert!(!broken.is_transient());
        let response = ApiError::from(broken).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
