//! Response plumbing shared by the fake providers: streamed bodies with delays, cuts, stalls
//! and injected errors; JSON and error responses.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;

use crate::scenario::Plan;

/// The frames of a streamed answer, in the provider's format.
pub struct Frames {
    /// Before the text (message_start, role chunk…).
    pub head: Vec<Bytes>,
    /// One frame per text chunk.
    pub text: Vec<Bytes>,
    /// After the text (finish, usage, `[DONE]`…).
    pub tail: Vec<Bytes>,
    /// What the provider sends when it fails mid-answer.
    pub error: Bytes,
}

const FLUSH_PAUSE: Duration = Duration::from_millis(30);

enum Step {
    Data(Bytes, Duration),
    Cut,
    Stall,
}

/// Where a cut or an injected error happens: after about half of the text.
fn half(n: usize) -> usize {
    if n >= 2 { n.div_ceil(2) } else { 0 }
}

pub fn stream_response(
    frames: Frames,
    plan: &Plan,
    content_type: &'static str,
    id_header: (&'static str, String),
    guard: crate::ActiveGuard,
) -> Response {
    let mut steps: Vec<Step> = frames
        .head
        .into_iter()
        .map(|b| Step::Data(b, Duration::ZERO))
        .collect();
    let stop_at = (plan.cut || plan.error).then(|| half(frames.text.len()));
    let mut interrupted = false;
    for (i, f) in frames.text.into_iter().enumerate() {
        if stop_at == Some(i) {
            steps.push(if plan.cut {
                Step::Cut
            } else {
                Step::Data(frames.error.clone(), Duration::ZERO)
            });
            interrupted = true;
            break;
        }
        steps.push(Step::Data(f, plan.delay));
        if plan.stall {
            steps.push(Step::Stall);
            interrupted = true;
            break;
        }
    }
    if !interrupted {
        if stop_at.is_some() {
            steps.push(if plan.cut {
                Step::Cut
            } else {
                Step::Data(frames.error, Duration::ZERO)
            });
        } else {
            steps.extend(
                frames
                    .tail
                    .into_iter()
                    .map(|b| Step::Data(b, Duration::ZERO)),
            );
        }
    }
    let stream =
        futures::stream::unfold((steps.into_iter(), guard), |(mut it, guard)| async move {
            match it.next()? {
                Step::Data(b, d) => {
                    if !d.is_zero() {
                        tokio::time::sleep(d).await;
                    }
                    Some((Ok::<Bytes, std::io::Error>(b), (it, guard)))
                }
                Step::Cut => {
                    // Let what was sent reach the client first: the cut must come after bytes.
                    tokio::time::sleep(FLUSH_PAUSE).await;
                    Some((
                        Err(std::io::Error::other("connection cut by the fake provider")),
                        (it, guard),
                    ))
                }
                Step::Stall => {
                    // The client's disconnect drops this future; the hour is only an upper bound.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    None
                }
            }
        });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&id_header.1) {
        h.insert(id_header.0, v);
    }
    resp
}

/// A streamed answer as server-sent events, the way OpenAI and Anthropic send it; `state`
/// counts it as active until the body is dropped.
pub fn sse_response(
    state: &std::sync::Arc<crate::State>,
    plan: &Plan,
    id_header: (&'static str, String),
    head: Vec<Bytes>,
    text: Vec<Bytes>,
    tail: Vec<Bytes>,
    error: Bytes,
) -> Response {
    stream_response(
        Frames {
            head,
            text,
            tail,
            error,
        },
        plan,
        "text/event-stream; charset=utf-8",
        id_header,
        crate::ActiveGuard::new(state),
    )
}

/// A whole JSON answer, or its first half and a cut connection.
pub fn json_response(
    body: &serde_json::Value,
    cut: bool,
    id_header: (&'static str, String),
) -> Response {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    let mut resp = if cut {
        let first = bytes.slice(..bytes.len() / 2);
        let parts = futures::stream::iter([Ok(first)]).chain(futures::stream::once(async {
            tokio::time::sleep(FLUSH_PAUSE).await;
            Err(std::io::Error::other("connection cut by the fake provider"))
        }));
        Response::new(Body::from_stream(parts))
    } else {
        Response::new(Body::from(bytes))
    };
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&id_header.1) {
        resp.headers_mut().insert(id_header.0, v);
    }
    resp
}

pub fn error_response(status: u16, body: serde_json::Value, retry_after: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// `Retry-After` for statuses that carry one.
pub fn retry_after_for(status: u16, scenario: &crate::scenario::Scenario) -> Option<String> {
    matches!(status, 429 | 503 | 529)
        .then(|| scenario.retry_after.clone().unwrap_or_else(|| "1".into()))
}

pub fn sse_data(json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Text of a message `content` that is a string or an array of `{type:"text", text}` blocks.
pub fn content_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                .collect::<Vec<_>>()
                .join(""),
        ),
        serde_json::Value::Null => Some(String::new()),
        _ => None,
    }
}

/// `req[field]` as a non-empty string, or the provider's message `missing`.
pub fn required_str<'a>(
    req: &'a serde_json::Value,
    field: &str,
    missing: &str,
) -> Result<&'a str, String> {
    req.get(field)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing.to_owned())
}

/// `req[field]` as a non-empty array, or the provider's message `missing`.
pub fn required_array<'a>(
    req: &'a serde_json::Value,
    field: &str,
    missing: &str,
) -> Result<&'a Vec<serde_json::Value>, String> {
    req.get(field)
        .and_then(serde_json::Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| missing.to_owned())
}
