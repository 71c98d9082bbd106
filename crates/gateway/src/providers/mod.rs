//! The provider trait and its implementations, one per wire format.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::Response;
use serde_json::Value;
use tokio::time::Instant;

use crate::transport::Transport;
use crate::{
    Answer, ChatRequest, FinishReason, GatewayError, LlmEvent, LlmStream, ProviderKind, Usage,
    collect,
};

pub mod anthropic;
pub mod gemini;
pub mod openai;

pub use anthropic::AnthropicProvider;
pub use gemini::GeminiProvider;
pub use openai::OpenAiProvider;

/// A model provider. Implementations hold a shared HTTP client and their key; they are
/// cheap to clone behind an `Arc` and safe to share across requests.
#[async_trait]
pub trait LlmProvider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// Starts an answer. Errors before the first byte (after retries) are returned here;
    /// anything later arrives as a terminal [`LlmEvent::Error`] in the stream.
    async fn stream(&self, req: &ChatRequest) -> Result<LlmStream, GatewayError>;

    /// A whole answer through the provider's non-streaming endpoint.
    async fn complete(&self, req: &ChatRequest) -> Result<Answer, GatewayError> {
        collect(self.stream(req).await?).await.into_result()
    }
}

/// Shared by the provider implementations.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub transport: Arc<Transport>,
    pub base: reqwest::Url,
    pub key: Option<crate::ApiKey>,
}

impl Endpoint {
    /// The API key, which `provider` cannot be called without.
    pub(crate) fn key(&self, provider: &str) -> Result<&str, GatewayError> {
        self.key
            .as_ref()
            .map(|k| k.expose())
            .ok_or_else(|| GatewayError::MissingKey {
                provider: provider.into(),
            })
    }
}

pub(crate) fn to_body(v: &Value) -> Result<Bytes, GatewayError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| GatewayError::InvalidRequest(format!("cannot encode the request: {e}")))
}

pub(crate) fn parse_json(data: &[u8], what: &str) -> Result<Value, GatewayError> {
    serde_json::from_slice(data).map_err(|e| {
        let preview: String = String::from_utf8_lossy(data).chars().take(200).collect();
        GatewayError::Protocol(format!("{what} is not valid JSON ({e}): {preview}"))
    })
}

/// Some OpenAI-compatible servers ignore `"stream": true` and answer with one JSON body.
pub(crate) fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// A finished answer replayed as the events a stream would have produced.
pub(crate) fn answer_stream(a: Answer) -> LlmStream {
    let mut events = vec![LlmEvent::Start {
        model: a.model,
        request_id: a.request_id,
    }];
    if !a.text.is_empty() {
        events.push(LlmEvent::TextDelta(a.text));
    }
    if let Some(u) = a.usage {
        events.push(LlmEvent::Usage(u));
    }
    match (a.error, a.finish) {
        (Some(e), _) => events.push(LlmEvent::Error(e)),
        (None, Some(reason)) => events.push(LlmEvent::Finish { reason }),
        (None, None) => events.push(LlmEvent::Error(GatewayError::Protocol(
            "the answer has no finish reason".into(),
        ))),
    }
    Box::pin(futures::stream::iter(events))
}

pub(crate) async fn read_json(
    transport: &Transport,
    resp: Response,
    deadline: Instant,
) -> Result<(Value, Option<String>), GatewayError> {
    let rid = crate::transport::request_id(resp.headers());
    let body = transport.read_body(resp, deadline).await?;
    Ok((parse_json(&body, "the response")?, rid))
}

/// The model a response says answered (under `key`), else the one requested.
pub(crate) fn answering_model(v: &Value, key: &str, requested: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or(requested)
        .to_owned()
}

pub(crate) fn u64_at(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

pub(crate) fn ended_early() -> GatewayError {
    GatewayError::Connection("the stream ended before the answer was complete".into())
}

/// What decoding a stream has produced so far: the events to pass on, and what the stream said
/// about its end (the finish reason and the usage reported), kept by the stream driver so that
/// each provider's decoder is a plain function of one event.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub events: Vec<LlmEvent>,
    pub finish: Option<FinishReason>,
    pub usage: Option<Usage>,
}

impl Decoded {
    /// A piece of the answer's text (empty pieces are dropped).
    pub fn text(&mut self, text: &str) {
        if !text.is_empty() {
            self.events.push(LlmEvent::TextDelta(text.to_owned()));
        }
    }

    /// The end of a body without an end marker: the finish reason seen (after the usage
    /// known), or [`ended_early`] when none came.
    pub fn at_eof(&mut self) -> Result<(), GatewayError> {
        let reason = self.finish.take().ok_or_else(ended_early)?;
        crate::transport::finish(&mut self.events, self.usage, reason);
        Ok(())
    }

    /// The provider's end marker: the finish reason seen (`stop` when none came), after the
    /// usage.
    pub fn at_marker(&mut self) {
        let reason = self.finish.take().unwrap_or(FinishReason::Stop);
        crate::transport::finish(&mut self.events, self.usage, reason);
    }
}

/// A provider's error object: `kind` (when a string, else `error`) and its `message`.
pub(crate) fn provider_error(kind: Option<&Value>, e: &Value) -> GatewayError {
    GatewayError::Provider {
        kind: kind.and_then(Value::as_str).unwrap_or("error").to_owned(),
        message: e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_owned(),
    }
}

/// Merges a later usage report into an earlier one, field by field (reports are cumulative).
pub(crate) fn merge_usage(old: Option<Usage>, new: Usage) -> Option<Usage> {
    Some(match old {
        None => new,
        Some(o) => Usage {
            input: new.input.max(o.input),
            output: new.output.max(o.output),
            cache_read: new.cache_read.max(o.cache_read),
            cache_write: new.cache_write.max(o.cache_write),
        },
    })
}

/// Runs `decoder` over `input` cut into `piece`-byte chunks, as the stream driver does: events
/// until one ends the answer, then the parser's remainder, then the end of the body.
#[cfg(test)]
pub(crate) fn decode_in_pieces(
    decode: crate::transport::Decode,
    input: &str,
    piece: usize,
) -> Result<Vec<LlmEvent>, GatewayError> {
    let mut parser = crate::sse::SseParser::new();
    let mut out = Decoded::default();
    for chunk in input.as_bytes().chunks(piece) {
        for ev in parser.push(chunk)? {
            if decode(ev, &mut out)? {
                return Ok(out.events);
            }
        }
    }
    for ev in parser.finish() {
        if decode(ev, &mut out)? {
            return Ok(out.events);
        }
    }
    out.at_eof()?;
    Ok(out.events)
}

/// Asserts that `input`, decoded in pieces of each size in `pieces`, gives the `texts`, then
/// the `usage`, then the finish with `reason`.
#[cfg(test)]
pub(crate) fn assert_decodes_at_any_split(
    decode: crate::transport::Decode,
    input: &str,
    pieces: &[usize],
    texts: &[&str],
    usage: Usage,
    reason: FinishReason,
) {
    let mut expected: Vec<LlmEvent> = texts
        .iter()
        .map(|t| LlmEvent::TextDelta((*t).into()))
        .collect();
    expected.push(LlmEvent::Usage(usage));
    expected.push(LlmEvent::Finish { reason });
    for &piece in pieces {
        assert_eq!(
            decode_in_pieces(decode, input, piece).unwrap(),
            expected,
            "piece {piece}"
        );
    }
}
