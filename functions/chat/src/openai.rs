//! `POST /v1/chat/completions` and `GET /v1/models` in the OpenAI wire format, so any OpenAI
//! client can chat with a profile's grounding. The profile comes from the `X-RaGenie-Profile`
//! header or a model suffix (`gpt-4o@<profile id>`). Stateless: nothing is stored but usage.
//!
//! This is a translation and nothing more: the request into a [`Completion`], the answer
//! pipeline's events (the same pipeline as the web chat: stop flag, keep-alives, billing —
//! also of a client that leaves) into `chat.completion` or `chat.completion.chunk`s.
//!
//! Stop: OpenAI clients stop by closing the stream, which ends the answer where the server sees
//! the client leave (the local server does at once). On Lambda the function runs on after a
//! disconnect, so `POST /v1/chat/completions/{id}/stop` (a RaGenie addition; OpenAI's API has no
//! such call) sets the pipeline's stop flag under the completion's id, as the web chat's stop does.

use std::convert::Infallible;

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use ragenie_common::accounts::web::Caller;
use ragenie_common::http::{Accepted, Json};
use ragenie_common::idempotency::{self, IdempotencyKey};
use ragenie_common::openapi::route;
use ragenie_common::{ApiError, ApiResult};
use ragenie_conversation::{
    AnswerEvent, Completion, Finished, MessageRole, Once, Started, TokenUsage,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;

use crate::{ChatState, Stopping};

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct OpenAiMessage {
    role: String,
    /// A string, or an array of `{"type":"text","text":…}` parts.
    #[schema(value_type = Object)]
    content: Value,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
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

/// The request in domain terms: system messages become instructions, the last message is the
/// prompt, the others history.
fn completion(body: CompletionRequest, profile: Option<String>) -> ApiResult<Completion> {
    let model = body
        .model
        .split_once('@')
        .map(|(m, _)| m.to_owned())
        .unwrap_or(body.model);
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
    Ok(Completion {
        model: Some(model),
        profile_id: profile,
        instructions: system.join("\n\n"),
        history: turns,
        prompt,
        temperature: body.temperature,
        max_output_tokens: body.max_completion_tokens.or(body.max_tokens),
    })
}

/// OpenAI's usage object; cached prompt tokens are part of `prompt_tokens`, as OpenAI counts.
fn usage_json(u: &TokenUsage) -> Value {
    let prompt = u.input + u.cache_read + u.cache_write;
    json!({"prompt_tokens": prompt, "completion_tokens": u.output, "total_tokens": prompt + u.output,
           "prompt_tokens_details": {"cached_tokens": u.cache_read}})
}

/// What RaGenie adds to OpenAI's format: citations, the context record and the bill.
fn ragenie_json(started: Option<&Started>, f: &Finished) -> Value {
    json!({"citations": f.citations, "context": started.map(|s| &s.context), "usage": f.usage, "cost": f.cost})
}

/// OpenAI-compatible chat completions, grounded in a profile's documents.
///
/// # Errors
/// - 400: a malformed Idempotency-Key
/// - 402: a budget or the operator's monthly quota is spent
/// - 429: too many answers this minute or at once; see `Retry-After`
/// - 404: the caller has no such profile
/// - 403: the model is disabled or not allowed for this account, or has no known price while the
///   account has an operator quota
/// - 409: the completion with this Idempotency-Key is still running
/// - 422: an invalid field, or an Idempotency-Key used with another request
#[route(post, "/v1/chat/completions", tag = "openai",
    params(("X-RaGenie-Profile" = Option<String>, Header, description = "profile whose documents ground the answer"), IdempotencyKey),
    responses((status = 200, description = "A chat.completion, or (`stream: true`) Server-Sent Events of chat.completion.chunk ending with `[DONE]` (a retry with the Idempotency-Key of a finished completion replays it, the text in one chunk)", content((Object = "application/json"), (String = "text/event-stream")))))]
pub async fn completions(
    caller: Caller<ChatState>,
    key: IdempotencyKey,
    headers: HeaderMap,
    Json(body): Json<CompletionRequest>,
) -> ApiResult<Response> {
    let s = &caller.state;
    let profile = headers
        .get("x-ragenie-profile")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| body.model.split_once('@').map(|(_, p)| p.to_owned()));
    let once = key.0.map(|key| Once {
        key,
        fingerprint: idempotency::fingerprint(&[
            profile.as_deref().unwrap_or("").as_bytes(),
            &serde_json::to_vec(&body).unwrap_or_default(),
        ]),
    });
    let include_usage = body
        .stream_options
        .as_ref()
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let stream = body.stream;
    let model_name = body.model.clone();
    let rx = s
        .service
        .complete(*caller.auth.user_id(), completion(body, profile)?, once)
        .await?;
    let wire = Wire {
        model: model_name,
        created: time::OffsetDateTime::now_utc().unix_timestamp(),
        id: String::new(),
    };
    if stream {
        Ok(Sse::new(chunks(rx, wire, include_usage)).into_response())
    } else {
        whole(rx, wire).await
    }
}

struct Wire {
    id: String,
    created: i64,
    model: String,
}

impl Wire {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]})
    }
}

fn data(v: Value) -> Event {
    Event::default().data(v.to_string())
}

/// The whole answer as one `chat.completion` (a provider failure before any text is a 502).
async fn whole(mut rx: Receiver<AnswerEvent>, mut wire: Wire) -> ApiResult<Response> {
    let mut started = None;
    let mut error = None;
    while let Some(event) = rx.recv().await {
        match event {
            AnswerEvent::Started(s) => {
                wire.id = completion_id(&s.answer_id);
                started = Some(s);
            }
            AnswerEvent::Error(e) => error = Some(e),
            AnswerEvent::Delta(_) | AnswerEvent::KeepAlive => {}
            AnswerEvent::Finished(f) => {
                if f.text.is_empty()
                    && let Some(e) = error
                {
                    return Err(ApiError::BadGateway(e));
                }
                return Ok(Json(json!({
                    "id": wire.id,
                    "object": "chat.completion",
                    "created": wire.created,
                    "model": wire.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": f.text},
                                 "finish_reason": finish_reason(&f.finish_reason), "logprobs": null}],
                    "usage": usage_json(&f.usage),
                    "x_ragenie": ragenie_json(started.as_deref(), &f),
                }))
                .into_response());
            }
        }
    }
    Err(ApiError::Unexpected(anyhow::anyhow!(
        "the answer ended without finishing"
    )))
}

/// What a completion's `id` starts with; the rest is the answer id, lowercased.
const COMPLETION_PREFIX: &str = "chatcmpl-";

fn completion_id(answer_id: &str) -> String {
    format!("{COMPLETION_PREFIX}{}", answer_id.to_lowercase())
}

/// Stop a streaming completion: the answer ends within half a second, and what was used is
/// billed (estimated when the provider had not yet reported usage). For clients that cannot
/// rely on closing the stream to stop it (on Lambda the function runs on after a disconnect).
///
/// # Errors
/// - 404: not a completion id
#[route(post, "/v1/chat/completions/{id}/stop", tag = "openai",
    params(("id" = String, Path, description = "the completion's `id` (`chatcmpl-…`), from its first chunk")))]
pub async fn stop(
    caller: Caller<ChatState>,
    Path(id): Path<String>,
) -> ApiResult<Accepted<Stopping>> {
    let s = &caller.state;
    let answer = id
        .strip_prefix(COMPLETION_PREFIX)
        .ok_or_else(|| ApiError::NotFound("no such completion".into()))?;
    s.service
        .request_completion_stop(*caller.auth.user_id(), answer)
        .await?;
    Ok(Accepted(Stopping { stopping: true }))
}

type Chunks = std::pin::Pin<Box<dyn futures::Stream<Item = Result<Event, Infallible>> + Send>>;

/// The answer as `chat.completion.chunk`s, then `[DONE]`; keep-alives as SSE comments (OpenAI
/// clients ignore them).
fn chunks(rx: Receiver<AnswerEvent>, mut wire: Wire, include_usage: bool) -> Chunks {
    let mut started: Option<Box<Started>> = None;
    let events = tokio_stream::wrappers::ReceiverStream::new(rx).flat_map(move |event| {
        let out: Vec<Event> = match event {
            AnswerEvent::Started(s) => {
                wire.id = completion_id(&s.answer_id);
                started = Some(s);
                vec![data(wire.chunk(json!({"role": "assistant", "content": ""}), None))]
            }
            AnswerEvent::Delta(text) => vec![data(wire.chunk(json!({"content": text}), None))],
            AnswerEvent::KeepAlive => vec![Event::default().comment("keep-alive")],
            AnswerEvent::Error(message) => {
                vec![data(json!({"error": {"message": message, "type": "upstream_error"}}))]
            }
            AnswerEvent::Finished(f) => {
                let mut last = wire.chunk(json!({}), Some(finish_reason(&f.finish_reason)));
                last["x_ragenie"] = ragenie_json(started.as_deref(), &f);
                let mut out = vec![data(last)];
                if include_usage {
                    out.push(data(json!({"id": wire.id, "object": "chat.completion.chunk", "created": wire.created,
                        "model": wire.model, "choices": [], "usage": usage_json(&f.usage)})));
                }
                out.push(Event::default().data("[DONE]"));
                out
            }
        };
        futures::stream::iter(out.into_iter().map(Ok))
    });
    Box::pin(events)
}

/// The models the caller may use (enabled, allowed and available) in OpenAI's list format.
///
/// # Errors
/// - 401: Not signed in
#[route(get, "/v1/models", tag = "openai",
    responses((status = 200, description = "OpenAI model list")))]
pub async fn models(caller: Caller<ChatState>) -> ApiResult<Json<Value>> {
    let s = &caller.state;
    let data: Vec<Value> = s
        .service
        .models
        .for_user(*caller.auth.user_id())
        .await?
        .into_iter()
        .filter(|m| m.available)
        .map(|m| json!({"id": m.spec.id, "object": "model", "created": 0, "owned_by": m.spec.provider.to_string()}))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}
