//! Google Gemini API (`generateContent`, `streamGenerateContent?alt=sse`).

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{
    Decoded, Endpoint, LlmProvider, answering_model, parse_json, provider_error, read_json,
    to_body, u64_at,
};
use crate::config::endpoint;
use crate::sse::SseEvent;
use crate::{
    Answer, ChatRequest, FinishReason, GatewayError, LlmStream, ProviderKind, Role, Usage,
};

const API_VERSION: &str = "v1beta";

pub struct GeminiProvider {
    ep: Endpoint,
}

impl GeminiProvider {
    pub(crate) fn new(ep: Endpoint) -> Self {
        GeminiProvider { ep }
    }

    pub(crate) fn body(req: &ChatRequest) -> Value {
        let contents: Vec<Value> = req
            .turns()
            .into_iter()
            .map(|m| {
                let role = match m.role {
                    Role::User => "user",
                    Role::Assistant => "model",
                };
                json!({"role": role, "parts": [{"text": m.content}]})
            })
            .collect();
        let mut body = json!({"contents": contents});
        if let Some(s) = req.system_slot() {
            body["systemInstruction"] = json!({"parts": [{"text": s}]});
        }
        let mut config = serde_json::Map::new();
        if let Some(t) = req.temperature {
            config.insert("temperature".into(), json!(t));
        }
        if let Some(n) = req.max_output_tokens {
            config.insert("maxOutputTokens".into(), json!(n));
        }
        if !config.is_empty() {
            body["generationConfig"] = Value::Object(config);
        }
        body
    }

    fn post(
        &self,
        key: &str,
        model: &str,
        method: &str,
        body: bytes::Bytes,
    ) -> reqwest::RequestBuilder {
        let model = model.strip_prefix("models/").unwrap_or(model);
        let mut url = endpoint(
            &self.ep.base,
            &format!("{API_VERSION}/models/{model}:{method}"),
        );
        if method == "streamGenerateContent" {
            url.set_query(Some("alt=sse"));
        }
        self.ep
            .transport
            .client
            .post(url)
            .header("x-goog-api-key", key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    /// Validates `req` and posts it to `method` (`streamGenerateContent` or `generateContent`),
    /// with the transport's retries.
    async fn send(
        &self,
        req: &ChatRequest,
        method: &str,
    ) -> Result<(reqwest::Response, tokio::time::Instant), GatewayError> {
        req.validate()?;
        let key = self.ep.key("gemini")?;
        let body = to_body(&Self::body(req))?;
        self.ep
            .transport
            .send("gemini", || {
                self.post(key, &req.model, method, body.clone())
            })
            .await
    }
}

#[async_trait]
impl LlmProvider for GeminiProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gemini
    }

    #[tracing::instrument(skip_all, fields(provider = "gemini", model = %req.model))]
    async fn stream(&self, req: &ChatRequest) -> Result<LlmStream, GatewayError> {
        let (resp, deadline) = self.send(req, "streamGenerateContent").await?;
        let t = &self.ep.transport;
        Ok(t.sse_stream(resp, deadline, &req.model, decode_event))
    }

    #[tracing::instrument(skip_all, fields(provider = "gemini", model = %req.model))]
    async fn complete(&self, req: &ChatRequest) -> Result<Answer, GatewayError> {
        let (resp, deadline) = self.send(req, "generateContent").await?;
        let (v, rid) = read_json(&self.ep.transport, resp, deadline).await?;
        let mut decoded = Decoded::default();
        decode_chunk(&v, &mut decoded)?;
        decoded.at_eof()?;
        let events = decoded.events;
        let mut a = Answer {
            model: answering_model(&v, "modelVersion", &req.model),
            request_id: rid,
            ..Answer::default()
        };
        for e in events {
            a.apply(e);
        }
        Ok(a)
    }
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        other => FinishReason::Other(other.to_ascii_lowercase()),
    }
}

/// `promptTokenCount` includes cached tokens; thinking tokens are billed as output.
fn usage(v: &Value) -> Option<Usage> {
    let prompt = u64_at(v, "promptTokenCount")?;
    let cached = u64_at(v, "cachedContentTokenCount").unwrap_or(0);
    Some(Usage {
        input: prompt.saturating_sub(cached),
        output: u64_at(v, "candidatesTokenCount").unwrap_or(0)
            + u64_at(v, "thoughtsTokenCount").unwrap_or(0),
        cache_read: cached,
        cache_write: 0,
    })
}

/// One `GenerateContentResponse`: a stream chunk, or the whole non-streamed answer.
fn decode_chunk(v: &Value, out: &mut Decoded) -> Result<(), GatewayError> {
    if let Some(e) = v.get("error") {
        return Err(provider_error(e.get("status"), e));
    }
    if let Some(c) = v.get("candidates").and_then(|c| c.get(0)) {
        if let Some(parts) = c
            .get("content")
            .and_then(|c| c.get("parts"))
            .and_then(Value::as_array)
        {
            for p in parts {
                // Thought summaries are not part of the answer.
                if p.get("thought").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    out.text(t);
                }
            }
        }
        if let Some(r) = c.get("finishReason").and_then(Value::as_str) {
            out.finish = Some(finish_reason(r));
        }
    }
    if v.get("promptFeedback")
        .and_then(|f| f.get("blockReason"))
        .is_some()
    {
        out.finish = Some(FinishReason::ContentFilter);
    }
    if let Some(u) = v.get("usageMetadata").and_then(usage) {
        out.usage = Some(u);
    }
    Ok(())
}

/// One stream chunk. Gemini has no end marker: usage may follow the finish reason, so the
/// stream ends at EOF.
pub(crate) fn decode_event(ev: SseEvent, out: &mut Decoded) -> Result<bool, GatewayError> {
    let v = parse_json(ev.data.as_bytes(), "a stream chunk")?;
    decode_chunk(&v, out)?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LlmEvent;
    use crate::providers::{assert_decodes_at_any_split, decode_in_pieces};

    const STREAM: &str = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"plan\", \"thought\": true},{\"text\": \"lo ✓\"}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"!\"}],\"role\": \"model\"},\"finishReason\": \"MAX_TOKENS\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"cachedContentTokenCount\": 4,\"candidatesTokenCount\": 3,\"thoughtsTokenCount\": 2,\"totalTokenCount\": 14}}\r\n\r\n",
    );

    #[test]
    fn chunks_become_text_usage_and_finish_at_any_split() {
        let usage = Usage {
            input: 5,
            output: 5,
            cache_read: 4,
            cache_write: 0,
        };
        assert_decodes_at_any_split(
            decode_event,
            STREAM,
            &[1, 2, 3, 11, STREAM.len()],
            &["Hel", "lo ✓", "!"],
            usage,
            FinishReason::Length,
        );
    }

    #[test]
    fn an_error_chunk_and_a_cut_stream_are_errors() {
        let s = "data: {\"error\": {\"code\": 503, \"message\": \"overloaded\", \"status\": \"UNAVAILABLE\"}}\r\n\r\n";
        assert_eq!(
            decode_in_pieces(decode_event, s, 5).unwrap_err(),
            GatewayError::Provider {
                kind: "UNAVAILABLE".into(),
                message: "overloaded".into()
            }
        );
        let cut = &STREAM[..STREAM.rfind("data:").unwrap()];
        assert!(matches!(
            decode_in_pieces(decode_event, cut, 7),
            Err(GatewayError::Connection(_))
        ));
    }

    #[test]
    fn a_blocked_prompt_finishes_with_content_filter() {
        let s = "data: {\"promptFeedback\": {\"blockReason\": \"SAFETY\"}, \"usageMetadata\": {\"promptTokenCount\": 3}}\n\n";
        let out = decode_in_pieces(decode_event, s, 4).unwrap();
        assert_eq!(
            out.last(),
            Some(&LlmEvent::Finish {
                reason: FinishReason::ContentFilter
            })
        );
    }

    #[test]
    fn system_goes_in_system_instruction_and_roles_are_user_and_model() {
        let req = ChatRequest::new(
            "gemini-2.5-flash",
            vec![
                crate::ChatMessage::user("a"),
                crate::ChatMessage::assistant("b"),
            ],
        )
        .with_system("rules")
        .with_temperature(0.5)
        .with_max_output_tokens(100);
        let b = GeminiProvider::body(&req);
        assert_eq!(b["systemInstruction"]["parts"][0]["text"], "rules");
        assert_eq!(b["contents"][1]["role"], "model");
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 100);
        let mut req = req;
        req.supports_system_role = false;
        let b = GeminiProvider::body(&req);
        assert!(b.get("systemInstruction").is_none());
        assert_eq!(b["contents"][0]["parts"][0]["text"], "rules");
        assert_eq!(b["contents"].as_array().unwrap().len(), 3);
    }
}
