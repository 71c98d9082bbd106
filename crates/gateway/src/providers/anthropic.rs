//! Anthropic Messages API.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{
    Decoded, Endpoint, LlmProvider, answering_model, merge_usage, parse_json, read_json, to_body,
    u64_at,
};
use crate::config::endpoint;
use crate::sse::SseEvent;
use crate::{
    Answer, ChatRequest, FinishReason, GatewayError, LlmStream, ProviderKind, Role, Usage,
};

const API_VERSION: &str = "2023-06-01";
/// `max_tokens` is mandatory in the Messages API; used when neither the caller nor the
/// catalog gives one.
const FALLBACK_MAX_TOKENS: u32 = 4096;

pub struct AnthropicProvider {
    ep: Endpoint,
}

impl AnthropicProvider {
    pub(crate) fn new(ep: Endpoint) -> Self {
        AnthropicProvider { ep }
    }

    pub(crate) fn body(req: &ChatRequest, stream: bool) -> Value {
        let messages: Vec<Value> = req
            .turns()
            .into_iter()
            .map(|m| {
                let role = match m.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                json!({"role": role, "content": m.content})
            })
            .collect();
        let mut body = json!({
            "model": req.model,
            "max_tokens": req.max_output_tokens.unwrap_or(FALLBACK_MAX_TOKENS),
            "messages": messages,
        });
        if stream {
            body["stream"] = json!(true);
        }
        if let Some(s) = req.system_slot() {
            body["system"] = if req.cache_system {
                json!([{"type": "text", "text": s, "cache_control": {"type": "ephemeral"}}])
            } else {
                json!(s)
            };
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        body
    }

    fn post(&self, key: &str, body: bytes::Bytes) -> reqwest::RequestBuilder {
        self.ep
            .transport
            .client
            .post(endpoint(&self.ep.base, "v1/messages"))
            .header("x-api-key", key)
            .header("anthropic-version", API_VERSION)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
    }
}

#[async_trait]
impl LlmProvider for AnthropicProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    #[tracing::instrument(skip_all, fields(provider = "anthropic", model = %req.model))]
    async fn stream(&self, req: &ChatRequest) -> Result<LlmStream, GatewayError> {
        req.validate()?;
        let key = self.ep.key("anthropic")?;
        let body = to_body(&Self::body(req, true))?;
        let t = &self.ep.transport;
        let (resp, deadline) = t.send("anthropic", || self.post(key, body.clone())).await?;
        Ok(t.sse_stream(resp, deadline, &req.model, decode_event))
    }

    #[tracing::instrument(skip_all, fields(provider = "anthropic", model = %req.model))]
    async fn complete(&self, req: &ChatRequest) -> Result<Answer, GatewayError> {
        req.validate()?;
        let key = self.ep.key("anthropic")?;
        let body = to_body(&Self::body(req, false))?;
        let t = &self.ep.transport;
        let (resp, deadline) = t.send("anthropic", || self.post(key, body.clone())).await?;
        let (v, rid) = read_json(t, resp, deadline).await?;
        let mut a = parse_message(&v, &req.model)?;
        a.request_id = rid;
        Ok(a)
    }
}

fn stop_reason(s: &str) -> FinishReason {
    match s {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolUse,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Anthropic's `input_tokens` already excludes cache reads and writes.
fn usage(v: &Value, old: Option<Usage>) -> Option<Usage> {
    let o = old.unwrap_or_default();
    let has_any = [
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    ]
    .iter()
    .any(|k| u64_at(v, k).is_some());
    if !has_any {
        return old;
    }
    let new = Usage {
        input: u64_at(v, "input_tokens").unwrap_or(o.input),
        output: u64_at(v, "output_tokens").unwrap_or(o.output),
        cache_read: u64_at(v, "cache_read_input_tokens").unwrap_or(o.cache_read),
        cache_write: u64_at(v, "cache_creation_input_tokens").unwrap_or(o.cache_write),
    };
    merge_usage(old, new)
}

fn provider_error(v: &Value) -> GatewayError {
    let e = v.get("error").unwrap_or(v);
    super::provider_error(e.get("type"), e)
}

fn parse_message(v: &Value, model: &str) -> Result<Answer, GatewayError> {
    if v.get("type").and_then(Value::as_str) == Some("error") {
        return Err(provider_error(v));
    }
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| GatewayError::Protocol("the message has no content".into()))?;
    let text: String = content
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    Ok(Answer {
        model: answering_model(v, "model", model),
        request_id: None,
        text,
        usage: v.get("usage").and_then(|u| usage(u, None)),
        finish: Some(
            v.get("stop_reason")
                .and_then(Value::as_str)
                .map(stop_reason)
                .unwrap_or(FinishReason::Stop),
        ),
        error: None,
    })
}

/// One Messages API stream event; the stream ends at `message_stop`.
pub(crate) fn decode_event(ev: SseEvent, out: &mut Decoded) -> Result<bool, GatewayError> {
    let v = parse_json(ev.data.as_bytes(), "a stream event")?;
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .or(ev.event.as_deref())
        .unwrap_or("");
    match kind {
        "message_start" => {
            if let Some(u) = v.get("message").and_then(|m| m.get("usage")) {
                out.usage = usage(u, out.usage);
            }
        }
        "content_block_delta" => {
            let delta = v.get("delta");
            if delta.and_then(|d| d.get("type")).and_then(Value::as_str) == Some("text_delta")
                && let Some(t) = delta.and_then(|d| d.get("text")).and_then(Value::as_str)
            {
                out.text(t);
            }
        }
        "message_delta" => {
            if let Some(r) = v
                .get("delta")
                .and_then(|d| d.get("stop_reason"))
                .and_then(Value::as_str)
            {
                out.finish = Some(stop_reason(r));
            }
            if let Some(u) = v.get("usage") {
                out.usage = usage(u, out.usage);
            }
        }
        "message_stop" => {
            out.at_marker();
            return Ok(true);
        }
        "error" => return Err(provider_error(&v)),
        // ping, content_block_start/stop, thinking and tool deltas, future event types.
        _ => {}
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{assert_decodes_at_any_split, decode_in_pieces};

    const STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":4,\"cache_read_input_tokens\":10,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", ✓\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn events_become_text_usage_and_finish_at_any_split() {
        let usage = Usage {
            input: 25,
            output: 15,
            cache_read: 10,
            cache_write: 4,
        };
        assert_decodes_at_any_split(
            decode_event,
            STREAM,
            &[1, 2, 5, 13, STREAM.len()],
            &["Hello", ", ✓"],
            usage,
            FinishReason::Length,
        );
    }

    #[test]
    fn an_error_event_is_a_provider_error() {
        let s = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        assert_eq!(
            decode_in_pieces(decode_event, s, 3).unwrap_err(),
            GatewayError::Provider {
                kind: "overloaded_error".into(),
                message: "Overloaded".into()
            }
        );
    }

    #[test]
    fn a_stream_cut_before_message_delta_is_an_error() {
        let cut = &STREAM[..STREAM.find("event: content_block_stop").unwrap()];
        assert!(matches!(
            decode_in_pieces(decode_event, cut, 4),
            Err(GatewayError::Connection(_))
        ));
    }

    #[test]
    fn system_goes_in_the_system_field_or_a_leading_user_turn() {
        let req =
            ChatRequest::new("claude", vec![crate::ChatMessage::user("hi")]).with_system("rules");
        let b = AnthropicProvider::body(&req, true);
        assert_eq!(b["system"], "rules");
        assert_eq!(b["messages"].as_array().unwrap().len(), 1);
        assert_eq!(b["max_tokens"], FALLBACK_MAX_TOKENS);
        let mut req = req;
        req.supports_system_role = false;
        let b = AnthropicProvider::body(&req, false);
        assert!(b.get("system").is_none());
        assert_eq!(
            b["messages"][0],
            json!({"role": "user", "content": "rules"})
        );
        assert!(b.get("stream").is_none());
    }

    #[test]
    fn non_streamed_messages_parse() {
        let v = json!({"id":"m","type":"message","model":"claude","content":[{"type":"thinking","thinking":"x"},{"type":"text","text":"Hi"},{"type":"text","text":"!"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":2,"cache_read_input_tokens":7,"cache_creation_input_tokens":4}});
        let a = parse_message(&v, "x").unwrap();
        assert_eq!(a.text, "Hi!");
        assert_eq!(
            a.usage,
            Some(Usage {
                input: 3,
                output: 2,
                cache_read: 7,
                cache_write: 4,
            })
        );
        assert_eq!(a.finish, Some(FinishReason::Stop));
    }
}
