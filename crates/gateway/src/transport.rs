//! HTTP plumbing shared by every provider: one client, retries before the first byte, and
//! the driver that turns a streamed body into events with idle and total timeouts.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use rand::Rng;
use reqwest::{RequestBuilder, Response, StatusCode, header::HeaderMap};
use tokio::time::Instant;

use crate::providers::Decoded;
use crate::sse::{SseEvent, SseParser};
use crate::{GatewayError, LlmEvent, LlmStream, RetryPolicy, Timeouts};

/// The client (connection pool) and policies, built once and shared by every provider.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub client: reqwest::Client,
    pub retry: RetryPolicy,
    pub timeouts: Timeouts,
}

impl Transport {
    /// Turns a successful streaming response into an event stream: `Start`, then what `decode`
    /// makes of each SSE event. A body quiet for longer than the idle timeout, or running past
    /// `deadline`, ends with a timeout error. Dropping the stream drops the body, which closes
    /// the connection and so cancels the upstream generation.
    pub(crate) fn sse_stream(
        &self,
        resp: Response,
        deadline: Instant,
        model: &str,
        decode: Decode,
    ) -> LlmStream {
        let start = LlmEvent::Start {
            model: model.to_owned(),
            request_id: request_id(resp.headers()),
        };
        let driver = Driver {
            body: Box::pin(resp.bytes_stream()),
            parser: SseParser::new(),
            decode,
            decoded: Decoded::default(),
            pending: VecDeque::from([start]),
            done: false,
            idle: self.timeouts.idle,
            deadline,
        };
        Box::pin(futures::stream::unfold(driver, |mut d| async move {
            loop {
                if let Some(ev) = d.pending.pop_front() {
                    return Some((ev, d));
                }
                if d.done {
                    return None;
                }
                d.step().await;
            }
        }))
    }

    pub fn new(timeouts: Timeouts, retry: RetryPolicy) -> Result<Self, GatewayError> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("ragenie-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GatewayError::Config {
                name: "HTTP client".into(),
                message: e.to_string(),
            })?;
        Ok(Transport {
            client,
            retry,
            timeouts,
        })
    }

    /// Sends the request built by `build`, retrying 429, 5xx, timeouts and connection errors
    /// with jittered exponential backoff (or the provider's `Retry-After`) until a success
    /// status arrives. Returns the response and the overall deadline.
    pub async fn send(
        &self,
        provider: &'static str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<(Response, Instant), GatewayError> {
        let deadline = Instant::now() + self.timeouts.total;
        let mut attempt: u32 = 0;
        loop {
            let outcome = match tokio::time::timeout_at(deadline, build().send()).await {
                Err(_) => {
                    return Err(GatewayError::Timeout(format!(
                        "{provider} did not answer within {:?}",
                        self.timeouts.total
                    )));
                }
                Ok(r) => r,
            };
            let (error, retry_after) = match outcome {
                Ok(resp) if resp.status().is_success() => return Ok((resp, deadline)),
                Ok(resp) => {
                    let status = resp.status();
                    let header_wait = retry_after(resp.headers());
                    let body = read_error_body(resp, deadline).await;
                    let wait = header_wait.or_else(|| gemini_retry_delay(&body));
                    let error = status_error(status, &body, wait);
                    if !retryable_status(status) {
                        return Err(error);
                    }
                    (error, wait)
                }
                Err(e) => {
                    let error = if e.is_timeout() {
                        GatewayError::Timeout(format!("{provider}: {}", error_chain(&e)))
                    } else if e.is_connect() || e.is_request() {
                        GatewayError::Connection(format!("{provider}: {}", error_chain(&e)))
                    } else {
                        return Err(GatewayError::Connection(format!(
                            "{provider}: {}",
                            error_chain(&e)
                        )));
                    };
                    (error, None)
                }
            };
            if attempt >= self.retry.max_retries {
                return Err(error);
            }
            let wait = match retry_after {
                Some(w) if w > self.retry.max_retry_after => return Err(error),
                Some(w) => w,
                None => backoff(&self.retry, attempt),
            };
            if Instant::now() + wait >= deadline {
                return Err(error);
            }
            tracing::warn!(provider, attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying provider request");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Reads a whole (non-streamed) response body within the deadline.
    pub async fn read_body(
        &self,
        resp: Response,
        deadline: Instant,
    ) -> Result<Bytes, GatewayError> {
        match tokio::time::timeout_at(deadline, resp.bytes()).await {
            Err(_) => Err(GatewayError::Timeout(
                "the response body did not arrive in time".into(),
            )),
            Ok(Err(e)) => Err(GatewayError::Connection(error_chain(&e))),
            Ok(Ok(b)) => Ok(b),
        }
    }
}

fn retryable_status(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS
        || s == StatusCode::REQUEST_TIMEOUT
        || s.is_server_error()
        // Anthropic's "overloaded".
        || s.as_u16() == 529
}

fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.base_backoff.saturating_mul(1u32 << attempt.min(16));
    let cap = exp.min(policy.max_backoff);
    // Half fixed, half random: spreads retries of many clients without ever waiting ~0.
    let half = cap / 2;
    half + rand::thread_rng().gen_range(Duration::ZERO..=half)
}

/// `retry-after-ms` (OpenAI), `retry-after` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Gemini puts the wait in the error body: `details[].retryDelay: "2s"`.
fn gemini_retry_delay(body: &str) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let details = v.get("error")?.get("details")?.as_array()?;
    details.iter().find_map(|d| {
        let s = d.get("retryDelay")?.as_str()?.trim().strip_suffix('s')?;
        let secs = s.parse::<f64>().ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
    })
}

const MAX_ERROR_BODY: usize = 64 * 1024;

async fn read_error_body(mut resp: Response, deadline: Instant) -> String {
    let mut buf = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = resp.chunk().await {
            buf.extend_from_slice(&chunk);
            if buf.len() > MAX_ERROR_BODY {
                break;
            }
        }
    };
    let short = (Instant::now() + Duration::from_secs(5)).min(deadline);
    let _ = tokio::time::timeout_at(short, read).await;
    buf.truncate(MAX_ERROR_BODY);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The human message of a provider error body: all three providers use `error.message`
/// (Gemini sometimes inside a one-element array).
pub(crate) fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        let v = v.as_array().and_then(|a| a.first()).unwrap_or(v);
        let e = v.get("error").unwrap_or(v);
        e.get("message")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .or_else(|| e.as_str().map(str::to_owned))
    });
    let msg = from_json.unwrap_or_else(|| body.trim().to_owned());
    let msg = if msg.is_empty() {
        "(empty body)".to_owned()
    } else {
        msg
    };
    truncate(&msg, 500)
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

pub(crate) fn status_error(
    status: StatusCode,
    body: &str,
    retry_after: Option<Duration>,
) -> GatewayError {
    let message = error_message(body);
    match status.as_u16() {
        429 => GatewayError::RateLimited {
            retry_after,
            message,
        },
        401 | 403 => GatewayError::Auth {
            status: status.as_u16(),
            message,
        },
        s => GatewayError::Upstream { status: s, message },
    }
}

/// reqwest's top-level messages are vague ("error sending request"); the sources say why.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-request-id", "request-id", "x-goog-request-id"]
        .iter()
        .find_map(|h| {
            headers
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
}

/// A provider's decoder: translates one SSE event into [`LlmEvent`]s and what it says about the
/// end of the answer; returns true when the provider signalled that end.
pub(crate) type Decode = fn(SseEvent, &mut Decoded) -> Result<bool, GatewayError>;

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

struct Driver {
    body: Body,
    parser: SseParser,
    decode: Decode,
    decoded: Decoded,
    pending: VecDeque<LlmEvent>,
    done: bool,
    idle: Duration,
    deadline: Instant,
}

impl Driver {
    fn fail(&mut self, e: GatewayError) {
        if let Some(u) = self.decoded.usage {
            self.pending.push_back(LlmEvent::Usage(u));
        }
        self.pending.push_back(LlmEvent::Error(e));
        self.done = true;
    }

    fn feed(&mut self, events: Vec<SseEvent>) {
        for ev in events {
            match (self.decode)(ev, &mut self.decoded) {
                Ok(false) => {}
                Ok(true) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.pending.extend(self.decoded.events.drain(..));
                    self.fail(e);
                    return;
                }
            }
        }
        self.pending.extend(self.decoded.events.drain(..));
    }

    async fn step(&mut self) {
        let wait_until = (Instant::now() + self.idle).min(self.deadline);
        match tokio::time::timeout_at(wait_until, self.body.next()).await {
            Err(_) => {
                let what = if wait_until >= self.deadline {
                    "the answer exceeded the total timeout".to_owned()
                } else {
                    format!("no data from the provider for {:?}", self.idle)
                };
                self.fail(GatewayError::Timeout(what));
            }
            Ok(Some(Ok(bytes))) => match self.parser.push(&bytes) {
                Ok(events) => self.feed(events),
                Err(e) => self.fail(e),
            },
            Ok(Some(Err(e))) => self.fail(GatewayError::Connection(format!(
                "the answer was cut off: {}",
                error_chain(&e)
            ))),
            Ok(None) => {
                let events = self.parser.finish();
                self.feed(events);
                if !self.done {
                    let ended = self.decoded.at_eof();
                    self.pending.extend(self.decoded.events.drain(..));
                    match ended {
                        Ok(()) => self.done = true,
                        Err(e) => self.fail(e),
                    }
                }
            }
        }
    }
}

/// Pushes the end of an answer: usage (when known), then the finish reason.
pub(crate) fn finish(
    out: &mut Vec<LlmEvent>,
    usage: Option<crate::Usage>,
    reason: crate::FinishReason,
) {
    if let Some(u) = usage {
        out.push(LlmEvent::Usage(u));
    }
    out.push(LlmEvent::Finish { reason });
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_accepts_seconds_milliseconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&future).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn gemini_retry_info_is_read_from_the_body() {
        let body = r#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#;
        assert_eq!(gemini_retry_delay(body), Some(Duration::from_millis(1500)));
        assert_eq!(gemini_retry_delay("nope"), None);
    }

    #[test]
    fn error_messages_are_extracted_from_each_provider_shape() {
        assert_eq!(
            error_message(r#"{"error":{"message":"bad key","type":"x"}}"#),
            "bad key"
        );
        assert_eq!(
            error_message(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded"
        );
        assert_eq!(
            error_message(
                r#"[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]"#
            ),
            "bad"
        );
        assert_eq!(error_message("<html>oops</html>"), "<html>oops</html>");
        assert_eq!(error_message(""), "(empty body)");
        assert!(error_message(&"x".repeat(5000)).chars().count() <= 501);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy {
            max_retries: 5,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
            max_retry_after: Duration::from_secs(1),
        };
        for attempt in 0..10 {
            let cap = (Duration::from_millis(100) * 2u32.pow(attempt.min(16)))
                .min(Duration::from_millis(800));
            for _ in 0..20 {
                let b = backoff(&p, attempt);
                assert!(b >= cap / 2 && b <= cap, "attempt {attempt}: {b:?}");
            }
        }
    }

    #[test]
    fn status_errors_map_to_variants() {
        assert!(matches!(
            status_error(StatusCode::TOO_MANY_REQUESTS, "", None),
            GatewayError::RateLimited { .. }
        ));
        assert!(matches!(
            status_error(StatusCode::UNAUTHORIZED, "", None),
            GatewayError::Auth { status: 401, .. }
        ));
        assert!(matches!(
            status_error(StatusCode::BAD_REQUEST, "", None),
            GatewayError::Upstream { status: 400, .. }
        ));
        assert!(retryable_status(StatusCode::from_u16(529).unwrap()));
        assert!(!retryable_status(StatusCode::BAD_REQUEST));
    }
}
