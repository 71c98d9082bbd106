//! The `conversations` function: create, list, read (the whole message tree), rename, delete,
//! search and export conversations; usage by day and model; monthly budgets.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ragenie_common::accounts::web::Caller;
use ragenie_common::http::{Created, Json, NoContent, function_router};
use ragenie_common::openapi::{OneLine, route};
use ragenie_common::{ApiError, ApiResult, AppState, FunctionState};
use ragenie_conversation::{
    Budgets, Conversation, ConversationHit, ConversationIndex, ConversationStore, ImportedMessage,
    Message, NewImport, UsageLedger, UsageReport, UsageRow, branch_to, conversations,
    export_markdown,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The name this function's health route and logs carry.
pub const FUNCTION: &str = "conversations";

/// What this function serves from: the conversations, the usage ledger and the search index.
pub struct Conversations {
    store: ConversationStore,
    usage: UsageLedger,
    index: ConversationIndex,
}

type ConversationsState = FunctionState<Conversations>;

pub fn router(state: AppState) -> Router {
    let service = Conversations {
        store: ConversationStore::new(state.table.clone()),
        usage: UsageLedger::new(state.table.clone()),
        index: ConversationIndex::new(state.table.clone(), state.blobs.clone()),
    };
    let s = ConversationsState::new(state.clone(), service);
    let routes = Router::new()
        .route("/conversations", get(list).post(create))
        .route("/conversations/search", get(search))
        .route(
            "/conversations/import",
            post(import).layer(DefaultBodyLimit::max(state.settings.max_upload_body)),
        )
        .route(
            "/conversations/{id}",
            get(read).patch(update).delete(delete),
        )
        .route("/conversations/{id}/export", get(export))
        .route("/usage", get(usage))
        .route("/usage/budget", get(get_budget).put(put_budget))
        .with_state(s);
    function_router(FUNCTION, Router::new().merge(routes), state)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    /// The profile whose instructions and datasets ground the answers.
    profile_id: Option<String>,
    /// A model id from GET /models; defaults to the profile's, then the user's default; empty
    /// means "the default at send time". At most 200 characters.
    #[schema(max_length = 200)]
    model: Option<String>,
    /// 1 to 200 characters, no control characters (default: from the first message).
    #[schema(inline)]
    title: Option<OneLine<200>>,
}

/// Start a conversation.
///
/// # Errors
/// - 422: unknown profile
#[route(post, "/conversations", tag = "conversations")]
async fn create(
    caller: Caller<ConversationsState>,
    Json(body): Json<NewConversation>,
) -> ApiResult<Created<Conversation>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let new = conversations::NewConversation {
        profile_id: body.profile_id,
        model: body.model,
        title: body.title.map(String::from),
    };
    let conv = conversations::create(&s.store, user_id, new).await?;
    Ok(Created(conv))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportConversation {
    title: String,
    profile_id: Option<String>,
    model: Option<String>,
    /// When the conversation happened (RFC 3339), e.g. a Ragbot session file's time.
    created_at: Option<String>,
    /// A key of the caller's choosing (e.g. a hash of the source file): importing the same key
    /// again returns the existing conversation with 200 instead of creating another.
    import_key: Option<String>,
    /// The turns, oldest first; they are chained in order.
    messages: Vec<ImportedMessage>,
}

/// Import a conversation as it happened elsewhere (Ragbot sessions), without calling a model.
#[route(post, "/conversations/import", tag = "conversations",
    responses((status = 201, body = Conversation),
        (status = 200, description = "already imported under this import_key", body = Conversation)))]
async fn import(
    caller: Caller<ConversationsState>,
    Json(body): Json<ImportConversation>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    let (user_id, s) = (caller.user(), &caller.state);
    let created_at = body
        .created_at
        .as_deref()
        .map(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339))
        .transpose()
        .map_err(|_| ApiError::validation("created_at", "an RFC 3339 timestamp"))?;
    let import = NewImport {
        title: body.title,
        profile_id: body.profile_id,
        model: body.model.unwrap_or_default(),
        created_at,
        import_key: body.import_key,
        messages: body.messages,
    };
    let (conv, created) = conversations::import(&s.store, user_id, import).await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(conv),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Items per page, 1 to 100 (default 30).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    items: Vec<Conversation>,
    next_cursor: Option<String>,
}

/// The user's conversations, most recently active first.
#[route(get, "/conversations", tag = "conversations", params(ListParams))]
async fn list(
    caller: Caller<ConversationsState>,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<ConversationList>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let limit = p.limit.unwrap_or(30);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("limit", "1..=100"));
    }
    let (items, next_cursor) = s.store.list(user_id, limit, p.cursor).await?;
    Ok(Json(ConversationList { items, next_cursor }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    #[serde(flatten)]
    conversation: Conversation,
    /// Every message, oldest first; `parent_id` links them into a tree (edits and regenerated
    /// answers are siblings).
    messages: Vec<Message>,
}

/// A conversation with its whole message tree.
#[route(get, "/conversations/{id}", tag = "conversations")]
async fn read(
    caller: Caller<ConversationsState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversationDetail>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let conversation = s.store.get(user_id, &id).await?;
    let messages = s.store.messages(user_id, &id).await?;
    Ok(Json(ConversationDetail {
        conversation,
        messages,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationPatch {
    /// 1 to 200 characters, no control characters.
    #[schema(inline)]
    title: Option<OneLine<200>>,
    /// At most 200 characters.
    #[schema(max_length = 200)]
    model: Option<String>,
    /// `null` detaches the profile.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    profile_id: Option<Option<String>>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// Rename a conversation or change its model or profile.
#[route(patch, "/conversations/{id}", tag = "conversations")]
async fn update(
    caller: Caller<ConversationsState>,
    Path(id): Path<String>,
    Json(body): Json<ConversationPatch>,
) -> ApiResult<Json<Conversation>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let change = conversations::ConversationChange {
        title: body.title.map(String::from),
        model: body.model,
        profile_id: body.profile_id,
    };
    Ok(Json(
        conversations::update(&s.store, user_id, &id, change).await?,
    ))
}

/// Delete a conversation and every message in it.
#[route(delete, "/conversations/{id}", tag = "conversations")]
async fn delete(
    caller: Caller<ConversationsState>,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let (user_id, s) = (caller.user(), &caller.state);
    s.store.delete(user_id, &id).await?;
    Ok(NoContent)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to look for in titles and messages (stemmed, case-insensitive; conversations with
    /// more of them rank first), at most 500 characters.
    #[param(min_length = 1, max_length = 500, pattern = r"\S")]
    q: String,
    /// Most hits, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationHits {
    items: Vec<ConversationHit>,
}

/// Full-text search over titles and message text: BM25 over the user's conversation index,
/// best conversations first, each with its best message and a highlighted snippet.
#[route(
    get,
    "/conversations/search",
    tag = "conversations",
    params(SearchParams)
)]
async fn search(
    caller: Caller<ConversationsState>,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<ConversationHits>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let items = ragenie_conversation::search::search(&s.index, user_id, &p.q, p.limit).await?;
    Ok(Json(ConversationHits { items }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `md` or `markdown` (the current branch as Markdown, the default) or `json` (the whole tree).
    #[param(value_type = Option<ExportFormat>)]
    format: Option<String>,
}

/// The formats a conversation exports to.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum ExportFormat {
    Md,
    Markdown,
    Json,
}

/// Export a conversation as Markdown or JSON.
#[route(get, "/conversations/{id}/export", tag = "conversations",
    params(ExportParams),
    responses((status = 200, description = "The conversation as a file", content((String = "text/markdown"), (ConversationDetail = "application/json")))))]
async fn export(
    caller: Caller<ConversationsState>,
    Path(id): Path<String>,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    let (user_id, s) = (caller.user(), &caller.state);
    let conversation = s.store.get(user_id, &id).await?;
    let messages = s.store.messages(user_id, &id).await?;
    let file = |ext: &str| format!("attachment; filename=\"conversation-{id}.{ext}\"");
    match p.format.as_deref().unwrap_or("md") {
        "md" | "markdown" => {
            let branch = branch_to(&messages, conversation.head_id.as_deref());
            let body = export_markdown(&conversation, &branch);
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        "text/markdown; charset=utf-8".to_owned(),
                    ),
                    (header::CONTENT_DISPOSITION, file("md")),
                ],
                body,
            )
                .into_response())
        }
        "json" => {
            let body = serde_json::to_string_pretty(&ConversationDetail {
                conversation,
                messages,
            })
            .map_err(anyhow::Error::from)?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                    (header::CONTENT_DISPOSITION, file("json")),
                ],
                body,
            )
                .into_response())
        }
        _ => Err(ApiError::validation("format", "`md` or `json`")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// First day, `YYYY-MM-DD` (default: 30 days ago).
    #[param(format = Date)]
    from: Option<String>,
    /// Last day, `YYYY-MM-DD`, not before `from` (default: today).
    #[param(format = Date)]
    to: Option<String>,
}

/// Tokens and cost by day and by model, this month's spending and the budgets.
#[route(get, "/usage", tag = "usage", params(UsageParams))]
async fn usage(
    caller: Caller<ConversationsState>,
    Query(p): Query<UsageParams>,
) -> ApiResult<Json<UsageReport>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let today = time::OffsetDateTime::now_utc().date();
    let day = |d: time::Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    let from = p
        .from
        .unwrap_or_else(|| day(today - time::Duration::days(30)));
    let to = p.to.unwrap_or_else(|| day(today));
    Ok(Json(s.usage.report(user_id, &from, &to).await?))
}

/// The monthly budgets.
#[route(get, "/usage/budget", tag = "usage")]
async fn get_budget(caller: Caller<ConversationsState>) -> ApiResult<Json<Budgets>> {
    let (user_id, s) = (caller.user(), &caller.state);
    Ok(Json(s.usage.budgets(user_id).await?))
}

/// Set the monthly budgets (account-wide and per profile, in USD); new messages are refused
/// with 402 once a budget is spent.
#[route(put, "/usage/budget", tag = "usage")]
async fn put_budget(
    caller: Caller<ConversationsState>,
    Json(budgets): Json<Budgets>,
) -> ApiResult<Json<Budgets>> {
    let (user_id, s) = (caller.user(), &caller.state);
    conversations::set_budgets(&s.usage, &s.store, user_id, &budgets).await?;
    Ok(Json(budgets))
}

#[derive(OpenApi)]
#[openapi(
    paths(create, import, list, read, update, delete, search, export, usage, get_budget, put_budget),
    components(schemas(ExportFormat, Conversation, Message, NewConversation, ImportConversation, ImportedMessage, ConversationList, ConversationDetail, ConversationPatch, ConversationHit, ConversationHits, UsageReport, UsageRow, Budgets)),
    tags((name = "conversations", description = "Conversations and their message trees"), (name = "usage", description = "Tokens, cost and budgets"))
)]
struct ConversationsApi;

/// This function's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ConversationsApi::openapi()
}
