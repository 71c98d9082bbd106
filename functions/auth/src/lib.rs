//! The `auth` function: registration, login (JSON and OAuth2 password form), refresh-token
//! rotation, logout, the caller's account, password change and reset, personal API keys, and
//! the admin console's API (`admin`). Served on Lambda, by the local server and in tests.

pub mod admin;
pub mod mail;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, Form, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, post};
use ragenie_common::accounts::api_keys::{self, ApiKeySummary, CreatedApiKey};
use ragenie_common::accounts::deletion::DeletionReport;
use ragenie_common::accounts::jwt::SessionClaims;
use ragenie_common::accounts::operator::{self, AccountStatus};
use ragenie_common::accounts::refresh::SessionSummary;
use ragenie_common::accounts::throttle::{Attempt, ThrottlePolicy};
use ragenie_common::accounts::users::{self, User};
use ragenie_common::accounts::web::{Caller, ClientAddress, ListParams, SessionOnly, path_id};
use ragenie_common::accounts::{
    AccountError, ApiKeyId, ListPage, UserId, deletion, passwords, refresh, reset,
};
use ragenie_common::audit::{self, Audit, AuditAction, AuditEntry, AuditEvent, AuditScope};
use ragenie_common::error::Problem;
use ragenie_common::http::{Accepted, Created, HealthAnswers, Json, NoContent, function_router};
use ragenie_common::mail::Mailer;
use ragenie_common::metrics::{self, SignIn};
use ragenie_common::openapi::{OneLine, route};
use ragenie_common::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// The name this function's health route and logs carry.
pub const FUNCTION: &str = "auth";

/// What differs between deployments and tests.
#[derive(Clone, Default)]
pub struct AuthOptions {
    pub throttle: ThrottlePolicy,
    /// How password-reset links are mailed; `None`: what the settings name
    /// ([`mail::from_settings`]).
    pub mailer: Option<Arc<dyn Mailer>>,
}

pub fn router(state: AppState) -> Router {
    router_with(state, AuthOptions::default())
}

pub fn router_with(state: AppState, mut options: AuthOptions) -> Router {
    if options.mailer.is_none() {
        options.mailer = Some(mail::from_settings(&state.settings).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the mail settings are not usable; mail goes to the temporary outbox");
            Arc::new(ragenie_common::mail::OutboxMailer::new(
                std::env::temp_dir().join("ragenie-outbox"),
                state.settings.mail.from.clone(),
            ))
        }));
    }
    // The dummy hash unknown accounts are checked against is made now, not at the first such
    // login (which would then answer slower than a wrong password).
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(passwords::warm_up());
    }
    let routes = Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/token", post(token))
        .route("/auth/refresh", post(refresh_tokens))
        .route("/auth/logout", post(logout))
        .route("/auth/me", axum::routing::get(me).delete(delete_me))
        .route("/auth/change-password", post(change_password))
        .route("/auth/password-reset", post(request_password_reset))
        .route("/auth/password-reset/confirm", post(confirm_password_reset))
        .route("/auth/api-keys", post(create_api_key).get(list_api_keys))
        .route("/auth/sessions", axum::routing::get(list_sessions))
        .route("/auth/sessions/revoke-all", post(revoke_all_sessions))
        .route("/auth/api-keys/{id}", delete(revoke_api_key))
        .route("/auth/audit", axum::routing::get(list_audit))
        .route("/auth/audit/export", axum::routing::get(export_audit))
        .merge(admin::routes())
        .layer(Extension(Arc::new(options)));
    function_router(FUNCTION, routes, state)
}

/// `POST /auth/register`, `POST /auth/login`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// At least 8 characters (at most 1,024 bytes), not a common password. Never logged.
    #[schema(format = Password, min_length = 8)]
    pub password: String,
}

/// `POST /auth/register`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// At least 8 characters, not a common password. Never logged.
    #[schema(format = Password)]
    pub password: String,
    /// The token of an invite link, when the server's registration policy is `invite`.
    #[serde(default)]
    pub invite: Option<String>,
}

/// `POST /auth/token`: an OAuth2 token request (form-encoded).
#[derive(Deserialize, ToSchema)]
pub struct TokenForm {
    /// `password` or `refresh_token`.
    #[schema(value_type = GrantType)]
    pub grant_type: String,
    /// The email (`grant_type=password`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// `grant_type=refresh_token`.
    pub refresh_token: Option<String>,
    /// Accepted and ignored (OAuth2 clients send it).
    pub scope: Option<String>,
    pub client_id: Option<String>,
}

/// The OAuth2 grants `/auth/token` takes.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum GrantType {
    Password,
    RefreshToken,
}

/// `POST /auth/refresh`, `POST /auth/logout`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `POST /auth/change-password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(format = Password)]
    pub current_password: String,
    /// At least 8 characters (at most 1,024 bytes), not a common password, not the current one.
    #[schema(format = Password, min_length = 8)]
    pub new_password: String,
    /// Also revoke every personal API key (default: true — a changed password usually means
    /// something leaked).
    #[serde(default)]
    pub revoke_api_keys: Option<bool>,
}

/// `POST /auth/password-reset`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
}

/// The answer to a reset request: the same whether or not an account has the email.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PasswordResetRequested {
    pub detail: String,
}

/// `POST /auth/password-reset/confirm`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// The token from the mailed link (after `#token=`).
    pub token: String,
    #[schema(format = Password)]
    pub new_password: String,
}

/// `DELETE /auth/me`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    /// The account's password, entered again.
    #[schema(format = Password)]
    pub password: String,
}

/// What an account deletion removed.
#[derive(Serialize, ToSchema)]
pub struct AccountDeleted {
    pub removed: DeletionReport,
}

/// `POST /auth/api-keys`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for (1 to 100 characters, no control characters).
    #[schema(inline)]
    pub name: OneLine<100>,
    /// The account's password; not needed within 5 minutes of signing in.
    #[serde(default)]
    #[schema(format = Password)]
    pub password: Option<String>,
}

/// A sensitive operation wants the password proved at most this long ago.
pub const RECENT_AUTH_SECS: i64 = 5 * 60;

/// An OAuth2 token response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Opaque; exchange it at `/auth/refresh` (single use: each use returns a new one).
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds the access token stays valid.
    pub expires_in: i64,
}

async fn issue_tokens(state: &AppState, user: UserId) -> ApiResult<TokenResponse> {
    let (refresh_token, session) = refresh::start_family(state.table.as_ref(), user).await?;
    session_tokens(state, user, refresh_token, &session)
}

/// The answer for a session: a new access token for it, with its refresh token.
fn session_tokens(
    state: &AppState,
    user: UserId,
    refresh_token: String,
    session: &SessionClaims,
) -> ApiResult<TokenResponse> {
    let access = state.jwt.issue_for_session(user, session)?;
    Ok(TokenResponse {
        access_token: access.token,
        refresh_token,
        token_type: "bearer".into(),
        expires_in: access.expires_in,
    })
}

/// A signed-in account that no longer exists is 401 (its token outlived it); other errors as
/// usual.
fn account_gone(e: AccountError) -> ApiError {
    match e {
        AccountError::NotFound(_) => ApiError::Unauthorized("the account no longer exists".into()),
        e => e.into(),
    }
}

/// Reserves an attempt in the throttle, then checks the password; a correct one gives the
/// attempt back, a wrong one keeps it counted against the account, the address and the pair.
/// Attempts on an existing account go to its audit trail.
async fn password_login(
    state: &AppState,
    options: &AuthOptions,
    audit: &Audit,
    email: &str,
    email_field: &str,
    password: String,
) -> ApiResult<TokenResponse> {
    let table = state.table.as_ref();
    let address = audit.context().address.as_str();
    let email = users::normalise_email(email, email_field)?;
    let attempt = match options.throttle.begin(table, &email, address).await {
        Ok(attempt) => attempt,
        Err(e) => {
            if matches!(e, AccountError::Throttled { .. }) {
                metrics::sign_in(SignIn::Throttled);
                metrics::throttled(FUNCTION, "sign_in");
                record_failed_sign_in(state, audit, &email, "throttled").await;
            }
            return Err(e.into());
        }
    };
    match users::verify_login(table, &email, password).await {
        // A pending account signs in to see that it waits; a suspended one does not.
        Ok(user)
            if user.status == AccountStatus::Suspended
                && !state.settings.operator.names_admin(&user.email) =>
        {
            Err(AccountError::Suspended.into())
        }
        Ok(user) => {
            attempt.succeeded(table).await?;
            let tokens = issue_tokens(state, user.id).await?;
            metrics::sign_in(SignIn::Succeeded);
            audit
                .record(AuditEntry::new(AuditAction::SignInSucceeded, user.id))
                .await;
            Ok(tokens)
        }
        Err(AccountError::InvalidCredentials) => {
            // The reserved attempt stays counted.
            metrics::sign_in(SignIn::Failed);
            record_failed_sign_in(state, audit, &email, "wrong_password").await;
            Err(AccountError::InvalidCredentials.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// A refused sign-in goes to the trail of the account it named; an unknown email has no trail
/// (it is counted in the metrics and the throttle only).
async fn record_failed_sign_in(state: &AppState, audit: &Audit, email: &str, why: &str) {
    match users::id_for_email(state.table.as_ref(), email).await {
        Ok(Some(user)) => {
            audit
                .record(
                    AuditEntry::new(AuditAction::SignInFailed, user)
                        .anonymous()
                        .detail(why),
                )
                .await;
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not look up the account of a failed sign-in"),
    }
}

/// Creates an account and signs it in, under the server's registration policy: the first
/// account becomes admin; under `approval` the new account is `pending` (its tokens answer 403
/// `account-pending` until an admin approves); under `invite` it needs `invite`; under
/// `closed` it is refused.
///
/// # Errors
/// - 403: Registration is closed on this server
/// - 409: The email is already registered
/// - 422: Invalid email, a short or common password, or a missing or invalid invite (`field` names
///   it)
/// - 429: Too many registrations from this address; see `Retry-After`
#[route(post, "/auth/register", tag = "auth", security(()))]
async fn register(
    State(state): State<AppState>,
    Extension(options): Extension<Arc<AuthOptions>>,
    ClientAddress(address): ClientAddress,
    Json(body): Json<Registration>,
) -> ApiResult<Created<TokenResponse>> {
    options
        .throttle
        .register(state.table.as_ref(), &address)
        .await?;
    let user = operator::register(
        state.table.as_ref(),
        &state.settings.operator,
        &body.email,
        body.password,
        body.invite.as_deref(),
    )
    .await?;
    tracing::info!(user = %user.id, role = ?user.role, status = ?user.status, "account registered");
    Ok(Created(issue_tokens(&state, user.id).await?))
}

/// Signs in with email and password.
///
/// # Errors
/// - 401: Unknown email or wrong password (one answer for both)
#[route(post, "/auth/login", tag = "auth", security(()),
    responses((status = 429, description = "Too many failed attempts for this account or address; see `Retry-After`", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until attempts are accepted again")))))]
async fn login(
    State(state): State<AppState>,
    Extension(options): Extension<Arc<AuthOptions>>,
    audit: Audit,
    Json(body): Json<Credentials>,
) -> ApiResult<Json<TokenResponse>> {
    password_login(
        &state,
        &options,
        &audit,
        &body.email,
        "email",
        body.password,
    )
    .await
    .map(Json)
}

fn form_rejection(e: FormRejection) -> ApiError {
    match e {
        FormRejection::InvalidFormContentType(_) => ApiError::UnsupportedMediaType(
            "send the body as Content-Type: application/x-www-form-urlencoded".into(),
        ),
        FormRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("the request body is over this endpoint's size limit".into())
        }
        other => {
            let text = other.body_text();
            let field = text.split('`').nth(1).unwrap_or("body").to_owned();
            ApiError::validation(field, text)
        }
    }
}

fn required(value: Option<String>, field: &str) -> ApiResult<String> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::validation(field, format!("`{field}` is required for this grant_type"))
    })
}

/// OAuth2 token endpoint: `grant_type=password` (`username` = email) or
/// `grant_type=refresh_token`, form-encoded, for OAuth2 clients and tools.
///
/// # Errors
/// - 401: Wrong credentials or invalid refresh token
/// - 422: Unsupported grant_type or a missing field
/// - 429: Throttled; see `Retry-After`
#[route(post, "/auth/token", tag = "auth", security(()),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"))]
async fn token(
    State(state): State<AppState>,
    Extension(options): Extension<Arc<AuthOptions>>,
    audit: Audit,
    form: Result<Form<TokenForm>, FormRejection>,
) -> ApiResult<Json<TokenResponse>> {
    let Form(form) = form.map_err(form_rejection)?;
    match form.grant_type.as_str() {
        "password" => {
            let username = required(form.username, "username")?;
            let password = required(form.password, "password")?;
            password_login(&state, &options, &audit, &username, "username", password)
                .await
                .map(Json)
        }
        "refresh_token" => {
            let token = required(form.refresh_token, "refresh_token")?;
            rotate(&state, &audit, &token).await.map(Json)
        }
        _ => Err(ApiError::validation(
            "grant_type",
            "unsupported grant_type; use `password` or `refresh_token`",
        )),
    }
}

async fn rotate(state: &AppState, audit: &Audit, token: &str) -> ApiResult<TokenResponse> {
    let (user, refresh_token, session) = match refresh::rotate(state.table.as_ref(), token).await {
        Ok(rotated) => rotated,
        Err(AccountError::TokenReused { user, family }) => {
            // Whoever presented the used token may be a thief: nobody is named as the actor.
            audit
                .record(
                    AuditEntry::new(AuditAction::RefreshFamilyRevoked, user)
                        .anonymous()
                        .target(format!("refresh_family:{family}"))
                        .detail("token_reuse"),
                )
                .await;
            return Err(AccountError::TokenReused { user, family }.into());
        }
        Err(e) => return Err(e.into()),
    };
    session_tokens(state, user, refresh_token, &session)
}

/// Exchanges a refresh token for new tokens. Each refresh token works once; presenting a used
/// one again revokes every token descending from the same sign-in.
///
/// # Errors
/// - 401: Unknown, used, revoked or expired refresh token
#[route(post, "/auth/refresh", tag = "auth", security(()))]
async fn refresh_tokens(
    State(state): State<AppState>,
    audit: Audit,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    rotate(&state, &audit, &body.refresh_token).await.map(Json)
}

/// Signs out: revokes the refresh token and every token of its sign-in. The refresh token is
/// the credential; an unknown one is ignored (RFC 7009).
#[route(post, "/auth/logout", tag = "auth", security(()))]
async fn logout(
    State(state): State<AppState>,
    audit: Audit,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<NoContent> {
    if let Some((user, family)) = refresh::revoke(state.table.as_ref(), &body.refresh_token).await?
    {
        audit
            .record(
                AuditEntry::new(AuditAction::RefreshFamilyRevoked, user)
                    .target(format!("refresh_family:{family}"))
                    .detail("sign_out"),
            )
            .await;
    }
    Ok(NoContent)
}

/// The signed-in account, with the role it acts with (`RAGENIE_ADMINS` included).
///
/// # Errors
/// - 401: No valid access token or API key
/// - 403: The account waits for approval (`type` ends in `account-pending`) or is suspended
///   (`account-suspended`)
#[route(get, "/auth/me", tag = "auth")]
async fn me(caller: Caller) -> ApiResult<Json<User>> {
    let u = users::get(caller.table(), caller.user())
        .await
        .map_err(account_gone)?;
    Ok(Json(User {
        role: operator::effective_role(&u, &caller.state.settings.operator),
        ..u
    }))
}

/// Deletes the account and everything it owns — documents and their files, index segments,
/// profiles, conversations, usage, sessions and API keys — after the password is entered
/// again. The answer says what was removed. (Export your data first: it cannot be undone.)
///
/// # Errors
/// - 403: Wrong password, or called with an API key
/// - 429: Too many wrong passwords; see `Retry-After`
#[route(delete, "/auth/me", tag = "auth")]
async fn delete_me(
    audit: Audit,
    reauth: Reauth,
    Json(body): Json<DeleteAccount>,
) -> ApiResult<Json<AccountDeleted>> {
    reauth.prove(body.password).await?;
    let (user, table) = (reauth.user, reauth.table());
    let removed = deletion::delete_account(table, reauth.caller.state.blobs.as_ref(), user).await?;
    tracing::info!(user = %user, items = removed.items, files = removed.files, "account deleted by its owner");
    // The one thing left of the account: this event, in the security trail (no content of the
    // account; it expires with the trail's retention).
    audit
        .record(
            AuditEntry::new(AuditAction::AccountDeleted, user)
                .detail(format!("items={} files={}", removed.items, removed.files)),
        )
        .await;
    Ok(Json(AccountDeleted { removed }))
}

/// A signed-in session (an API key is refused with 403) that may have to enter its password
/// again, with what checking it needs: the sign-in throttle and where the request comes from.
/// Guesses are throttled like sign-ins: a wrong password stays counted.
struct Reauth {
    caller: Caller,
    user: UserId,
    options: Arc<AuthOptions>,
    address: String,
}

impl FromRequestParts<AppState> for Reauth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let user = caller.session_user()?;
        let options = parts
            .extensions
            .get::<Arc<AuthOptions>>()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the auth router runs without its AuthOptions"))?;
        let Ok(ClientAddress(address)) = ClientAddress::from_request_parts(parts, state).await;
        Ok(Reauth {
            caller,
            user,
            options,
            address,
        })
    }
}

impl Reauth {
    fn table(&self) -> &dyn ragenie_common::storage::Table {
        self.caller.table()
    }

    /// Reserves a password check in the throttle (429 when too many): the account's and the
    /// attempt. 401 when the account is gone.
    async fn attempt(&self) -> ApiResult<(User, Attempt)> {
        let account = users::get(self.table(), self.user)
            .await
            .map_err(account_gone)?;
        let attempt = self
            .options
            .throttle
            .begin(self.table(), &account.email, &self.address)
            .await?;
        Ok((account, attempt))
    }

    /// Checks the password: a correct one gives the attempt back, a wrong one is a 403 and
    /// stays counted.
    async fn prove(&self, password: String) -> ApiResult<()> {
        let (account, attempt) = self.attempt().await?;
        if users::verify_login(self.table(), &account.email, password)
            .await
            .is_err()
        {
            return Err(AccountError::WrongCurrentPassword.into());
        }
        attempt.succeeded(self.table()).await?;
        Ok(())
    }
}

/// Changes the password. Every refresh token of the account is revoked (other devices are
/// signed out); the answer carries fresh tokens for this one.
///
/// # Errors
/// - 403: Wrong current password, or called with an API key
/// - 422: The new password is too short, common or unchanged
/// - 429: Too many wrong current passwords; see `Retry-After`
#[route(post, "/auth/change-password", tag = "auth")]
async fn change_password(
    audit: Audit,
    reauth: Reauth,
    Json(body): Json<ChangePassword>,
) -> ApiResult<Json<TokenResponse>> {
    let (user, table) = (reauth.user, reauth.table());
    let (_, attempt) = reauth.attempt().await?;
    match users::change_password(table, user, body.current_password, body.new_password).await {
        Ok(_) => attempt.succeeded(table).await?,
        // A wrong current password is a guess: it stays counted.
        Err(e @ AccountError::WrongCurrentPassword) => return Err(e.into()),
        // A new password the policy refuses is not a guess.
        Err(e) => {
            attempt.succeeded(table).await?;
            return Err(e.into());
        }
    }
    let revoked = refresh::revoke_all(table, user).await?;
    let keys_revoked = if body.revoke_api_keys.unwrap_or(true) {
        api_keys::revoke_all(table, user).await?
    } else {
        0
    };
    tracing::info!(user = %user, revoked, keys_revoked, "password changed; sessions revoked");
    let detail = if keys_revoked > 0 {
        "other_sessions_signed_out;api_keys_revoked"
    } else {
        "other_sessions_signed_out"
    };
    audit
        .record(AuditEntry::new(AuditAction::PasswordChanged, user).detail(detail))
        .await;
    issue_tokens(&reauth.caller.state, user).await.map(Json)
}

/// Starts a password reset: when an account has this email, a single-use link valid for 30
/// minutes is mailed to it. The answer is the same either way.
///
/// # Errors
/// - 422: Not an email address
/// - 429: Too many requests from this address; see `Retry-After`
#[route(post, "/auth/password-reset", tag = "auth", security(()))]
async fn request_password_reset(
    State(state): State<AppState>,
    Extension(options): Extension<Arc<AuthOptions>>,
    ClientAddress(address): ClientAddress,
    Json(body): Json<PasswordResetRequest>,
) -> ApiResult<Accepted<PasswordResetRequested>> {
    let table = state.table.as_ref();
    let email = users::normalise_email(&body.email, "email")?;
    if options
        .throttle
        .reset_request(table, &email, &address)
        .await?
    {
        let mailer = options.mailer.as_deref().expect("set in router_with");
        reset::request(table, mailer, &email, &state.settings.public_url).await?;
    }
    Ok(Accepted(PasswordResetRequested {
        detail: "If an account has this email, a link to reset its password is on its way. \
                 It works once, for 30 minutes."
            .into(),
    }))
}

/// Sets a new password with the token of a reset link. The token works once; every session of
/// the account is signed out.
///
/// # Errors
/// - 401: The link is invalid, used or expired
/// - 422: The new password is too short or common
#[route(post, "/auth/password-reset/confirm", tag = "auth", security(()))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    audit: Audit,
    Json(body): Json<PasswordResetConfirm>,
) -> ApiResult<NoContent> {
    let user = reset::confirm(state.table.as_ref(), &body.token, body.new_password)
        .await
        .map_err(|e| match e {
            AccountError::InvalidToken => ApiError::Unauthorized(
                "this reset link is invalid, already used or expired; ask for a new one".into(),
            ),
            other => other.into(),
        })?;
    // Whoever holds the mailed link is not signed in: nobody is named as the actor.
    audit
        .record(
            AuditEntry::new(AuditAction::PasswordReset, user)
                .anonymous()
                .detail("every_session_signed_out"),
        )
        .await;
    Ok(NoContent)
}

/// Creates a personal API key. Its value is in this answer only.
///
/// # Errors
/// - 403: Called with an API key, or the password is needed (no sign-in in the last 5 minutes) or
///   wrong
#[route(post, "/auth/api-keys", tag = "api-keys")]
async fn create_api_key(
    audit: Audit,
    headers: HeaderMap,
    reauth: Reauth,
    Json(body): Json<NewApiKey>,
) -> ApiResult<Created<CreatedApiKey>> {
    let (user, table) = (reauth.user, reauth.table());
    // A stolen access token alone must not mint a lasting credential: the password, or a
    // sign-in in the last few minutes.
    let auth_time = bearer_from(&headers)
        .and_then(|t| reauth.caller.state.jwt.claims(t).ok())
        .and_then(|c| c.auth_time)
        .unwrap_or(0);
    let recent = ragenie_common::clock::unix_now() - auth_time <= RECENT_AUTH_SECS;
    if !recent {
        let Some(password) = body.password else {
            return Err(ApiError::Forbidden(
                "enter your password to create an API key (or sign in again)".into(),
            ));
        };
        reauth.prove(password).await?;
    }
    let created = api_keys::create(table, user, &body.name).await?;
    tracing::info!(user = %user, key = %created.summary.id, "API key created");
    audit
        .record(
            AuditEntry::new(AuditAction::ApiKeyCreated, user)
                .target(format!("api_key:{}", created.summary.id)),
        )
        .await;
    Ok(Created(created))
}

fn bearer_from(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// The caller's signed-in sessions (browsers and other clients holding a refresh token), oldest
/// first; `current` marks this one. API keys and their last use are at `GET /auth/api-keys`.
#[route(get, "/auth/sessions", tag = "auth", responses(SessionOnly))]
async fn list_sessions(
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Json<ListPage<SessionSummary>>> {
    let user = caller.session_user()?;
    let current = bearer_from(&headers)
        .and_then(|t| caller.state.jwt.claims(t).ok())
        .and_then(|c| c.sid);
    let items = refresh::list_sessions(caller.table(), user, current.as_deref()).await?;
    Ok(Json(ListPage {
        items,
        next_cursor: None,
    }))
}

/// Signs out everywhere: revokes every session of the account, this one included (its access
/// token lapses within 15 minutes). API keys stay; revoke them one by one.
#[route(
    post,
    "/auth/sessions/revoke-all",
    tag = "auth",
    responses(SessionOnly)
)]
async fn revoke_all_sessions(audit: Audit, caller: Caller) -> ApiResult<NoContent> {
    let user = caller.session_user()?;
    let revoked = refresh::revoke_all(caller.table(), user).await?;
    tracing::info!(user = %user, revoked, "signed out everywhere");
    audit
        .record(
            AuditEntry::new(AuditAction::SessionsRevoked, user)
                .detail(format!("sessions={revoked}")),
        )
        .await;
    Ok(NoContent)
}

/// The caller's API keys (never their values), oldest first.
#[route(
    get,
    "/auth/api-keys",
    tag = "api-keys",
    params(ListParams),
    responses(SessionOnly)
)]
async fn list_api_keys(
    caller: Caller,
    params: ListParams,
) -> ApiResult<Json<ListPage<ApiKeySummary>>> {
    let user = caller.session_user()?;
    let page = api_keys::list(caller.table(), user, params.limit(), params.cursor).await?;
    Ok(Json(page))
}

/// Revokes one of the caller's API keys; it stops working at once.
///
/// # Errors
/// - 404: The caller has no such key
#[route(delete, "/auth/api-keys/{id}", tag = "api-keys")]
async fn revoke_api_key(
    audit: Audit,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let user = caller.session_user()?;
    let id: ApiKeyId = path_id(&id, "API key")?;
    api_keys::revoke(caller.table(), user, id).await?;
    tracing::info!(user = %user, key = %id, "API key revoked");
    audit
        .record(AuditEntry::new(AuditAction::ApiKeyRevoked, user).target(format!("api_key:{id}")))
        .await;
    Ok(NoContent)
}

/// The most events one export holds (a year of an active account is far fewer).
pub const AUDIT_EXPORT_MAX: usize = 10_000;

/// The caller's security activity, newest first: sign-ins (and refused attempts on the
/// account), password changes, API keys created and revoked, sessions ended.
#[route(get, "/auth/audit", tag = "auth", params(ListParams))]
async fn list_audit(caller: Caller, params: ListParams) -> ApiResult<Json<ListPage<AuditEvent>>> {
    let user = caller.user();
    let page = audit::list(
        caller.table(),
        AuditScope::User(user),
        params.limit(),
        params.cursor,
    )
    .await?;
    Ok(Json(page))
}

/// The caller's whole audit trail as JSON lines (one event per line, newest first; at most
/// 10,000 events).
#[route(get, "/auth/audit/export", tag = "auth",
    responses((status = 200, description = "One JSON event per line", content_type = "application/jsonl", body = String)))]
async fn export_audit(
    caller: Caller,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 2], String)> {
    let user = caller.user();
    let lines =
        audit::export_json_lines(caller.table(), AuditScope::User(user), AUDIT_EXPORT_MAX).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/jsonl"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"ragenie-audit.jsonl\"",
            ),
        ],
        lines,
    ))
}

/// Documents the health route `function_router` adds.
#[route(get, "/auth/health", tag = "health", responses(HealthAnswers))]
#[allow(dead_code)]
async fn health() {}

#[derive(OpenApi)]
#[openapi(
    components(schemas(GrantType)),
    paths(health, register, login, token, refresh_tokens, logout, me, delete_me, change_password,
          request_password_reset, confirm_password_reset,
          list_sessions, revoke_all_sessions,
          create_api_key, list_api_keys, revoke_api_key, list_audit, export_audit),
    tags(
        (name = "auth", description = "Accounts, sign-in and tokens"),
        (name = "api-keys", description = "Personal API keys for scripts and OpenAI-compatible clients"),
        (name = "admin", description = "The admin console: users, registration, quotas and limits (admins only)"),
    )
)]
struct AuthApi;

/// This function's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = AuthApi::openapi();
    doc.merge(admin::AdminApi::openapi());
    doc
}
