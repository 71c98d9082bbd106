//! The `chat` function: streamed, grounded answers (Server-Sent Events), regenerate, stop, the
//! estimate before sending, the model list, and an OpenAI-compatible API. On Lambda it runs with
//! response streaming behind a Function URL; locally the same router streams the same events.

mod admin_models;
mod openai;

use std::convert::Infallible;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use futures::Stream;
use ragenie_common::accounts::web::Caller;
use ragenie_common::http::{Accepted, Json, decode_json, function_router};
use ragenie_common::idempotency::{self, IdempotencyKey};
use ragenie_common::openapi::route;
use ragenie_common::{ApiResult, FunctionState};
use ragenie_conversation::{
    AnswerEvent, ChatEvent, ChatService, Estimate, EstimateAsk, ModelRegistry, Once,
    RETRIEVAL_ONLY_MODEL, Turn,
};
use ragenie_corpus::ProviderState;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::ReceiverStream;
use utoipa::{OpenApi, ToSchema};

/// The name this function's health route and logs carry.
pub const FUNCTION: &str = "chat";

pub type ChatState = FunctionState<ChatService>;

/// The function's one door. The gateway and the corpus in `state` were built at start, once;
/// tests inject fakes through the state.
pub fn router(state: ProviderState) -> Router {
    let ProviderState {
        app: state,
        gateway,
        corpus,
    } = state;
    let service = ChatService::new(
        state.table.clone(),
        corpus,
        gateway,
        state.settings.operator.clone(),
    );
    let s = ChatState::new(state.clone(), service);
    let routes = Router::new()
        .route("/conversations/{id}/messages", post(send))
        .route(
            "/conversations/{id}/messages/{mid}/regenerate",
            post(regenerate),
        )
        .route("/conversations/{id}/stop", post(stop))
        .route("/chat/estimate", post(estimate))
        .route("/models", get(models))
        .route("/v1/chat/completions", post(openai::completions))
        .route("/v1/chat/completions/{id}/stop", post(openai::stop))
        .route("/v1/models", get(openai::models))
        .merge(admin_models::routes())
        .with_state(s);
    function_router(FUNCTION, Router::new().merge(routes), state)
}

/// Saves the answers a stopped process left unfinished as `interrupted` and gives back what
/// they held (quota, concurrent-answer slots); returns how many. The local server runs it at
/// start-up, before it serves.
pub async fn recover_interrupted_answers(state: &ProviderState) -> anyhow::Result<usize> {
    let service = ChatService::new(
        state.app.table.clone(),
        state.corpus.clone(),
        state.gateway.clone(),
        state.app.settings.operator.clone(),
    );
    Ok(service.pipeline.recover_interrupted().await?)
}

/// Ends every answer this process is streaming: each is saved as it stands, `interrupted`, and
/// its client gets an `error` event and the end of the stream (a draining server's last step).
pub fn interrupt_answers() {
    ragenie_conversation::interrupt_answers();
}

type BoxedEvents = Box<dyn Stream<Item = Result<Event, Infallible>> + Send + Unpin>;
type EventStream = Sse<BoxedEvents>;

/// The answer pipeline's events as Server-Sent Events (`event: meta|delta|error|usage|done`;
/// the pipeline's keep-alives as comments).
fn sse(rx: tokio::sync::mpsc::Receiver<AnswerEvent>) -> EventStream {
    use futures::StreamExt;
    let events = ReceiverStream::new(rx).flat_map(|event| {
        let events: Vec<Result<Event, Infallible>> = match event {
            AnswerEvent::KeepAlive => vec![Ok(Event::default().comment("keep-alive"))],
            other => ChatEvent::from_answer(other)
                .into_iter()
                .map(|e| Ok(web_event(&e)))
                .collect(),
        };
        futures::stream::iter(events)
    });
    Sse::new(Box::new(events) as BoxedEvents)
}

fn web_event(event: &ChatEvent) -> Event {
    Event::default()
        .event(event.name())
        .json_data(event)
        .unwrap_or_else(|_| {
            Event::default()
                .event("error")
                .data("{\"message\":\"unserialisable event\"}")
        })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The question: 1 to 100,000 characters, not only whitespace.
    #[schema(min_length = 1, max_length = 100_000, pattern = r"\S")]
    content: String,
    /// The answer this message follows; another answer than the latest makes a new branch
    /// (this is how an edited message is sent); `""` starts a new branch at the root (editing
    /// the first question). Default: the conversation's latest message.
    parent_id: Option<String>,
    /// Another model for this answer (default, by the model rule: the conversation's, the
    /// profile's, the user's, then the catalog's).
    model: Option<String>,
    /// Ids of the caller's ready documents to attach (at most 20): sent whole when they fit
    /// the model's window, else their best chunks; shown on the message and named in its
    /// context record.
    #[serde(default)]
    #[schema(max_items = 20)]
    attachments: Vec<String>,
}

/// Send a message and stream the grounded answer as Server-Sent Events: `meta` (message ids and
/// the context record), `delta`s, `usage`, `done` (finish reason and the stored message);
/// `error` when the provider fails (the partial answer is still stored).
///
/// # Errors
/// - 400: a malformed Idempotency-Key
/// - 402: a budget or the operator's monthly quota is spent
/// - 429: too many answers this minute or at once; see `Retry-After`
/// - 403: the model is disabled or not allowed for this account, or has no known price while the
///   account has an operator quota
/// - 409: the send with this Idempotency-Key is still being answered
/// - 422: an invalid field, or an Idempotency-Key used with another message
#[route(post, "/conversations/{id}/messages", tag = "chat",
    params(IdempotencyKey),
    responses((status = 200, description = "Server-Sent Events: `event:` is the ChatEvent's name, `data:` the event as JSON (a retry with the Idempotency-Key of a send whose answer was saved replays that answer: `meta`, one `delta`, `usage`, `done`)", content_type = "text/event-stream", body = ChatEvent)))]
async fn send(
    caller: Caller<ChatState>,
    key: IdempotencyKey,
    Path(id): Path<String>,
    Json(body): Json<SendMessage>,
) -> ApiResult<EventStream> {
    let s = &caller.state;
    let once = key.0.map(|key| Once {
        key,
        fingerprint: idempotency::fingerprint(&[
            id.as_bytes(),
            body.content.as_bytes(),
            &serde_json::to_vec(&(&body.parent_id, &body.model, &body.attachments))
                .unwrap_or_default(),
        ]),
    });
    let rx = s
        .service
        .start(
            caller.user(),
            &id,
            Turn::Send {
                content: body.content,
                parent_id: body.parent_id,
                attachments: body.attachments,
            },
            body.model,
            once,
        )
        .await?;
    Ok(sse(rx))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Regenerate {
    model: Option<String>,
}

/// Answer the same question again: a new sibling answer, streamed like `messages`.
///
/// # Errors
/// - 402: a budget or the operator's monthly quota is spent
/// - 429: too many answers this minute or at once; see `Retry-After`
/// - 403: the model is disabled or not allowed for this account, or has no known price while the
///   account has an operator quota
/// - 422: an unknown model, or one whose provider is not configured
#[route(post, "/conversations/{id}/messages/{mid}/regenerate", tag = "chat",
    request_body = Regenerate,
    params(("mid" = String, Path, description = "the answer to regenerate")),
    responses((status = 200, description = "Server-Sent Events, as for `messages`",
        content_type = "text/event-stream", body = ChatEvent)))]
async fn regenerate(
    caller: Caller<ChatState>,
    Path((id, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<EventStream> {
    let s = &caller.state;
    let body: Regenerate = if body.iter().all(u8::is_ascii_whitespace) {
        Regenerate::default()
    } else {
        decode_json(&body)?
    };
    let rx = s
        .service
        .start(
            caller.user(),
            &id,
            Turn::Regenerate { message_id: mid },
            body.model,
            None,
        )
        .await?;
    Ok(sse(rx))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stopping {
    stopping: bool,
}

/// Stop the answer being streamed in this conversation (closing the stream also stops it
/// locally; on Lambda the function runs on after a disconnect, so this flag is what stops it).
/// The partial answer is saved with finish reason `stopped`.
#[route(post, "/conversations/{id}/stop", tag = "chat")]
async fn stop(caller: Caller<ChatState>, Path(id): Path<String>) -> ApiResult<Accepted<Stopping>> {
    let s = &caller.state;
    s.service.request_stop(caller.user(), &id).await?;
    Ok(Accepted(Stopping { stopping: true }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    /// The text being typed, at most 100,000 characters (may be empty).
    #[schema(max_length = 100_000)]
    content: String,
    conversation_id: Option<String>,
    profile_id: Option<String>,
    model: Option<String>,
    parent_id: Option<String>,
    /// Documents to be attached to the message (ids, at most 20).
    #[serde(default)]
    #[schema(max_items = 20)]
    attachments: Vec<String>,
}

/// Before sending: tokens by source (instructions, datasets, history, prompt), whether datasets
/// go whole or retrieved, and the estimated input cost for the model.
///
/// # Errors
/// - 404: no such conversation or profile
/// - 403: the model is disabled or not allowed for this account
/// - 422: an invalid field, an unknown model, or an attachment that is not one of the caller's
///   ready documents
#[route(post, "/chat/estimate", tag = "chat")]
async fn estimate(
    caller: Caller<ChatState>,
    Json(body): Json<EstimateRequest>,
) -> ApiResult<Json<Estimate>> {
    let s = &caller.state;
    let estimate = s
        .service
        .estimate(
            caller.user(),
            EstimateAsk {
                conversation_id: body.conversation_id.as_deref(),
                profile_id: body.profile_id.as_deref(),
                model: body.model,
                content: &body.content,
                parent_id: body.parent_id.as_deref(),
                attachments: &body.attachments,
            },
        )
        .await?;
    Ok(Json(estimate))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    id: String,
    provider: String,
    display_name: String,
    context_window: u32,
    max_output_tokens: u32,
    /// USD per million tokens; `null`: the price is unknown (answers are usable, their cost is
    /// reported as unknown, never as free).
    input_price: Option<f64>,
    output_price: Option<f64>,
    cache_read_price: Option<f64>,
    cache_write_price: Option<f64>,
    available: bool,
    unavailable_reason: Option<String>,
    default_temperature: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    items: Vec<ModelInfo>,
    /// What a conversation without a model uses.
    default_model: String,
    /// No provider is configured: answers come from the documents alone.
    offline: bool,
}

/// The models the caller may pick: enabled by the operator and on the caller's allow-list, with
/// availability (a provider without a key is listed as unavailable).
///
/// # Errors
/// - 401: Not signed in
#[route(get, "/models", tag = "chat")]
async fn models(caller: Caller<ChatState>) -> ApiResult<Json<ModelList>> {
    let s = &caller.state;
    let listed = s.service.models.for_user(caller.user()).await?;
    let default_model = ModelRegistry::default_of(&listed);
    let mut items: Vec<ModelInfo> = listed
        .into_iter()
        .map(|m| {
            let pricing = m.spec.pricing;
            ModelInfo {
                id: m.spec.id,
                provider: m.spec.provider.to_string(),
                display_name: m.spec.display_name,
                context_window: m.spec.context_window,
                max_output_tokens: m.spec.max_output_tokens,
                input_price: pricing.map(|p| p.input),
                output_price: pricing.map(|p| p.output),
                cache_read_price: pricing.and_then(|p| p.cache_read),
                cache_write_price: pricing.and_then(|p| p.cache_write),
                available: m.available,
                unavailable_reason: m.unavailable_reason,
                default_temperature: m.spec.temperature.default,
            }
        })
        .collect();
    let offline = !items.iter().any(|m| m.available);
    items.push(ModelInfo {
        id: RETRIEVAL_ONLY_MODEL.into(),
        provider: "ragenie".into(),
        display_name: "Retrieval only (offline)".into(),
        context_window: 32_000,
        max_output_tokens: 2_000,
        input_price: Some(0.0),
        output_price: Some(0.0),
        cache_read_price: None,
        cache_write_price: None,
        available: true,
        unavailable_reason: None,
        default_temperature: 0.0,
    });
    Ok(Json(ModelList {
        default_model,
        offline,
        items,
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(send, regenerate, stop, estimate, models, openai::completions, openai::stop, openai::models),
    components(schemas(SendMessage, Regenerate, Stopping, EstimateRequest, Estimate, ModelInfo, ModelList, ChatEvent)),
    tags((name = "chat", description = "Streamed grounded answers"), (name = "openai", description = "OpenAI-compatible API"))
)]
struct ChatApi;

/// This function's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ChatApi::openapi();
    doc.merge(admin_models::AdminModelsApi::openapi());
    doc
}
