//! The admin console's API: users (list and search with this month's spending, approve,
//! suspend, reactivate, role, quota override), the operator settings (registration policy,
//! default quota, rate limit, concurrent answers), invites, one-time password-reset links,
//! deleting an account, and the deployment's usage by day and model. Every route takes
//! [`AdminUser`]: anyone else gets 403.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::routing::{delete, get, patch, post};
use ragenie_common::accounts::limits::{self, MonthSpend, OperatorUsageRow};
use ragenie_common::accounts::operator::{
    self, AccountStatus, AdminUser, CreatedInvite, DEFAULT_INVITE_HOURS, Invite, OperatorSettings,
    Role,
};
use ragenie_common::accounts::users::{self, User};
use ragenie_common::accounts::web::path_id;
use ragenie_common::accounts::{ListPage, UserId, deletion, page_size, refresh, reset};
use ragenie_common::audit::{Audit, AuditAction, AuditEntry};
use ragenie_common::http::{Created, Json, NoContent, present};
use ragenie_common::openapi::route;
use ragenie_common::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route(
            "/admin/users/{id}",
            patch(update_user).get(get_user).delete(delete_user),
        )
        .route("/admin/users/{id}/password-reset", post(reset_link))
        .route("/admin/settings", get(get_settings).put(put_settings))
        .route("/admin/invites", post(create_invite).get(list_invites))
        .route("/admin/invites/{id}", delete(revoke_invite))
        .route("/admin/usage", get(usage))
        .route("/admin/users-index", post(backfill_users))
}

/// A user as the admin console shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminUserView {
    #[serde(flatten)]
    pub user: User,
    /// This user's own quota override (USD a month); `null`: the operator's default.
    pub monthly_quota_usd: Option<f64>,
    /// The only models this user may use; `null`: every enabled model.
    pub allowed_models: Option<Vec<String>>,
    /// This month's spending against the quota.
    pub month: MonthSpend,
}

async fn view(state: &AppState, user: User) -> ApiResult<AdminUserView> {
    let table = state.table.as_ref();
    let limits = operator::user_limits(table, user.id).await?;
    let month = limits::month_spend(table, user.id).await?;
    Ok(AdminUserView {
        user: User {
            role: operator::effective_role(&user, &state.settings.operator),
            ..user
        },
        monthly_quota_usd: limits.monthly_quota_usd,
        allowed_models: limits.allowed_models,
        month,
    })
}

/// `?q=&status=&limit=&cursor=` of the user list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of the email (case-insensitive).
    pub q: Option<String>,
    /// Only accounts with this status (`pending` lists those waiting for approval).
    pub status: Option<AccountStatus>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

const SCAN_PAGES: usize = 20;

/// A query string as its parameters; one that does not parse is 422 on `query`.
fn query_params<T>(query: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::validation("query", e.body_text()))
}

/// Records what an admin did to an account in its audit trail, naming the admin.
async fn record_by_admin(
    audit: &Audit,
    admin: &AdminUser,
    action: AuditAction,
    id: UserId,
    detail: impl Into<String>,
) {
    audit
        .record(
            AuditEntry::new(action, id)
                .actor(admin.user.id)
                .detail(detail),
        )
        .await;
}

/// Every account, oldest first, with this month's spending; `q` searches emails.
#[route(get, "/admin/users", tag = "admin", params(UserQuery))]
async fn list_users(
    admin: AdminUser,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> ApiResult<Json<ListPage<AdminUserView>>> {
    let query = query_params(query)?;
    let limit = page_size(query.limit)?;
    let needle = query
        .q
        .as_deref()
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let mut found = Vec::new();
    let mut cursor = query.cursor.filter(|c| !c.is_empty());
    // Filtering reads a few pages at most; the cursor resumes where reading stopped.
    for _ in 0..SCAN_PAGES {
        let (page, next) = users::list_all(admin.table(), limit, cursor.take()).await?;
        found.extend(page.into_iter().filter(|u| {
            needle.as_deref().is_none_or(|n| u.email.contains(n))
                && query.status.is_none_or(|s| u.status == s)
        }));
        cursor = next;
        if found.len() >= limit || cursor.is_none() {
            break;
        }
    }
    let mut items = Vec::with_capacity(found.len());
    for user in found {
        items.push(view(&admin.state, user).await?);
    }
    Ok(Json(ListPage {
        items,
        next_cursor: cursor,
    }))
}

/// One account with this month's spending.
#[route(get, "/admin/users/{id}", tag = "admin")]
async fn get_user(admin: AdminUser, Path(id): Path<String>) -> ApiResult<Json<AdminUserView>> {
    let id: UserId = path_id(&id, "user")?;
    let user = users::get(admin.table(), id).await?;
    Ok(Json(view(&admin.state, user).await?))
}

/// `PATCH /admin/users/{id}`: only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// `active` approves a pending account or reactivates a suspended one; `suspended` locks
    /// the account out at its next request (sessions and API keys alike).
    pub status: Option<StatusChange>,
    pub role: Option<Role>,
    /// USD a month; `null` returns the user to the operator's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1000000)]
    pub monthly_quota_usd: Option<Option<f64>>,
    /// The only models this user may use (model ids as `GET /admin/models` lists them, at most
    /// 200); `null` lifts the restriction (every enabled model).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 200)]
    pub allowed_models: Option<Option<Vec<String>>>,
}

/// The statuses an admin can give (an account is `pending` only from registration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusChange {
    Active,
    Suspended,
}

impl From<StatusChange> for AccountStatus {
    fn from(s: StatusChange) -> Self {
        match s {
            StatusChange::Active => AccountStatus::Active,
            StatusChange::Suspended => AccountStatus::Suspended,
        }
    }
}

/// Approves, suspends, reactivates, changes the role, the quota or the allowed models of an
/// account.
///
/// # Errors
/// - 409: An admin cannot suspend or demote themselves
#[route(patch, "/admin/users/{id}", tag = "admin")]
async fn update_user(
    admin: AdminUser,
    audit: Audit,
    Path(id): Path<String>,
    Json(change): Json<UserChange>,
) -> ApiResult<Json<AdminUserView>> {
    let id: UserId = path_id(&id, "user")?;
    let table = admin.table();
    let status = change.status.map(AccountStatus::from);
    if id == admin.user.id
        && (status.is_some_and(|s| s != AccountStatus::Active) || change.role == Some(Role::User))
    {
        return Err(ApiError::Conflict(
            "you cannot suspend or demote yourself; ask another admin".into(),
        ));
    }
    let before = users::get(table, id).await?;
    if change.monthly_quota_usd.is_some() || change.allowed_models.is_some() {
        let mut limits = operator::user_limits(table, id).await?;
        if let Some(quota) = change.monthly_quota_usd {
            limits.monthly_quota_usd = quota;
        }
        if let Some(models) = change.allowed_models.clone() {
            limits.allowed_models = models.map(|mut m| {
                m.dedup();
                m
            });
        }
        operator::set_user_limits(table, id, &limits).await?;
    }
    let user = users::set_standing(table, id, change.role, status).await?;
    if status == Some(AccountStatus::Suspended) {
        // Access tokens and keys are refused by the authenticator already; refresh tokens go
        // too, so nothing of the old sessions survives a reactivation.
        refresh::revoke_all(table, id).await?;
    }
    let mut what = Vec::new();
    if before.status != user.status {
        what.push(format!("status:{:?}", user.status).to_lowercase());
    }
    if before.role != user.role {
        what.push(format!("role:{:?}", user.role).to_lowercase());
    }
    if change.monthly_quota_usd.is_some() {
        what.push("quota".into());
    }
    if change.allowed_models.is_some() {
        what.push("models".into());
    }
    if !what.is_empty() {
        record_by_admin(
            &audit,
            &admin,
            AuditAction::AccountChangedByAdmin,
            id,
            what.join(","),
        )
        .await;
    }
    tracing::info!(admin = %admin.user.id, user = %id, change = ?what, "account changed by an admin");
    Ok(Json(view(&admin.state, user).await?))
}

/// Deletes an account and everything it owns (the account-deletion path of `DELETE /auth/me`,
/// without the owner's password). The answer says what was removed.
///
/// # Errors
/// - 409: An admin deletes their own account in Settings, with their password
#[route(delete, "/admin/users/{id}", tag = "admin")]
async fn delete_user(
    admin: AdminUser,
    audit: Audit,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::AccountDeleted>> {
    let id: UserId = path_id(&id, "user")?;
    if id == admin.user.id {
        return Err(ApiError::Conflict(
            "delete your own account in Settings, with your password".into(),
        ));
    }
    let table = admin.table();
    users::get(table, id).await?;
    let removed = deletion::delete_account(table, admin.state.blobs.as_ref(), id).await?;
    tracing::info!(admin = %admin.user.id, user = %id, items = removed.items, files = removed.files, "account deleted by an admin");
    let detail = format!("by_admin items={} files={}", removed.items, removed.files);
    record_by_admin(&audit, &admin, AuditAction::AccountDeleted, id, detail).await;
    Ok(Json(crate::AccountDeleted { removed }))
}

/// A one-time password-reset link an admin hands to the account's owner.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResetLink {
    /// `<public url>/reset-password#token=…`: works once.
    pub link: String,
    /// Epoch seconds after which the link no longer works.
    pub expires_at: i64,
}

/// Issues a single-use password-reset link for an account (valid 30 minutes), for the admin to
/// pass on; using it sets a new password and signs out every session of the account. Nothing
/// is mailed.
#[route(post, "/admin/users/{id}/password-reset", tag = "admin")]
async fn reset_link(
    admin: AdminUser,
    audit: Audit,
    Path(id): Path<String>,
) -> ApiResult<Created<ResetLink>> {
    let id: UserId = path_id(&id, "user")?;
    let table = admin.table();
    users::get(table, id).await?;
    let token = reset::issue(table, id).await?;
    record_by_admin(
        &audit,
        &admin,
        AuditAction::AccountChangedByAdmin,
        id,
        "password_reset_link",
    )
    .await;
    tracing::info!(admin = %admin.user.id, user = %id, "password-reset link issued by an admin");
    Ok(Created(ResetLink {
        link: reset::link(&admin.state.settings.public_url, &token),
        expires_at: ragenie_common::clock::unix_now() + reset::RESET_TOKEN_TTL_SECS,
    }))
}

/// The operator settings in force (stored by an admin, else the configuration's defaults).
#[route(get, "/admin/settings", tag = "admin")]
async fn get_settings(admin: AdminUser) -> ApiResult<Json<OperatorSettings>> {
    Ok(Json(
        operator::settings(admin.table(), &admin.state.settings.operator).await?,
    ))
}

/// Replaces the operator settings; every instance applies them at its next request.
#[route(put, "/admin/settings", tag = "admin")]
async fn put_settings(
    admin: AdminUser,
    Json(settings): Json<OperatorSettings>,
) -> ApiResult<Json<OperatorSettings>> {
    operator::save_settings(admin.table(), &settings).await?;
    tracing::info!(admin = %admin.user.id, registration = ?settings.registration, "operator settings changed");
    Ok(Json(settings))
}

/// `POST /admin/invites`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    /// Hours the invite stays valid (default 72, at most 2160).
    #[schema(minimum = 1, maximum = 2160)]
    pub expires_in_hours: Option<u32>,
}

/// Creates a single-use invite; its token is shown once (the link is
/// `<public url>/register?invite=<token>`).
#[route(post, "/admin/invites", tag = "admin")]
async fn create_invite(
    admin: AdminUser,
    Json(body): Json<NewInvite>,
) -> ApiResult<Created<CreatedInvite>> {
    let created = operator::create_invite(
        admin.table(),
        admin.user.id,
        body.expires_in_hours.unwrap_or(DEFAULT_INVITE_HOURS),
    )
    .await?;
    Ok(Created(created))
}

/// Invites neither used nor expired.
#[route(get, "/admin/invites", tag = "admin")]
async fn list_invites(admin: AdminUser) -> ApiResult<Json<ListPage<Invite>>> {
    Ok(Json(ListPage {
        items: operator::list_invites(admin.table()).await?,
        next_cursor: None,
    }))
}

/// Withdraws an open invite: its link stops working at once.
///
/// # Errors
/// - 404: No open invite has this id
#[route(delete, "/admin/invites/{id}", tag = "admin")]
async fn revoke_invite(admin: AdminUser, Path(id): Path<String>) -> ApiResult<NoContent> {
    operator::revoke_invite(admin.table(), &id).await?;
    tracing::info!(admin = %admin.user.id, invite = %id, "invite revoked");
    Ok(NoContent)
}

/// `?from=&to=` (inclusive days, `YYYY-MM-DD`; default: this month so far).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// First day (default: the first of this month).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, not before `from` (default: today).
    #[param(format = Date)]
    pub to: Option<String>,
}

/// The deployment's usage across users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperatorUsage {
    pub from: String,
    pub to: String,
    /// One row per day and model.
    pub days: Vec<OperatorUsageRow>,
    /// The cost of answers and embedding calls together, USD.
    pub total_cost_usd: f64,
    /// Answers of chat models (embedding calls are in their rows, not here).
    pub total_answers: i64,
}

fn day_param(value: &str, field: &str) -> ApiResult<()> {
    time::Date::parse(
        value,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(|_| ())
    .map_err(|_| ApiError::validation(field, "a date as YYYY-MM-DD"))
}

/// Totals across users by day and model (answers, tokens, cost).
#[route(get, "/admin/usage", tag = "admin", params(UsageQuery))]
async fn usage(
    admin: AdminUser,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> ApiResult<Json<OperatorUsage>> {
    let query = query_params(query)?;
    let today = limits::today();
    let from = query.from.unwrap_or_else(|| format!("{}-01", &today[..7]));
    let to = query.to.unwrap_or(today);
    day_param(&from, "from")?;
    day_param(&to, "to")?;
    if to < from {
        return Err(ApiError::validation("to", "not before `from`"));
    }
    let days = limits::operator_usage(admin.table(), &from, &to).await?;
    Ok(Json(OperatorUsage {
        total_cost_usd: days.iter().map(|d| d.cost_usd).sum(),
        total_answers: days
            .iter()
            .filter(|d| d.kind == limits::UsageKind::Chat)
            .map(|d| d.answers)
            .sum(),
        from,
        to,
        days,
    }))
}

/// `POST /admin/users-index`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// The `next_cursor` of the previous run (default: from the start).
    pub cursor: Option<String>,
}

/// Adds accounts created before the admin list's index to it (idempotent). Reads part of the
/// table per call (a scan); call again with `next_cursor` until it is `null`.
#[route(post, "/admin/users-index", tag = "admin")]
async fn backfill_users(
    admin: AdminUser,
    Json(body): Json<BackfillRequest>,
) -> ApiResult<Json<users::Backfill>> {
    let run = users::backfill_users_index(admin.table(), body.cursor, 10).await?;
    tracing::info!(admin = %admin.user.id, indexed = run.indexed, "users index backfill");
    Ok(Json(run))
}

#[derive(OpenApi)]
#[openapi(paths(
    list_users,
    get_user,
    update_user,
    delete_user,
    reset_link,
    get_settings,
    put_settings,
    create_invite,
    list_invites,
    revoke_invite,
    usage,
    backfill_users
))]
pub struct AdminApi;
