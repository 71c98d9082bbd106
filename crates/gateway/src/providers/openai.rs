//! OpenAI Chat Completions, also used for any OpenAI-compatible server.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{
    Decoded, Endpoint, LlmProvider, answer_stream, answering_model, is_json, parse_json, read_json,
    to_body, u64_at,
};
use crate::config::endpoint;
use crate::sse::SseEvent;
use crate::{
    Answer, ChatRequest, FinishReason, GatewayError, LlmStream, ProviderKind, Role, Usage,
};

pub struct OpenAiProvider {
    ep: Endpoint,
    kind: ProviderKind,
}

impl OpenAiProvider {
    pub(crate) fn new(ep: Endpoint, kind: ProviderKind) -> Self {
        OpenAiProvider { ep, kind }
    }

    fn name(&self) -> &'static str {
        self.kind.as_str()
    }

    pub(crate) fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut messages = Vec::with_capacity(req.messages.len() + 1);
        if let Some(s) = req.system_slot() {
            messages.push(json!({"role": "system", "content": s}));
        }
        for m in req.turns() {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            messages.push(json!({"role": role, "content": m.content}));
        }
        let mut body = json!({"model": req.model, "messages": messages, "stream": stream});
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = req.max_output_tokens {
            // OpenAI's reasoning models only accept the new name; compatible servers mostly
            // only know the old one.
            let key = if self.kind == ProviderKind::OpenAi {
                "max_completion_tokens"
            } else {
                "max_tokens"
            };
            body[key] = json!(n);
        }
        body
    }

    fn post(&self, body: bytes::Bytes) -> reqwest::RequestBuilder {
        let url = endpoint(&self.ep.base, "chat/completions");
        let mut rb = self
            .ep
            .transport
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(k) = &self.ep.key {
            rb = rb.bearer_auth(k.expose());
        }
        rb
    }

    fn check_key(&self) -> Result<(), GatewayError> {
        if self.kind == ProviderKind::OpenAi && self.ep.key.is_none() {
            return Err(GatewayError::MissingKey {
                provider: self.name().into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl LlmProvider for OpenAiProvider {
    fn kind(&self) -> ProviderKind {
        self.kind
    }

    #[tracing::instrument(skip_all, fields(provider = self.name(), model = %req.model))]
    async fn stream(&self, req: &ChatRequest) -> Result<LlmStream, GatewayError> {
        req.validate()?;
        self.check_key()?;
        let body = to_body(&self.body(req, true))?;
        let t = &self.ep.transport;
        let (resp, deadline) = t.send(self.name(), || self.post(body.clone())).await?;
        if is_json(&resp) {
            let (v, rid) = read_json(t, resp, deadline).await?;
            let mut a = parse_completion(&v, &req.model)?;
            a.request_id = rid;
            return Ok(answer_stream(a));
        }
        Ok(t.sse_stream(resp, deadline, &req.model, decode_event))
    }

    #[tracing::instrument(skip_all, fields(provider = self.name(), model = %req.model))]
    async fn complete(&self, req: &ChatRequest) -> Result<Answer, GatewayError> {
        req.validate()?;
        self.check_key()?;
        let body = to_body(&self.body(req, false))?;
        let t = &self.ep.transport;
        let (resp, deadline) = t.send(self.name(), || self.post(body.clone())).await?;
        let (v, rid) = read_json(t, resp, deadline).await?;
        let mut a = parse_completion(&v, &req.model)?;
        a.request_id = rid;
        Ok(a)
    }
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        "tool_calls" | "function_call" => FinishReason::ToolUse,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// `prompt_tokens` includes cached tokens; RaGenie's `input` does not.
pub(crate) fn usage(v: &Value) -> Option<Usage> {
    let prompt = u64_at(v, "prompt_tokens")?;
    let cached = v
        .get("prompt_tokens_details")
        .and_then(|d| u64_at(d, "cached_tokens"))
        .unwrap_or(0);
    Some(Usage {
        input: prompt.saturating_sub(cached),
        output: u64_at(v, "completion_tokens").unwrap_or(0),
        cache_read: cached,
        cache_write: 0,
    })
}

fn provider_error(e: &Value) -> GatewayError {
    super::provider_error(e.get("type").or_else(|| e.get("code")), e)
}

fn parse_completion(v: &Value, model: &str) -> Result<Answer, GatewayError> {
    if let Some(e) = v.get("error") {
        return Err(provider_error(e));
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| GatewayError::Protocol("the completion has no choices".into()))?;
    let msg = choice.get("message");
    let text = msg
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .or_else(|| msg.and_then(|m| m.get("refusal")).and_then(Value::as_str))
        .unwrap_or("");
    Ok(Answer {
        model: answering_model(v, "model", model),
        request_id: None,
        text: text.to_owned(),
        usage: v.get("usage").and_then(usage),
        finish: Some(
            choice
                .get("finish_reason")
                .and_then(Value::as_str)
                .map(finish_reason)
                .unwrap_or(FinishReason::Stop),
        ),
        error: None,
    })
}

/// One chat-completions stream chunk. The stream ends at `[DONE]`; a server that ends the body
/// after the finish reason without it is tolerated.
pub(crate) fn decode_event(ev: SseEvent, out: &mut Decoded) -> Result<bool, GatewayError> {
    let data = ev.data.trim();
    if data == "[DONE]" {
        out.at_marker();
        return Ok(true);
    }
    if data.is_empty() {
        return Ok(false);
    }
    let v = parse_json(data.as_bytes(), "a stream chunk")?;
    if let Some(e) = v.get("error") {
        return Err(provider_error(e));
    }
    if let Some(choice) = v.get("choices").and_then(|c| c.get(0)) {
        if let Some(delta) = choice.get("delta") {
            for key in ["content", "refusal"] {
                if let Some(t) = delta.get(key).and_then(Value::as_str) {
                    out.text(t);
                }
            }
        }
        if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
            out.finish = Some(finish_reason(r));
        }
    }
    if let Some(u) = v.get("usage").and_then(usage) {
        out.usage = Some(u);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::assert_decodes_at_any_split;

    const STREAM: &str = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        ": keep-alive\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Héllo\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":3,\"total_tokens\":23,\"prompt_tokens_details\":{\"cached_tokens\":8}}}\n\n",
        "data: [DONE]\n\n"
    );

    #[test]
    fn stream_chunks_become_text_then_usage_then_finish_at_any_split() {
        let usage = Usage {
            input: 12,
            output: 3,
            cache_read: 8,
            cache_write: 0,
        };
        assert_decodes_at_any_split(
            decode_event,
            STREAM,
            &[1, 2, 3, 7, 64, STREAM.len()],
            &["Héllo", " world"],
            usage,
            FinishReason::Length,
        );
    }

    #[test]
    fn an_error_chunk_is_a_provider_error() {
        let mut out = Decoded::default();
        let ev = SseEvent {
            data: r#"{"error":{"message":"boom","type":"server_error"}}"#.into(),
            ..Default::default()
        };
        let e = decode_event(ev, &mut out).unwrap_err();
        assert_eq!(
            e,
            GatewayError::Provider {
                kind: "server_error".into(),
                message: "boom".into()
            }
        );
    }

    #[test]
    fn garbage_is_a_protocol_error_and_eof_without_finish_is_an_error() {
        let mut out = Decoded::default();
        let ev = SseEvent {
            data: "{not json".into(),
            ..Default::default()
        };
        assert!(matches!(
            decode_event(ev, &mut out),
            Err(GatewayError::Protocol(_))
        ));
        assert!(matches!(out.at_eof(), Err(GatewayError::Connection(_))));
    }

    #[test]
    fn non_streamed_completions_parse() {
        let v: Value = serde_json::from_str(r#"{"model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#).unwrap();
        let a = parse_completion(&v, "m").unwrap();
        assert_eq!((a.text.as_str(), a.model.as_str()), ("Hi", "gpt-x"));
        assert_eq!(
            a.usage,
            Some(Usage {
                input: 5,
                output: 1,
                ..Default::default()
            })
        );
        assert_eq!(a.finish, Some(FinishReason::Stop));
        assert!(parse_completion(&serde_json::json!({"choices": []}), "m").is_err());
    }
}
