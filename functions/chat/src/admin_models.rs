//! Model management for admins (`/admin/models`): enable and disable catalog models, set their
//! limits and prices, and add models of a configured provider (an Ollama or vLLM model on the
//! OpenAI-compatible server, a new snapshot). Served by the chat function, which owns the
//! catalog and the provider keys, and whose model cache an edit updates at once (other
//! instances within `model_settings::CACHE_TTL`). Every route takes [`AdminUser`]: anyone else
//! gets 403. Per-user allow-lists are `allowed_models` of `PATCH /admin/users/{id}`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use ragenie_common::accounts::ListPage;
use ragenie_common::accounts::model_settings::{ModelRule, ModelSettings};
use ragenie_common::accounts::operator::AdminUser;
use ragenie_common::accounts::{AccountError, AccountResult};
use ragenie_common::error::Problem;
use ragenie_common::http::{Created, Json, NoContent, not_null, present};
use ragenie_common::openapi::route;
use ragenie_common::{ApiError, ApiResult};
use ragenie_conversation::ListedModel;
use ragenie_conversation::registry::parse_provider;
use serde::{Deserialize, Serialize};
use utoipa::{IntoResponses, OpenApi, ToSchema};

use crate::ChatState;

pub fn routes() -> Router<ChatState> {
    Router::new()
        .route("/admin/models", get(list).post(add))
        .route(
            "/admin/models/{id}",
            axum::routing::patch(change).delete(remove),
        )
}

/// Where a model comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelSource {
    /// The built-in catalog (or the compatible server's configured list).
    Catalog,
    /// Added by an admin.
    Added,
}

/// A chat model as the admin console shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminModel {
    /// The id users pick (for a model on the OpenAI-compatible server: its id there).
    pub id: String,
    /// `openai`, `anthropic`, `gemini` or `openai_compatible`.
    pub provider: String,
    pub display_name: String,
    pub context_window: u32,
    pub max_output_tokens: u32,
    /// USD per million input tokens; `null`: unknown.
    pub input_price: Option<f64>,
    /// USD per million output tokens; `null`: unknown.
    pub output_price: Option<f64>,
    /// An admin set the prices (else they are the catalog's, or unknown).
    pub price_set_by_admin: bool,
    /// Users may pick it (subject to their allow-list).
    pub enabled: bool,
    pub source: ModelSource,
    /// Its provider is configured on this server (a key, or the compatible server's URL).
    pub available: bool,
    pub unavailable_reason: Option<String>,
}

impl From<ListedModel> for AdminModel {
    fn from(m: ListedModel) -> Self {
        AdminModel {
            provider: m.spec.provider.to_string(),
            display_name: m.spec.display_name,
            context_window: m.spec.context_window,
            max_output_tokens: m.spec.max_output_tokens,
            input_price: m.spec.pricing.map(|p| p.input),
            output_price: m.spec.pricing.map(|p| p.output),
            price_set_by_admin: m.price_set_by_admin,
            enabled: m.enabled,
            source: if m.added {
                ModelSource::Added
            } else {
                ModelSource::Catalog
            },
            available: m.available,
            unavailable_reason: m.unavailable_reason,
            id: m.spec.id,
        }
    }
}

fn listed(s: &ChatState, settings: &ModelSettings, id: &str) -> Option<AdminModel> {
    s.service
        .models
        .all(settings)
        .into_iter()
        .find(|m| m.spec.id == id)
        .map(AdminModel::from)
}

/// Every chat model (catalog and added), with what admins set.
#[route(get, "/admin/models", tag = "admin")]
async fn list(
    State(s): State<ChatState>,
    _admin: AdminUser,
) -> ApiResult<Json<ListPage<AdminModel>>> {
    let settings = model_settings(&s).await?;
    Ok(Json(ListPage {
        items: s
            .service
            .models
            .all(&settings)
            .into_iter()
            .map(AdminModel::from)
            .collect(),
        next_cursor: None,
    }))
}

/// `POST /admin/models`: a model the catalog lacks, for a provider configured here.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModel {
    /// The provider's id for it (e.g. `llama3.1:8b` on Ollama), 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub id: String,
    /// `openai`, `anthropic`, `gemini` or `openai_compatible` (Ollama, vLLM…); must be
    /// configured on this server.
    pub provider: String,
    /// Default: the id.
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
    /// Input + output tokens it accepts (default 128,000).
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub context_window: Option<u32>,
    /// Default 8,192.
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub max_output_tokens: Option<u32>,
    /// USD per million input tokens; with `output_price`, or neither (unknown price).
    #[schema(minimum = 0, maximum = 10_000)]
    pub input_price: Option<f64>,
    /// USD per million output tokens.
    #[schema(minimum = 0, maximum = 10_000)]
    pub output_price: Option<f64>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Adds a model of a configured provider, with its limits and prices.
///
/// # Errors
/// - 409: The model is already listed (change it with PATCH), or another admin changed the models
///   meanwhile
/// - 422: A bad field (`field` names it), or a provider not configured here
#[route(post, "/admin/models", tag = "admin")]
async fn add(
    State(s): State<ChatState>,
    admin: AdminUser,
    Json(body): Json<NewModel>,
) -> ApiResult<Created<AdminModel>> {
    let provider = parse_provider(&body.provider).ok_or_else(|| {
        ApiError::validation("provider", "openai, anthropic, gemini or openai_compatible")
    })?;
    if !s.service.gateway.is_available(provider) {
        return Err(ApiError::validation(
            "provider",
            format!("{provider} is not configured on this server (no key or base URL)"),
        ));
    }
    let rule = ModelRule {
        provider: Some(provider.as_str().to_owned()),
        enabled: body.enabled.unwrap_or(true),
        display_name: body.display_name,
        context_window: body.context_window,
        max_output_tokens: body.max_output_tokens,
        input_price: body.input_price,
        output_price: body.output_price,
        ..ModelRule::new(body.id.clone())
    };
    rule.validate().map_err(ApiError::from)?;
    let catalog_has = s.service.gateway.catalog().lookup(&rule.id).is_some();
    let id = rule.id.clone();
    let settings = update_settings(&s, |settings| {
        if catalog_has
            || settings
                .rule(&rule.id)
                .is_some_and(|r| r.provider.is_some())
        {
            return Err(AccountError::Conflict(format!(
                "`{}` is already listed; change it with PATCH /admin/models/{{id}}",
                rule.id
            )));
        }
        settings.upsert(rule);
        Ok(())
    })
    .await?;
    tracing::info!(admin = %admin.user.id, model = %id, "model added");
    let model = listed(&s, &settings, &id)
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("the added model is not listed")))?;
    Ok(Created(model))
}

/// `PATCH /admin/models/{id}`: only the fields sent change; `null` returns a field to the
/// catalog's value (for an added model: to the defaults, or an unknown price).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelChange {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 100_000_000)]
    pub context_window: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 100_000_000)]
    pub max_output_tokens: Option<Option<u32>>,
    /// USD per million input tokens; set both prices or clear both.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 10_000)]
    pub input_price: Option<Option<f64>>,
    /// USD per million output tokens.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 10_000)]
    pub output_price: Option<Option<f64>>,
}

/// Whether a model id is listed: in the catalog (as a chat model) or added.
fn known(s: &ChatState, settings: &ModelSettings, id: &str) -> bool {
    settings.rule(id).is_some_and(|r| r.provider.is_some())
        || s.service
            .models
            .all(settings)
            .iter()
            .any(|m| m.spec.id == id)
}

/// The model settings as stored (through the cache).
async fn model_settings(s: &ChatState) -> ApiResult<Arc<ModelSettings>> {
    s.service
        .models
        .settings()
        .get()
        .await
        .map_err(ApiError::from)
}

/// Applies `change` to the stored model settings and saves them (409 when another admin saved
/// meanwhile); the settings as saved.
async fn update_settings(
    s: &ChatState,
    change: impl FnOnce(&mut ModelSettings) -> AccountResult<()>,
) -> ApiResult<Arc<ModelSettings>> {
    let (_, saved) = s
        .service
        .models
        .settings()
        .update(change)
        .await
        .map_err(ApiError::from)?;
    Ok(saved)
}

/// The model settings, when `id` is listed; else 404.
async fn settings_if_known(s: &ChatState, id: &str) -> ApiResult<Arc<ModelSettings>> {
    let current = model_settings(s).await?;
    if !known(s, &current, id) {
        return Err(ApiError::not_found("model"));
    }
    Ok(current)
}

/// The refusals of a route changing a listed model: none has the id, or another admin saved the
/// models between this route's read and its write.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: a route lists it for its responses
pub enum ModelRefusals {
    #[response(
        status = 404,
        description = "No such model",
        content_type = "application/problem+json"
    )]
    NoSuchModel(Problem),
    #[response(
        status = 409,
        description = "Another admin changed the models meanwhile",
        content_type = "application/problem+json"
    )]
    ChangedMeanwhile(Problem),
}

/// Enables or disables a model, or changes its display name, limits or prices.
#[route(patch, "/admin/models/{id}", tag = "admin", responses(ModelRefusals),
    params(("id" = String, Path, description = "Model id as listed (URL-encoded: `/` is `%2F`)")))]
async fn change(
    State(s): State<ChatState>,
    admin: AdminUser,
    Path(id): Path<String>,
    Json(body): Json<ModelChange>,
) -> ApiResult<Json<AdminModel>> {
    settings_if_known(&s, &id).await?;
    let settings = update_settings(&s, |settings| {
        let mut rule = settings
            .rule(&id)
            .cloned()
            .unwrap_or_else(|| ModelRule::new(id.clone()));
        if let Some(enabled) = body.enabled {
            rule.enabled = enabled;
        }
        if let Some(v) = body.display_name {
            rule.display_name = v;
        }
        if let Some(v) = body.context_window {
            rule.context_window = v;
        }
        if let Some(v) = body.max_output_tokens {
            rule.max_output_tokens = v;
        }
        if let Some(v) = body.input_price {
            rule.input_price = v;
        }
        if let Some(v) = body.output_price {
            rule.output_price = v;
        }
        rule.validate()?;
        settings.upsert(rule);
        Ok(())
    })
    .await?;
    tracing::info!(admin = %admin.user.id, model = %id, "model changed");
    listed(&s, &settings, &id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("model"))
}

/// Removes an added model, or returns a catalog model to the catalog's values (enabled).
#[route(delete, "/admin/models/{id}", tag = "admin", responses(ModelRefusals),
    params(("id" = String, Path, description = "Model id as listed (URL-encoded: `/` is `%2F`)")))]
async fn remove(
    State(s): State<ChatState>,
    admin: AdminUser,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let current = settings_if_known(&s, &id).await?;
    if current.rule(&id).is_some() {
        update_settings(&s, |settings| {
            settings.remove(&id);
            Ok(())
        })
        .await?;
    }
    tracing::info!(admin = %admin.user.id, model = %id, "model rule removed");
    Ok(NoContent)
}

#[derive(OpenApi)]
#[openapi(
    paths(list, add, change, remove),
    components(schemas(AdminModel, ModelSource, NewModel, ModelChange))
)]
pub struct AdminModelsApi;
