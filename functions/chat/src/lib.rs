//! The `chat` function: streamed, grounded answers (Server-Sent Events), regenerate, stop, the
//! estimate before sending, the model list, and an OpenAI-compatible API. On Lambda it runs with
//! response streaming behind a Function URL; locally the same router streams the same events.

mod openai;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use ragenie_common::auth::AuthUser;
use ragenie_common::http::{ApiJson, decode_json, function_router};
use ragenie_common::{ApiError, ApiResult, AppState};
use ragenie_conversation::{ChatEvent, ChatService, Estimate, RETRIEVAL_ONLY_MODEL, Turn};
use ragenie_corpus::Corpus;
use ragenie_corpus::embedding::with_configured_embeddings;
use ragenie_gateway::{Gateway, GatewayConfig, ModelKind, ProviderKeys};
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::ReceiverStream;
use utoipa::{OpenApi, ToSchema};

/// The name this function's health route and logs carry.
pub const FUNCTION: &str = "chat";

#[derive(Clone)]
pub struct ChatState {
    app: AppState,
    service: Arc<ChatService>,
}

impl FromRef<ChatState> for AppState {
    fn from_ref(state: &ChatState) -> AppState {
        state.app.clone()
    }
}

/// The router with provider keys and base URLs from the environment (the local server).
pub fn router(state: AppState) -> Router {
    router_with_keys(state, ProviderKeys::from_env())
}

pub use ragenie_corpus::embedding::load_provider_keys;

pub fn router_with_keys(state: AppState, keys: ProviderKeys) -> Router {
    // Token counting needs the tiktoken tables: build them off the request path at start.
    ragenie_gateway::preload_tokenizers();
    // Start-up, not a request: a malformed base URL stops the process naming the variable.
    let config = GatewayConfig::from_env()
        .unwrap_or_else(|e| panic!("invalid LLM gateway configuration: {e}"));
    let gateway = Gateway::new(config, keys)
        .unwrap_or_else(|e| panic!("could not build the LLM gateway: {e}"));
    router_with_gateway(state, Arc::new(gateway))
}

pub fn router_with_gateway(state: AppState, gateway: Arc<Gateway>) -> Router {
    // Start-up, not a request: an unknown embedding model or a missing key stops the process.
    let corpus = with_configured_embeddings(
        Corpus::new(state.table.clone(), state.blobs.clone()),
        state.settings.embedding.as_ref(),
        &gateway,
    )
    .unwrap_or_else(|e| panic!("invalid RAGENIE_EMBEDDING_MODEL: {e}"));
    let corpus = Arc::new(corpus);
    let service = Arc::new(ChatService::new(state.table.clone(), corpus, gateway));
    let s = ChatState {
        app: state.clone(),
        service,
    };
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
        .route("/v1/models", get(openai::models))
        .with_state(s);
    function_router(FUNCTION, Router::new().merge(routes), state)
}

fn user_id(auth: &AuthUser) -> String {
    auth.user_id().to_string()
}

type BoxedEvents = Box<dyn Stream<Item = Result<Event, Infallible>> + Send + Unpin>;
type EventStream = Sse<axum::response::sse::KeepAliveStream<BoxedEvents>>;

/// The answer's events as Server-Sent Events (`event: meta|delta|error|usage|done`).
fn sse(rx: tokio::sync::mpsc::Receiver<ChatEvent>) -> EventStream {
    use futures::StreamExt;
    let events = ReceiverStream::new(rx).map(|event| {
        let sse = Event::default().event(event.name());
        Ok(sse.json_data(&event).unwrap_or_else(|_| {
            Event::default()
                .event("error")
                .data("{\"message\":\"unserialisable event\"}")
        }))
    });
    Sse::new(Box::new(events) as BoxedEvents)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    content: String,
    /// The answer this message follows; another answer than the latest makes a new branch
    /// (this is how an edited message is sent); `""` starts a new branch at the root (editing
    /// the first question). Default: the conversation's latest message.
    parent_id: Option<String>,
    /// Another model for this answer (default: the conversation's).
    model: Option<String>,
}

/// Send a message and stream the grounded answer as Server-Sent Events: `meta` (message ids and
/// the context record), `delta`s, `usage`, `done` (finish reason and the stored message);
/// `error` when the provider fails (the partial answer is still stored).
#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "chat", params(("id" = String, Path)), request_body = SendMessage,
    responses((status = 200, description = "text/event-stream of ChatEvent", body = ChatEvent), (status = 402, description = "budget spent"), (status = 404)),
    security(("bearer" = [])))]
async fn send(
    auth: AuthUser,
    State(s): State<ChatState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SendMessage>,
) -> ApiResult<EventStream> {
    let model = resolve_model(body.model);
    let rx = s
        .service
        .start(
            &user_id(&auth),
            &id,
            Turn::Send {
                content: body.content,
                parent_id: body.parent_id,
            },
            model,
        )
        .await?;
    Ok(sse(rx))
}

/// An empty model means "the default": the conversation's, else the first available.
fn resolve_model(model: Option<String>) -> Option<String> {
    model.filter(|m| !m.trim().is_empty())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Regenerate {
    model: Option<String>,
}

/// Answer the same question again: a new sibling answer, streamed like `messages`.
#[utoipa::path(post, path = "/conversations/{id}/messages/{mid}/regenerate", tag = "chat",
    params(("id" = String, Path), ("mid" = String, Path, description = "the answer to regenerate")), request_body = Regenerate,
    responses((status = 200, description = "text/event-stream of ChatEvent")), security(("bearer" = [])))]
async fn regenerate(
    auth: AuthUser,
    State(s): State<ChatState>,
    Path((id, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<EventStream> {
    let body: Regenerate = if body.iter().all(u8::is_ascii_whitespace) {
        Regenerate::default()
    } else {
        decode_json(&body)?
    };
    let model = resolve_model(body.model);
    let rx = s
        .service
        .start(
            &user_id(&auth),
            &id,
            Turn::Regenerate { message_id: mid },
            model,
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
#[utoipa::path(post, path = "/conversations/{id}/stop", tag = "chat", params(("id" = String, Path)),
    responses((status = 202, body = Stopping), (status = 404)), security(("bearer" = [])))]
async fn stop(
    auth: AuthUser,
    State(s): State<ChatState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Stopping>)> {
    s.service.request_stop(&user_id(&auth), &id).await?;
    Ok((StatusCode::ACCEPTED, Json(Stopping { stopping: true })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    content: String,
    conversation_id: Option<String>,
    profile_id: Option<String>,
    model: Option<String>,
    parent_id: Option<String>,
}

/// Before sending: tokens by source (instructions, datasets, history, prompt), whether datasets
/// go whole or retrieved, and the estimated input cost for the model.
#[utoipa::path(post, path = "/chat/estimate", tag = "chat", request_body = EstimateRequest,
    responses((status = 200, body = Estimate)), security(("bearer" = [])))]
async fn estimate(
    auth: AuthUser,
    State(s): State<ChatState>,
    ApiJson(body): ApiJson<EstimateRequest>,
) -> ApiResult<Json<Estimate>> {
    if body.content.chars().count() > ragenie_conversation::chat::MAX_MESSAGE_CHARS {
        return Err(ApiError::validation("content", "too long"));
    }
    let model = resolve_model(body.model);
    let estimate = s
        .service
        .estimate(
            &user_id(&auth),
            body.conversation_id.as_deref(),
            body.profile_id.as_deref(),
            model.as_deref(),
            &body.content,
            body.parent_id.as_deref(),
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
    /// USD per million tokens.
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

/// The model catalog with availability (a provider without a key is listed as unavailable).
#[utoipa::path(get, path = "/models", tag = "chat", responses((status = 200, body = ModelList)), security(("bearer" = [])))]
async fn models(_auth: AuthUser, State(s): State<ChatState>) -> Json<ModelList> {
    let mut items: Vec<ModelInfo> = s
        .service
        .gateway
        .models()
        .into_iter()
        .filter(|m| m.model.kind == ModelKind::Chat)
        .map(|m| ModelInfo {
            id: m.model.id.clone(),
            provider: m.model.provider.to_string(),
            display_name: m.model.display_name.clone(),
            context_window: m.model.context_window,
            max_output_tokens: m.model.max_output_tokens,
            input_price: m.model.pricing.as_ref().map(|p| p.input),
            output_price: m.model.pricing.as_ref().map(|p| p.output),
            cache_read_price: m.model.pricing.as_ref().and_then(|p| p.cache_read),
            cache_write_price: m.model.pricing.as_ref().and_then(|p| p.cache_write),
            available: m.available,
            unavailable_reason: m.unavailable_reason,
            default_temperature: m.model.temperature.default,
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
    Json(ModelList {
        default_model: s.service.default_model(),
        offline,
        items,
    })
}

#[derive(OpenApi)]
#[openapi(
    paths(send, regenerate, stop, estimate, models, openai::completions, openai::models),
    components(schemas(SendMessage, Regenerate, Stopping, EstimateRequest, Estimate, ModelInfo, ModelList, ChatEvent)),
    tags((name = "chat", description = "Streamed grounded answers"), (name = "openai", description = "OpenAI-compatible API"))
)]
struct ChatApi;

/// This function's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ChatApi::openapi()
}
