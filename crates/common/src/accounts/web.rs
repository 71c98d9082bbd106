//! HTTP pieces the `auth` and `users` functions share: the caller's user id, the client
//! address login throttling counts by, and list paging parameters.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Deserialize;

use super::ids::UserId;
use crate::HasAppState;
use crate::auth::{AuthMethod, AuthUser};
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use crate::storage::Table;

/// The authenticated caller's id, but refuses API keys: managing credentials needs a signed-in session, so a
/// leaked key cannot mint more keys or lock its owner out.
pub fn session_user_id(auth: &AuthUser) -> Result<UserId, ApiError> {
    match auth.0.method {
        AuthMethod::AccessToken => Ok(*auth.user_id()),
        AuthMethod::ApiKey { .. } => Err(ApiError::Forbidden(
            "API keys cannot manage credentials; sign in and use an access token".into(),
        )),
    }
}

/// The signed-in caller with the state the handler works on (the router's: [`AppState`], or a
/// function's own built around it): what handlers take instead of `State` and [`AuthUser`]
/// apart. Refused as [`AuthUser`] is (401).
#[derive(Clone)]
pub struct Caller<S = AppState> {
    pub state: S,
    pub auth: AuthUser,
}

impl<S> Caller<S> {
    /// The caller's id, however they signed in.
    pub fn user(&self) -> UserId {
        *self.auth.user_id()
    }

    /// The caller's id, refusing API keys: see [`session_user_id`].
    pub fn session_user(&self) -> Result<UserId, ApiError> {
        session_user_id(&self.auth)
    }
}

impl Caller {
    pub fn table(&self) -> &dyn Table {
        self.state.table.as_ref()
    }
}

impl<S: HasAppState + Clone> FromRequestParts<S> for Caller<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        Ok(Caller {
            state: state.clone(),
            auth,
        })
    }
}

/// The refusal of [`session_user_id`] (the caller used an API key), for a route's
/// `responses(...)` when nothing else of the route answers 403.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 403,
    description = "Called with an API key",
    content_type = "application/problem+json"
)]
pub struct SessionOnly(pub Problem);

/// Where a request came from, as the platform vouches for it — never a hop of a client-written
/// `X-Forwarded-For`, which anyone can fill with a fresh address per guess (or with the owner's
/// address, to get the owner throttled):
/// 1. `CloudFront-Viewer-Address` (`ip:port`), which CloudFront sets itself on origin requests;
/// 2. the source address in API Gateway's (or a Function URL's) request context;
/// 3. the socket's peer address (the local server);
/// 4. else `unknown`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub String);

/// The IP of a `CloudFront-Viewer-Address` value: `198.51.100.10:46532`, or an IPv6 address
/// followed by `:port` (with or without brackets).
fn viewer_address(value: &str) -> Option<IpAddr> {
    let (ip, port) = value.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.trim_matches(['[', ']']).parse().ok()
}

fn lambda_source_ip(parts: &Parts) -> Option<IpAddr> {
    use lambda_http::request::RequestContext;
    let raw = match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.clone(),
        _ => None,
    }?;
    raw.parse().ok()
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let cloudfront = parts
            .headers
            .get("cloudfront-viewer-address")
            .and_then(|v| v.to_str().ok())
            .and_then(viewer_address);
        let peer = || {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip())
        };
        Ok(ClientAddress(
            cloudfront
                .or_else(|| lambda_source_ip(parts))
                .or_else(peer)
                .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
        ))
    }
}

/// `?limit=&cursor=` of list endpoints; bad values are a 422 naming the parameter.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<ListParams>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                let text = e.body_text();
                let detail = text
                    .split_once(": ")
                    .map_or(text.as_str(), |(_, d)| d)
                    .to_owned();
                let field = if let Some(name) = detail.split('`').nth(1) {
                    name.to_owned()
                } else {
                    detail
                        .split_once(':')
                        .map_or("query", |(f, _)| f)
                        .trim()
                        .to_owned()
                };
                ApiError::validation(field, detail)
            })?;
        super::page_size(params.limit).map_err(ApiError::from)?;
        Ok(params)
    }
}

impl ListParams {
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(super::DEFAULT_PAGE_SIZE)
    }
}

/// An id from the path; one that does not even parse is as absent as any other (404).
pub fn path_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}
