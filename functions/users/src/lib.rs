//! The `users` function: the caller's preferences and profiles. Served on Lambda, by the local
//! server and in tests.

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use ragenie_common::accounts::preferences::{self, Preferences};
use ragenie_common::accounts::profiles::{self, NewProfile, Profile, ProfilePatch};
use ragenie_common::accounts::web::{Caller, ListParams, path_id};
use ragenie_common::accounts::{ListPage, ProfileId};
use ragenie_common::http::{Created, HealthAnswers, Json, NoContent, function_router};
use ragenie_common::openapi::route;
use ragenie_common::{ApiResult, AppState};
use utoipa::OpenApi;

/// The name this function's health route and logs carry.
pub const FUNCTION: &str = "users";

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(
            "/users/me/preferences",
            get(get_preferences).put(put_preferences),
        )
        .route("/profiles", get(list_profiles).post(create_profile))
        .route(
            "/profiles/{id}",
            get(get_profile)
                .patch(update_profile)
                .delete(delete_profile),
        );
    function_router(FUNCTION, routes, state)
}

/// The caller's preferences (defaults until saved).
#[route(get, "/users/me/preferences", tag = "users")]
async fn get_preferences(caller: Caller) -> ApiResult<Json<Preferences>> {
    Ok(Json(preferences::get(caller.table(), caller.user()).await?))
}

/// Replaces the caller's preferences.
///
/// # Errors
/// - 422: Unknown field, unknown theme, or a default profile the caller does not have
#[route(put, "/users/me/preferences", tag = "users")]
async fn put_preferences(
    caller: Caller,
    Json(body): Json<Preferences>,
) -> ApiResult<Json<Preferences>> {
    Ok(Json(
        preferences::put(caller.table(), caller.user(), body).await?,
    ))
}

/// Creates a profile.
///
/// # Errors
/// - 422: A field is invalid (`field` names it), a parent does not exist, or inheritance would
///   cycle
#[route(post, "/profiles", tag = "profiles")]
async fn create_profile(
    caller: Caller,
    Json(body): Json<NewProfile>,
) -> ApiResult<Created<Profile>> {
    let profile = profiles::create(caller.table(), caller.user(), body).await?;
    Ok(Created(profile))
}

/// The caller's profiles, oldest first.
#[route(get, "/profiles", tag = "profiles", params(ListParams))]
async fn list_profiles(caller: Caller, params: ListParams) -> ApiResult<Json<ListPage<Profile>>> {
    let user = caller.user();
    let page = profiles::list(caller.table(), user, params.limit(), params.cursor).await?;
    Ok(Json(page))
}

/// The profile id of a `/profiles/{id}` path (404 when it is not one).
fn profile_id(id: &str) -> ApiResult<ProfileId> {
    path_id(id, "profile")
}

/// One of the caller's profiles.
#[route(get, "/profiles/{id}", tag = "profiles")]
async fn get_profile(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Profile>> {
    let id = profile_id(&id)?;
    Ok(Json(
        profiles::get(caller.table(), caller.user(), id).await?,
    ))
}

/// Changes the fields present in the body.
///
/// # Errors
/// - 409: `version` is stale, or a concurrent change won
/// - 422: A field is invalid, or inheritance would cycle
#[route(patch, "/profiles/{id}", tag = "profiles")]
async fn update_profile(
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ProfilePatch>,
) -> ApiResult<Json<Profile>> {
    let id = profile_id(&id)?;
    Ok(Json(
        profiles::update(caller.table(), caller.user(), id, body).await?,
    ))
}

/// Deletes a profile (refused while other profiles inherit from it).
///
/// # Errors
/// - 409: Other profiles inherit from it
#[route(delete, "/profiles/{id}", tag = "profiles")]
async fn delete_profile(caller: Caller, Path(id): Path<String>) -> ApiResult<NoContent> {
    profiles::delete(caller.table(), caller.user(), profile_id(&id)?).await?;
    Ok(NoContent)
}

/// Documents the health route `function_router` adds.
#[route(get, "/users/health", tag = "health", responses(HealthAnswers))]
#[allow(dead_code)]
async fn health() {}

#[derive(OpenApi)]
#[openapi(
    paths(health, get_preferences, put_preferences, create_profile, list_profiles, get_profile,
          update_profile, delete_profile),
    tags(
        (name = "users", description = "The caller's preferences"),
        (name = "profiles", description = "Profiles: instructions, datasets, model settings, inheritance"),
    )
)]
struct UsersApi;

/// This function's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    UsersApi::openapi()
}
