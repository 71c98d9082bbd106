//! Who is calling: the `AuthUser` extractor every protected handler takes. It asks the
//! state's [`Authenticator`] to turn the bearer credential (an access token or a personal API
//! key) into a [`Principal`]; every key a handler builds starts from `principal.user_id`
//! (typed: a [`UserId`], so its partition is `user_id.partition()`).

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::accounts::UserId;
use crate::error::ApiError;
use crate::state::HasAppState;

/// How the caller proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    AccessToken,
    ApiKey { key_id: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub method: AuthMethod,
}

#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Checks a bearer credential; `Unauthorized` when it is not valid.
    async fn authenticate(&self, credential: &str) -> Result<Principal, ApiError>;
}

/// Refuses every credential: the state's authenticator until accounts are configured.
pub struct DenyAll;

#[async_trait]
impl Authenticator for DenyAll {
    async fn authenticate(&self, _: &str) -> Result<Principal, ApiError> {
        Err(ApiError::Unauthorized(
            "authentication is not configured".into(),
        ))
    }
}

pub type SharedAuthenticator = Arc<dyn Authenticator>;

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct AuthUser(pub Principal);

impl AuthUser {
    pub fn user_id(&self) -> &UserId {
        &self.0.user_id
    }
}

/// The credential of a request: `Authorization: Bearer …`, or `x-api-key` as some OpenAI-style
/// clients send.
pub fn bearer_credential(parts: &Parts) -> Option<&str> {
    if let Some(value) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim())
            .filter(|t| !t.is_empty());
    }
    parts
        .headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
}

impl<S: HasAppState> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = state.app_state();
        let credential = bearer_credential(parts)
            .ok_or_else(|| ApiError::Unauthorized("send `Authorization: Bearer <token>`".into()))?;
        state.auth.authenticate(credential).await.map(AuthUser)
    }
}
