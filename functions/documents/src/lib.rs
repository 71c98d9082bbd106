//! The `documents` function: upload (direct or presigned), list, read, rename, replace, delete
//! documents, and search them. Served on Lambda, by the local server and in tests.

use std::collections::HashSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ragenie_common::accounts::profiles::resolve_profile_chain;
use ragenie_common::accounts::web::Caller;
use ragenie_common::accounts::{ProfileId, UserId};
use ragenie_common::http::{Accepted, Created, Json, NoContent, function_router};
use ragenie_common::idempotency::{self, Idempotency, IdempotencyKey};
use ragenie_common::openapi::{FileName, route};
use ragenie_common::storage::PresignedUrl;
use ragenie_common::{ApiError, ApiResult, FunctionState};
use ragenie_corpus::{
    Corpus, DEFAULT_MOVE_BATCH, Document, DocumentKind, DocumentStatus, DocumentVersion,
    FolderMove, FolderSummary, MAX_MOVE_BATCH, NewDocument, PendingUpload, ProviderState,
    ReindexProgress, ReindexState, SearchHit,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The name this function's health route and logs carry.
pub const FUNCTION: &str = "documents";

type DocumentsState = FunctionState<Corpus>;

/// The function's one door. The corpus in `state` (with embeddings when configured) was built
/// at start, once; tests inject theirs through the state.
pub fn router(state: ProviderState) -> Router {
    let ProviderState {
        app: state, corpus, ..
    } = state;
    let upload_limit = DefaultBodyLimit::max(state.settings.max_upload_body);
    let docs = DocumentsState::shared(state.clone(), corpus);
    let routes = Router::new()
        .route("/documents", post(upload).layer(upload_limit).get(list))
        .route("/documents/uploads", post(start_upload))
        .route("/documents/folders", get(folders))
        .route("/documents/folders/rename", post(rename_folder))
        .route("/documents/{id}/commit", post(commit_upload))
        .route(
            "/documents/reindex",
            post(reindex_all).get(reindex_progress),
        )
        .route("/documents/{id}/reindex", post(reindex_one))
        .route(
            "/documents/{id}",
            get(get_document).patch(rename).delete(delete_document),
        )
        .route(
            "/documents/{id}/content",
            get(content).put(replace).layer(upload_limit),
        )
        .route("/search", get(search))
        .with_state(docs);
    function_router(FUNCTION, Router::new().merge(routes), state)
}

fn parse_kind(kind: &str) -> ApiResult<DocumentKind> {
    DocumentKind::parse(kind)
        .ok_or_else(|| ApiError::validation("kind", "expected `instructions` or `dataset`"))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadParams {
    /// `instructions` or `dataset` (with multipart/form-data, a `kind` part may give it instead).
    #[param(value_type = DocumentKind, required = true)]
    kind: Option<String>,
    /// The folder to put the document in (`a/b`; absent: the root). With multipart/form-data a
    /// `folder` part may give it instead. `.`/`..` names, control characters, more than 16
    /// levels or 400 characters are refused (422).
    #[param(max_length = 400)]
    folder: Option<String>,
    /// The document's name, unique in its folder (with multipart/form-data: a `name` part, else
    /// the file's name).
    #[param(value_type = String, required = true, min_length = 1, max_length = 200,
        pattern = r"^[^/\\\u0000-\u001f\u007f-\u009f]*[^/\\\s\u0000-\u001f\u007f-\u009f][^/\\\u0000-\u001f\u007f-\u009f]*$")]
    name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResult {
    #[serde(flatten)]
    document: Document,
    /// True when identical content was already stored: the existing document is returned.
    duplicate: bool,
}

/// An upload's status and body, as a retry with the same `Idempotency-Key` gets them again.
fn upload_outcome((document, created): (Document, bool)) -> ApiResult<(u16, serde_json::Value)> {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = serde_json::to_value(UploadResult {
        document,
        duplicate: !created,
    })
    .map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok((status.as_u16(), body))
}

fn json_response((status, body): (u16, serde_json::Value)) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, Json(body)).into_response()
}

/// A file's bytes as a request body: never empty.
struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .min_length(Some(1))
            .into()
    }
}

impl ToSchema for FileBytes {}

/// Upload a document: the raw bytes with their media type as Content-Type, or
/// `multipart/form-data` with a `file` part (and optional `kind`, `name` parts).
///
/// # Errors
/// - 400: the file is empty, or a malformed Idempotency-Key
/// - 409: a document of this name is already in the folder, or a request with this Idempotency-Key
///   is still in progress
/// - 413: over the direct-upload limit: use /documents/uploads
/// - 415: unsupported type
/// - 422: a bad name or folder path, or this Idempotency-Key was used with a different upload
#[route(post, "/documents", tag = "documents", params(UploadParams, IdempotencyKey),
    request_body(
        description = "the file's bytes with their media type (or multipart/form-data with `file`, `kind`, `name` parts)",
        content((FileBytes = "text/markdown", example = "# Notes"), (FileBytes = "text/plain"),
            (FileBytes = "text/html"), (FileBytes = "application/pdf"))),
    responses((status = 201, body = UploadResult),
        (status = 200, description = "identical content already stored", body = UploadResult)))]
async fn upload(
    caller: Caller<DocumentsState>,
    key: IdempotencyKey,
    Query(params): Query<UploadParams>,
    request: Request,
) -> ApiResult<Response> {
    let (user_id, s) = (caller.user(), &caller.state);
    let content_type = content_type(&request);
    let mut kind = params.kind;
    let mut name = params.name;
    let mut folder = params.folder;
    let (bytes, media_type) = if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &s)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let mut file = None;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(e.status(), e.body_text()))?
        {
            match field.name().unwrap_or_default() {
                "file" => {
                    let file_name = field.file_name().map(str::to_owned);
                    let part_type = field
                        .content_type()
                        .unwrap_or("application/octet-stream")
                        .to_owned();
                    let data = field
                        .bytes()
                        .await
                        .map_err(|e| multipart_error(e.status(), e.body_text()))?;
                    if name.is_none() {
                        name = file_name;
                    }
                    file = Some((data, part_type));
                }
                "kind" => kind = Some(text_part(field).await?),
                "name" => name = Some(text_part(field).await?),
                "folder" => folder = Some(text_part(field).await?),
                other => {
                    return Err(ApiError::validation(
                        other.to_owned(),
                        "unknown form field; send `file`, `kind`, `name`, `folder`",
                    ));
                }
            }
        }
        file.ok_or_else(|| ApiError::validation("file", "the form has no `file` part"))?
    } else {
        let bytes = body_bytes(request, s, || {
            format!(
                "direct uploads take up to {} bytes; use POST /documents/uploads for larger files",
                s.app.settings.max_upload_body
            )
        })
        .await?;
        (bytes, content_type)
    };
    let kind = parse_kind(
        kind.as_deref()
            .ok_or_else(|| ApiError::validation("kind", "say `instructions` or `dataset`"))?,
    )?;
    let name =
        name.ok_or_else(|| ApiError::validation("name", "name the document (query `name=`)"))?;
    let folder = ragenie_corpus::validate_folder(folder.as_deref().unwrap_or(""))?;
    let fingerprint = idempotency::fingerprint(&[
        kind.as_str().as_bytes(),
        name.as_bytes(),
        folder.as_bytes(),
        media_type.as_bytes(),
        &bytes,
    ]);
    let new = NewDocument {
        name,
        folder,
        kind,
        media_type,
        bytes,
    };
    let work = async { upload_outcome(s.service.upload(user_id, new).await?) };
    let outcome = Idempotency::new(s.app.table.clone())
        .once_json(user_id, "documents.upload", &key, &fingerprint, work)
        .await?;
    Ok(json_response(outcome))
}

/// The request's Content-Type (`""` when absent or not text).
fn content_type(request: &Request) -> String {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// The whole request body; over the body limit: 413 with `too_large`'s message.
async fn body_bytes(
    request: Request,
    s: &DocumentsState,
    too_large: impl FnOnce() -> String,
) -> ApiResult<Bytes> {
    Bytes::from_request(request, s).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(too_large())
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })
}

/// A text part of a multipart form (`kind`, `name`, `folder`).
async fn text_part(field: axum::extract::multipart::Field<'_>) -> ApiResult<String> {
    field
        .text()
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

fn multipart_error(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(
            "the file is over the direct-upload limit; use POST /documents/uploads".into(),
        )
    } else {
        ApiError::BadRequest(text)
    }
}

/// Start re-indexing: every ready document without the configured embedding model's vectors
/// is embedded again in the background (resumable, idempotent; uploads are not held up).
///
/// # Errors
/// - 409: no embedding model is configured
#[route(post, "/documents/reindex", tag = "documents")]
async fn reindex_all(caller: Caller<DocumentsState>) -> ApiResult<Accepted<ReindexProgress>> {
    queue_reindex(&caller.state, caller.user(), None).await
}

/// Queues `id` (`None`: every ready document) for re-indexing and starts the background run.
async fn queue_reindex(
    s: &DocumentsState,
    user_id: UserId,
    id: Option<&str>,
) -> ApiResult<Accepted<ReindexProgress>> {
    let progress = s.service.queue_reindex(user_id, id).await?;
    s.service.start_reindex(user_id);
    Ok(Accepted(progress))
}

/// Re-index one document (as `POST /documents/reindex`, for this document only); for a document
/// whose ingestion failed or stalled (`pending`/`processing` for 20 minutes), ingest it again
/// from its stored bytes (it turns `pending`, then as an upload).
///
/// # Errors
/// - 409: a ready document without an embedding model to re-index with, or an ingestion still under
///   way
#[route(post, "/documents/{id}/reindex", tag = "documents")]
async fn reindex_one(
    caller: Caller<DocumentsState>,
    Path(id): Path<String>,
) -> ApiResult<Accepted<ReindexProgress>> {
    let (user_id, s) = (caller.user(), &caller.state);
    if s.service.get(user_id, &id).await?.status != DocumentStatus::Ready {
        s.service.retry_ingest(user_id, &id).await?;
        let progress = s.service.reindex_progress(user_id).await?;
        return Ok(Accepted(progress));
    }
    queue_reindex(s, user_id, Some(&id)).await
}

/// The re-index progress over the caller's ready documents (each document also shows its own
/// `reindex` state and `embedding_model`). Resumes a re-index left unfinished by a restart.
#[route(get, "/documents/reindex", tag = "documents")]
async fn reindex_progress(caller: Caller<DocumentsState>) -> ApiResult<Json<ReindexProgress>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let progress = s.service.reindex_progress(user_id).await?;
    if progress.queued > 0 && !progress.running {
        s.service.start_reindex(user_id);
    }
    Ok(Json(progress))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartUpload {
    /// 1 to 200 characters, no control characters.
    #[schema(inline)]
    name: FileName,
    /// The folder to put the document in (`a/b`; absent: the root); the commit may override it.
    #[serde(default)]
    #[schema(max_length = 400)]
    folder: Option<String>,
    /// `instructions` or `dataset`.
    #[schema(value_type = DocumentKind)]
    kind: String,
    /// The file's media type; the PUT must send the same Content-Type.
    #[schema(value_type = UploadMediaType)]
    media_type: String,
    /// Exact size in bytes (at most 100 MiB); the commit refuses any other size.
    #[schema(minimum = 1, maximum = 104_857_600)]
    size: u64,
}

/// The media types a presigned upload takes (`application/octet-stream`: guessed at commit).
#[derive(ToSchema)]
#[allow(dead_code)]
enum UploadMediaType {
    #[schema(rename = "text/markdown")]
    Markdown,
    #[schema(rename = "text/plain")]
    PlainText,
    #[schema(rename = "text/html")]
    Html,
    #[schema(rename = "application/pdf")]
    Pdf,
    #[schema(rename = "application/octet-stream")]
    OctetStream,
}

/// Start a large upload: returns a presigned PUT URL; PUT the bytes there (with the returned
/// headers: the signed Content-Type and Content-Length), then commit.
///
/// # Errors
/// - 415: a media type RaGenie cannot read
/// - 422: a bad name, folder path or size
#[route(post, "/documents/uploads", tag = "documents")]
async fn start_upload(
    caller: Caller<DocumentsState>,
    Json(body): Json<StartUpload>,
) -> ApiResult<Created<PendingUpload>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let kind = parse_kind(&body.kind)?;
    // The announced size is a field of this request, not this request's body: 422, not 413.
    if body.size == 0 || body.size > ragenie_corpus::MAX_PRESIGNED_UPLOAD_BYTES {
        return Err(ApiError::validation(
            "size",
            format!("1 to {} bytes", ragenie_corpus::MAX_PRESIGNED_UPLOAD_BYTES),
        ));
    }
    let pending = s
        .service
        .start_upload(
            user_id,
            &body.name,
            body.folder.as_deref().unwrap_or(""),
            kind,
            &body.media_type,
            body.size,
        )
        .await?;
    Ok(Created(pending))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommitParams {
    /// Put the document in this folder instead of the one given when the upload started.
    #[param(max_length = 400)]
    folder: Option<String>,
}

/// Commit a presigned upload: checks the object's size (HEAD) before reading it and stores the
/// document; it is indexed in the background (`pending`, `processing`, then `ready` or
/// `failed`) where ingestion is queued.
///
/// # Errors
/// - 400: the file is empty
/// - 415: unreadable content
/// - 409: a document of this name is already in the folder, or a request with this Idempotency-Key
///   is still in progress
/// - 413: the uploaded object is over the limit (checked before it is read; nothing kept)
/// - 422: nothing uploaded yet, a size mismatch (nothing kept), a bad folder path, or an
///   Idempotency-Key used with another upload
#[route(post, "/documents/{id}/commit", tag = "documents",
    params(CommitParams, IdempotencyKey),
    responses((status = 201, body = UploadResult),
        (status = 200, description = "identical content already stored", body = UploadResult)))]
async fn commit_upload(
    caller: Caller<DocumentsState>,
    key: IdempotencyKey,
    Path(id): Path<String>,
    Query(params): Query<CommitParams>,
) -> ApiResult<Response> {
    let (user_id, s) = (caller.user(), &caller.state);
    let folder = params.folder.unwrap_or_default();
    let fingerprint = idempotency::fingerprint(&[id.as_bytes(), folder.as_bytes()]);
    let folder = (!folder.is_empty()).then_some(folder.as_str());
    let work = async { upload_outcome(s.service.commit_upload(user_id, &id, folder).await?) };
    let outcome = Idempotency::new(s.app.table.clone())
        .once_json(user_id, "documents.commit", &key, &fingerprint, work)
        .await?;
    Ok(json_response(outcome))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(value_type = Option<DocumentKind>)]
    kind: Option<String>,
    /// Only the documents this profile uses (its own and inherited ones, then those in its
    /// folders).
    profile: Option<String>,
    /// Only the documents in this folder (`a/b`; `""` or `/`: the root), ordered by folder then
    /// age.
    #[param(max_length = 400)]
    folder: Option<String>,
    /// With `folder`: also the documents in every folder below it.
    recursive: Option<bool>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    items: Vec<Document>,
    next_cursor: Option<String>,
}

/// The documents a profile uses, in order: its (and its ancestors') listed documents, then the
/// datasets of the folders it references — resolved against the cached catalog, so this reads
/// the profiles and the corpus version, never the document list when it has not changed.
async fn profile_documents(
    s: &DocumentsState,
    user_id: UserId,
    profile: &str,
    datasets_only: bool,
) -> ApiResult<Vec<Document>> {
    let profile_id = ProfileId::parse(profile).ok_or_else(|| ApiError::not_found("profile"))?;
    let chain = resolve_profile_chain(s.app.table.as_ref(), user_id, profile_id).await?;
    let catalog = s.service.catalog(user_id).await?;
    let mut ids = chain.dataset_ids();
    if !datasets_only {
        ids.splice(0..0, chain.instruction_ids());
    }
    let mut seen = HashSet::new();
    let listed = ids.iter().filter_map(|id| catalog.get(id));
    let folders = chain.folders();
    let in_folders = catalog
        .in_folders(&folders)
        .into_iter()
        .filter(|d| d.kind == DocumentKind::Dataset);
    Ok(listed
        .chain(in_folders)
        .filter(|d| seen.insert(d.id.clone()))
        .cloned()
        .collect())
}

/// `value` when it is 1 to `max`; else 422 naming `field` and the range.
fn bounded(value: usize, max: usize, field: &str) -> ApiResult<usize> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::validation(field, format!("1..={max}")))
    }
}

/// Offset cursors of a profile's document list (`o<n>`).
fn offset_cursor(cursor: Option<&str>) -> ApiResult<usize> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .strip_prefix('o')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ApiError::validation("cursor", "not a cursor this list issued")),
    }
}

/// List documents, oldest first; filter by kind, by profile or by folder.
///
/// # Errors
/// - 404: the caller has no such profile
/// - 422: a bad kind, limit, cursor or folder path
#[route(get, "/documents", tag = "documents", params(ListParams))]
async fn list(
    caller: Caller<DocumentsState>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<DocumentList>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let kind = params.kind.as_deref().map(parse_kind).transpose()?;
    let limit = bounded(params.limit.unwrap_or(50), 200, "limit")?;
    if let Some(profile) = params.profile {
        let start = offset_cursor(params.cursor.as_deref())?;
        let mut items: Vec<Document> = profile_documents(s, user_id, &profile, false)
            .await?
            .into_iter()
            .filter(|d| kind.is_none_or(|k| d.kind == k))
            .skip(start)
            .take(limit + 1)
            .collect();
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            format!("o{}", start + limit)
        });
        return Ok(Json(DocumentList { items, next_cursor }));
    }
    if let Some(folder) = params.folder {
        let (items, next_cursor) = s
            .service
            .list_folder(
                user_id,
                &folder,
                params.recursive.unwrap_or(false),
                kind,
                limit,
                params.cursor.as_deref(),
            )
            .await?;
        return Ok(Json(DocumentList { items, next_cursor }));
    }
    let (items, next_cursor) = s.service.list(user_id, kind, limit, params.cursor).await?;
    Ok(Json(DocumentList { items, next_cursor }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FolderParams {
    /// Folders per page, 1 to 1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FolderList {
    items: Vec<FolderSummary>,
    next_cursor: Option<String>,
}

/// The caller's folders as a tree's rows: every folder holding documents and its ancestors,
/// in tree order (the root `""` first, each folder followed by its subfolders), each with its direct and total document counts.
#[route(get, "/documents/folders", tag = "documents", params(FolderParams))]
async fn folders(
    caller: Caller<DocumentsState>,
    Query(params): Query<FolderParams>,
) -> ApiResult<Json<FolderList>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let limit = bounded(params.limit.unwrap_or(200), 1000, "limit")?;
    let (items, next_cursor) = s
        .service
        .folders(user_id, limit, params.cursor.as_deref())
        .await?;
    Ok(Json(FolderList { items, next_cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderRename {
    /// The folder to rename or move (`a/b`), with every folder below it.
    #[schema(min_length = 1, max_length = 400)]
    from: String,
    /// Its new path (`c`, `c/d`; a folder's name alone puts it at the top level). Not `from`
    /// nor inside it; a folder that exists already receives the documents when no name meets
    /// one there.
    #[schema(min_length = 1, max_length = 400)]
    to: String,
    /// Documents to move in this call, 1 to 500 (default 200).
    #[schema(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

/// Rename or move a folder with its subfolders: every document in it and below it moves
/// (`a/b/x` becomes `c/x`), and profiles referencing those folders follow. A call moves a
/// bounded batch and answers how many remain: repeat it until `done`. Name conflicts at the
/// destination are refused before anything moves.
///
/// # Errors
/// - 404: no document is in `from` or below it, and no profile references it
/// - 409: names already taken at the destination (named; nothing moved), or a name taken while the
///   move ran (saying how far it got; repeat once resolved)
/// - 422: a bad path or limit, the top level, or a destination inside the folder itself
#[route(post, "/documents/folders/rename", tag = "documents")]
async fn rename_folder(
    caller: Caller<DocumentsState>,
    Json(body): Json<FolderRename>,
) -> ApiResult<Json<FolderMove>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let limit = bounded(
        body.limit.unwrap_or(DEFAULT_MOVE_BATCH),
        MAX_MOVE_BATCH,
        "limit",
    )?;
    Ok(Json(
        s.service
            .move_folder(user_id, &body.from, &body.to, limit)
            .await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDetail {
    #[serde(flatten)]
    document: Document,
    /// Every version, newest first.
    versions: Vec<DocumentVersion>,
}

/// A document's metadata and its versions.
#[route(get, "/documents/{id}", tag = "documents")]
async fn get_document(
    caller: Caller<DocumentsState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentDetail>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let document = s.service.get(user_id, &id).await?;
    let versions = s.service.versions(user_id, &id).await?;
    Ok(Json(DocumentDetail { document, versions }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The new name, unique in the folder: 1 to 200 characters, no control characters, no `/`.
    #[schema(inline)]
    name: Option<FileName>,
    /// Move to this folder (`a/b`; `""`: the root).
    #[schema(max_length = 400)]
    folder: Option<String>,
}

/// Rename a document and/or move it to another folder.
///
/// # Errors
/// - 409: a document of this name is already in the target folder
/// - 422: a bad name or folder path
#[route(patch, "/documents/{id}", tag = "documents")]
async fn rename(
    caller: Caller<DocumentsState>,
    Path(id): Path<String>,
    Json(body): Json<Rename>,
) -> ApiResult<Json<Document>> {
    let (user_id, s) = (caller.user(), &caller.state);
    Ok(Json(
        s.service
            .update(user_id, &id, body.name.as_deref(), body.folder.as_deref())
            .await?,
    ))
}

/// Delete a document: its bytes, metadata, versions and index segments.
#[route(delete, "/documents/{id}", tag = "documents")]
async fn delete_document(
    caller: Caller<DocumentsState>,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let (user_id, s) = (caller.user(), &caller.state);
    s.service.delete(user_id, &id).await?;
    Ok(NoContent)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentParams {
    /// `text` returns the extracted text; `url` (the default) a presigned download URL.
    #[param(value_type = Option<ContentFormat>)]
    format: Option<String>,
}

/// What `GET /documents/{id}/content` answers with.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum ContentFormat {
    Text,
    Url,
}

/// Download a document (a presigned URL) or read its extracted text (`?format=text`).
#[route(get, "/documents/{id}/content", tag = "documents",
    params(ContentParams),
    responses((status = 200, description = "A presigned download URL, or (`format=text`) the extracted text", content((PresignedUrl = "application/json"), (String = "text/plain")))))]
async fn content(
    caller: Caller<DocumentsState>,
    Path(id): Path<String>,
    Query(params): Query<ContentParams>,
) -> ApiResult<Response> {
    let (user_id, s) = (caller.user(), &caller.state);
    match params.format.as_deref() {
        Some("text") => {
            let (_, text) = s.service.text(user_id, &id).await?;
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
        }
        None | Some("url") => Ok(Json(s.service.download_url(user_id, &id).await?).into_response()),
        Some(_) => Err(ApiError::validation("format", "expected `text` or `url`")),
    }
}

/// Replace a document's content: a new version (the old ones stay listed).
///
/// # Errors
/// - 400: the file is empty
/// - 409: identical to another document
/// - 415: a media type RaGenie cannot read
#[route(put, "/documents/{id}/content", tag = "documents",
    request_body(description = "the new bytes; Content-Type is their media type",
        content((FileBytes = "text/markdown"), (FileBytes = "text/plain"),
            (FileBytes = "text/html"), (FileBytes = "application/pdf"))))]
async fn replace(
    caller: Caller<DocumentsState>,
    Path(id): Path<String>,
    request: Request,
) -> ApiResult<Json<Document>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let content_type = content_type(&request);
    let bytes = body_bytes(request, s, || "over the direct-upload limit".into()).await?;
    Ok(Json(
        s.service
            .replace(user_id, &id, &content_type, bytes)
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The question, at most 2,000 characters.
    #[param(max_length = 2000)]
    q: String,
    /// Search this profile's datasets (listed, inherited and in its folders); all datasets
    /// when absent.
    profile: Option<String>,
    /// Number of results, 1..=50 (default 8).
    #[param(minimum = 1, maximum = 50)]
    k: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    items: Vec<SearchHit>,
}

/// Search the datasets of a profile: ranked chunks with document, heading path, offsets and a
/// highlighted snippet.
///
/// # Errors
/// - 404: the caller has no such profile
#[route(get, "/search", tag = "documents", params(SearchParams))]
async fn search(
    caller: Caller<DocumentsState>,
    Query(params): Query<SearchParams>,
) -> ApiResult<Json<SearchResults>> {
    let (user_id, s) = (caller.user(), &caller.state);
    let k = bounded(params.k.unwrap_or(8), 50, "k")?;
    if params.q.chars().count() > 2000 {
        return Err(ApiError::validation("q", "at most 2000 characters"));
    }
    let items = match &params.profile {
        Some(profile) => {
            let scope: HashSet<String> = profile_documents(s, user_id, profile, true)
                .await?
                .into_iter()
                .map(|d| d.id)
                .collect();
            s.service
                .search(user_id, Some(&scope), &params.q, k)
                .await?
        }
        None => s.service.search_datasets(user_id, &params.q, k).await?,
    };
    Ok(Json(SearchResults { items }))
}

#[derive(OpenApi)]
#[openapi(
    paths(upload, start_upload, commit_upload, list, folders, rename_folder, get_document, rename, delete_document, content, replace, search, reindex_all, reindex_one, reindex_progress),
    components(schemas(Document, FolderSummary, FolderList, FolderRename, FolderMove, DocumentVersion, DocumentKind, ContentFormat, UploadMediaType, ReindexProgress, ReindexState, UploadResult, StartUpload, PendingUpload, PresignedUrl, DocumentList, DocumentDetail, Rename, SearchHit, SearchResults)),
    tags((name = "documents", description = "Upload, manage and search documents"))
)]
struct DocumentsApi;

/// This function's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    DocumentsApi::openapi()
}
