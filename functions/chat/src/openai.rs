//! `POST /v1/chat/completions` and `GET /v1/models` in the OpenAI wire format, so any OpenAI
//! client can chat with a profile's grounding. The profile comes from the `X-RaGenie-Profile`
//! header or a model suffix (`gpt-4o@<profile id>`). Stateless: nothing is stored but usage.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use ragenie_common::auth::AuthUser;
use ragenie_common::http::ApiJson;
use ragenie_common::{ApiError, ApiResult};
use ragenie_conversation::chat::gateway_error;
use ragenie_conversation::context::{ContextInputs, assemble, cited};
use ragenie_conversation::{Message, MessageCost, MessageRole, RETRIEVAL_ONLY_MODEL, TokenUsage};
use ragenie_gateway::{ChatRequest, LlmEvent, ModelKind, Usage};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::wrappers::ReceiverStream;

use crate::ChatState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OpenAiMessage {
    role: String,
    /// A string, or an array of `{"type":"text","text":…}` parts.
    #[schema(value_type = Object)]
    content: Value,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CompletionRequest {
    /// A model id, optionally with `@<profile id>`.
    model: String,
    messages: Vec<OpenAiMessage>,
    #[serde(default)]
    stream: bool,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    #[schema(value_type = Object)]
    stream_options: Option<Value>,
    // Other OpenAI fields (top_p, n, user, …) are accepted and ignored.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    _rest: serde_json::Map<String, Value>,
}

fn text_of(content: &Value, index: usize) -> ApiResult<String> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => Ok(parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")),
        Value::Null => Ok(String::new()),
        _ => Err(ApiError::validation(
            format!("messages[{index}].content"),
            "a string or an array of text parts",
        )),
    }
}

fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "length" => "length",
        "content_filter" => "content_filter",
        _ => "stop",
    }
}

/// OpenAI-compatible chat completions, grounded in a profile's documents.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = CompletionRequest,
    params(("X-RaGenie-Profile" = Option<String>, Header, description = "profile whose documents ground the answer")),
    responses((status = 200, description = "chat.completion, or text/event-stream of chat.completion.chunk")), security(("bearer" = [])))]
pub async fn completions(
    auth: AuthUser,
    State(s): State<ChatState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CompletionRequest>,
) -> ApiResult<Response> {
    let user_id = auth.user_id().to_string();
    let (model, suffix_profile) = match body.model.split_once('@') {
        Some((m, p)) => (m.to_owned(), Some(p.to_owned())),
        None => (body.model.clone(), None),
    };
    let profile = headers
        .get("x-ragenie-profile")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(suffix_profile);
    let spec = s.service.model_spec(&model)?;
    s.service
        .usage
        .check_budget(&user_id, profile.as_deref())
        .await?;
    let chain = s
        .service
        .profile_chain(&user_id, profile.as_deref())
        .await?;

    let mut system = Vec::new();
    let mut turns = Vec::new();
    for (i, m) in body.messages.iter().enumerate() {
        let text = text_of(&m.content, i)?;
        match m.role.as_str() {
            "system" | "developer" => system.push(text),
            "user" => turns.push((MessageRole::User, text)),
            "assistant" => turns.push((MessageRole::Assistant, text)),
            other => {
                return Err(ApiError::validation(
                    format!("messages[{i}].role"),
                    format!("`{other}` is not supported"),
                ));
            }
        }
    }
    let Some((MessageRole::User, prompt)) = turns.pop() else {
        return Err(ApiError::validation(
            "messages",
            "the last message must be from the user",
        ));
    };
    let history: Vec<Message> = turns
        .into_iter()
        .map(|(role, content)| Message {
            id: String::new(),
            conversation_id: String::new(),
            parent_id: None,
            role,
            content,
            created_at: String::new(),
            model: None,
            finish_reason: None,
            error: None,
            usage: None,
            cost: None,
            context: None,
            citations: Vec::new(),
            tokens: None,
        })
        .collect();
    let max_output = body
        .max_completion_tokens
        .or(body.max_tokens)
        .or(chain.as_ref().and_then(|c| c.profile.max_output_tokens));
    let extra = system.join("\n\n");
    let assembled = assemble(
        &s.service.corpus,
        ContextInputs {
            user_id: &user_id,
            chain: chain.as_ref(),
            history: &history,
            prompt: &prompt,
            model: &spec,
            max_output_tokens: max_output,
            extra_instructions: Some(&extra),
        },
    )
    .await?;
    if spec.id == RETRIEVAL_ONLY_MODEL {
        return Err(ApiError::validation(
            "model",
            "the OpenAI-compatible API needs a language model; see GET /v1/models",
        ));
    }
    let mut request = ChatRequest::new(spec.id.clone(), assembled.messages.clone());
    request.system = assembled.system.clone();
    request.temperature = body
        .temperature
        .or(chain.as_ref().map(|c| c.profile.temperature as f32));
    request.max_output_tokens = max_output;
    request.supports_system_role = spec.supports_system_role;

    let id = format!("chatcmpl-{}", ulid::Ulid::new().to_string().to_lowercase());
    let created = time::OffsetDateTime::now_utc().unix_timestamp();
    let gateway = s.service.gateway.clone();
    let ledger = s.service.usage.clone();
    let record = move |usage: Usage, text: String, request: ChatRequest| {
        let (gateway, ledger, user_id, profile, model) = (
            gateway.clone(),
            ledger.clone(),
            user_id.clone(),
            profile.clone(),
            spec.id.clone(),
        );
        async move {
            let answer = ragenie_gateway::Answer {
                text,
                usage: Some(usage),
                ..Default::default()
            };
            if let Ok((u, c)) = gateway.cost(&request, &answer) {
                let usage = TokenUsage {
                    input: u.input,
                    output: u.output,
                    cache_read: u.cache_read,
                    cache_write: u.cache_write,
                };
                let cost = MessageCost {
                    total_usd: c.total_usd,
                    input_usd: c.input_usd,
                    output_usd: c.output_usd,
                    estimated: c.estimated,
                };
                if let Err(e) = ledger
                    .record(&user_id, profile.as_deref(), &model, &usage, &cost)
                    .await
                {
                    tracing::error!(error = %e, "could not record usage");
                }
            }
        }
    };

    if !body.stream {
        let answer = s
            .service
            .gateway
            .complete(&request)
            .await
            .map_err(gateway_error)?;
        let usage = answer.usage.unwrap_or_default();
        let citations = cited(&answer.text, &assembled.sources);
        let reason = finish_reason(answer.finish.as_ref().map(|f| f.as_str()).unwrap_or("stop"));
        record(usage, answer.text.clone(), request).await;
        let prompt_tokens = usage.total_input();
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": reason, "logprobs": null}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": usage.output, "total_tokens": prompt_tokens + usage.output},
            "x_ragenie": {"citations": citations, "context": assembled.record},
        }))
        .into_response());
    }

    let include_usage = body
        .stream_options
        .as_ref()
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut stream = s
        .service
        .gateway
        .stream(&request)
        .await
        .map_err(gateway_error)?;
    let model_name = body.model.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        let chunk = |delta: Value, finish: Option<&str>| {
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model_name,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]})
        };
        let send = |v: Value| Event::default().data(v.to_string());
        if tx
            .send(send(chunk(
                json!({"role": "assistant", "content": ""}),
                None,
            )))
            .await
            .is_err()
        {
            return;
        }
        let mut text = String::new();
        let mut usage = None;
        let mut reason = "stop".to_owned();
        while let Some(event) = stream.next().await {
            match event {
                LlmEvent::TextDelta(delta) => {
                    text.push_str(&delta);
                    if tx
                        .send(send(chunk(json!({"content": delta}), None)))
                        .await
                        .is_err()
                    {
                        // The client left: dropping the stream stops the provider.
                        break;
                    }
                }
                LlmEvent::Usage(u) => usage = Some(u),
                LlmEvent::Finish { reason: r } => reason = r.as_str().to_owned(),
                LlmEvent::Error(e) => {
                    let _ = tx
                        .send(send(
                            json!({"error": {"message": e.to_string(), "type": "upstream_error"}}),
                        ))
                        .await;
                    reason = "error".into();
                    break;
                }
                LlmEvent::Start { .. } => {}
            }
        }
        drop(stream);
        let final_usage = usage.unwrap_or_default();
        let mut last = chunk(json!({}), Some(finish_reason(&reason)));
        last["x_ragenie"] = json!({"citations": cited(&text, &assembled.sources)});
        let _ = tx.send(send(last)).await;
        if include_usage {
            let prompt_tokens = final_usage.total_input();
            let usage_chunk = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model_name, "choices": [],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": final_usage.output, "total_tokens": prompt_tokens + final_usage.output}});
            let _ = tx.send(send(usage_chunk)).await;
        }
        let _ = tx.send(Event::default().data("[DONE]")).await;
        record(final_usage, text, request).await;
    });
    let events = ReceiverStream::new(rx).map(Ok::<_, Infallible>);
    Ok(Sse::new(events).into_response())
}

/// The available models in OpenAI's list format.
#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200, description = "OpenAI model list")), security(("bearer" = [])))]
pub async fn models(_auth: AuthUser, State(s): State<ChatState>) -> Json<Value> {
    let data: Vec<Value> = s
        .service
        .gateway
        .models()
        .into_iter()
        .filter(|m| m.available && m.model.kind == ModelKind::Chat)
        .map(|m| json!({"id": m.model.id, "object": "model", "created": 0, "owned_by": m.model.provider.to_string()}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}
