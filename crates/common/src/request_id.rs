//! Request ids: every request gets one — API Gateway's (HTTP API or the chat Function URL, from
//! the Lambda event's request context), else a fresh ULID — carried by a tracing span around
//! everything the request does (so every log line names it), returned as `x-request-id`, placed
//! in problem+json as `instance`, and recorded in the audit trail.
//!
//! A client's own `x-request-id` is not trusted: an id that someone else chose could collide with
//! another request's or forge log lines' correlation.

use std::fmt;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use tracing::Instrument;

/// The response header carrying the id.
pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The URN prefix of problem+json `instance` values: `urn:ragenie:request:<id>`.
pub const INSTANCE_PREFIX: &str = "urn:ragenie:request:";

/// One request's id; cheap to clone. Stored in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A fresh id (a ULID: sortable, so ids of one day sort by time).
    pub fn generate() -> Self {
        Self(ulid::Ulid::new().to_string().into())
    }

    /// The id API Gateway gave the request, when it came through API Gateway (or a Function
    /// URL, which uses the same event format); else a fresh one.
    pub fn for_request(request: &Request) -> Self {
        gateway_request_id(request)
            .map(|id| Self(id.into()))
            .unwrap_or_else(Self::generate)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The problem+json `instance` naming this request.
    pub fn instance(&self) -> String {
        format!("{INSTANCE_PREFIX}{}", self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Only ids made of characters safe in a header and a log line are taken from the event.
fn usable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=.+/:".contains(&b))
}

fn gateway_request_id(request: &Request) -> Option<String> {
    let from_context = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    // Without an API Gateway context (ALB, direct invoke), the Lambda invocation's id still
    // ties the request to the platform's own START/REPORT log lines.
    from_context
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .filter(|id| usable(id))
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being handled on this task, if any (tasks spawned by a handler do
/// not inherit it; pass the [`RequestId`] along instead).
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Middleware: gives the request its id (keeping one an outer layer already gave it), runs the
/// rest inside the `request` span and the task-local id, and returns `x-request-id`.
pub async fn assign(mut request: Request, next: Next) -> Response {
    if request.extensions().get::<RequestId>().is_some() {
        // An outer layer already did the work (the local server merges functions' routers).
        return next.run(request).await;
    }
    let id = RequestId::for_request(&request);
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = CURRENT
        .scope(id.clone(), next.run(request))
        .instrument(span)
        .await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(HEADER.clone(), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;

    #[test]
    fn the_api_gateway_request_id_is_used_when_there_is_one() {
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.request_id = Some("Hx1MbiYvIAMEV8w=".into());
        let mut request = Request::new(Body::empty());
        request
            .extensions_mut()
            .insert(RequestContext::ApiGatewayV2(ctx));
        assert_eq!(
            RequestId::for_request(&request).as_str(),
            "Hx1MbiYvIAMEV8w="
        );
    }

    #[test]
    fn an_unusable_gateway_id_is_replaced_by_a_generated_one() {
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.request_id = Some("bad id\nwith a newline".into());
        let mut request = Request::new(Body::empty());
        request
            .extensions_mut()
            .insert(RequestContext::ApiGatewayV2(ctx));
        let id = RequestId::for_request(&request);
        assert!(ulid::Ulid::from_string(id.as_str()).is_ok(), "{id}");
    }

    #[test]
    fn requests_without_a_gateway_get_distinct_generated_ids() {
        let a = RequestId::for_request(&Request::new(Body::empty()));
        let b = RequestId::for_request(&Request::new(Body::empty()));
        assert_ne!(a, b);
        assert_eq!(a.instance(), format!("urn:ragenie:request:{a}"));
    }
}
