//! Operator control: roles (`admin`, `user`), account status (`active`, `pending`,
//! `suspended`), the registration policy, single-use invites, and the limits an operator sets
//! (a default monthly quota with per-user overrides, requests per minute, concurrent answers).
//!
//! Configuration gives the defaults ([`OperatorDefaults`]); admins change them at run time and
//! the table keeps what they set ([`OperatorSettings`]), so every Lambda instance reads the same.
//! The first account of a fresh deployment becomes admin by winning a conditional write of the
//! first-admin claim in the same transaction that creates it: two first sign-ups at once make
//! exactly one admin.

use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{AccountError, AccountResult};
use super::ids::UserId;
use super::users::{self, Standing, User};
use super::{keys, passwords};
use crate::auth::AuthUser;
use crate::clock::{self, Timestamp};
use crate::config::ConfigError;
use crate::error::ApiError;
use crate::state::{AppState, HasAppState};
use crate::storage::{Condition, Item, Query, StoreError, Table, TxOp};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    #[default]
    User,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    #[default]
    Active,
    /// Registered under the `approval` policy; waits for an admin.
    Pending,
    /// Locked out by an admin: sessions and API keys are refused at the next request.
    Suspended,
}

/// Who may create an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationPolicy {
    /// Anyone who reaches the server.
    Open,
    /// Anyone, but new accounts wait as `pending` until an admin approves them.
    Approval,
    /// Only with a single-use invite an admin created.
    Invite,
    /// Nobody (admins named in `RAGENIE_ADMINS` still can).
    Closed,
}

impl FromStr for RegistrationPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Self::Open),
            "approval" => Ok(Self::Approval),
            "invite" => Ok(Self::Invite),
            "closed" => Ok(Self::Closed),
            _ => Err("expected open, approval, invite or closed".into()),
        }
    }
}

/// The largest monthly quota accepted, in USD.
pub const MAX_QUOTA_USD: f64 = 1_000_000.0;
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 60;
pub const DEFAULT_MAX_CONCURRENT_ANSWERS: u32 = 3;
/// How long an invite stays valid unless the admin says otherwise.
pub const DEFAULT_INVITE_HOURS: u32 = 72;
pub const MAX_INVITE_HOURS: u32 = 24 * 90;

/// What configuration says before any admin changed anything.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorDefaults {
    /// `RAGENIE_REGISTRATION`; default `approval` on AWS, `open` on the embedded store.
    pub registration: RegistrationPolicy,
    /// `RAGENIE_ADMINS`: emails (normalised) that are admins whatever the table says.
    pub admins: Vec<String>,
    /// `RAGENIE_DEFAULT_MONTHLY_QUOTA_USD`; none: no operator quota.
    pub monthly_quota_usd: Option<f64>,
    /// `RAGENIE_REQUESTS_PER_MINUTE`: answers a user may start per minute (chat and `/v1`).
    pub requests_per_minute: u32,
    /// `RAGENIE_MAX_CONCURRENT_ANSWERS`: answers a user may have streaming at once.
    pub max_concurrent_answers: u32,
}

impl Default for OperatorDefaults {
    /// The local server's: open registration, no quota.
    fn default() -> Self {
        Self {
            registration: RegistrationPolicy::Open,
            admins: Vec::new(),
            monthly_quota_usd: None,
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            max_concurrent_answers: DEFAULT_MAX_CONCURRENT_ANSWERS,
        }
    }
}

fn invalid(name: &'static str, value: String, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value,
        reason: reason.into(),
    }
}

impl OperatorDefaults {
    /// Reads the operator settings; `aws` picks the registration default (`approval` when the
    /// deployment is reachable by others, `open` for one person on a laptop).
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        aws: bool,
    ) -> Result<Self, ConfigError> {
        let registration = match lookup("RAGENIE_REGISTRATION") {
            Some(v) => v
                .parse()
                .map_err(|why: String| invalid("RAGENIE_REGISTRATION", v.clone(), &why))?,
            None if aws => RegistrationPolicy::Approval,
            None => RegistrationPolicy::Open,
        };
        let mut admins = Vec::new();
        for raw in lookup("RAGENIE_ADMINS").unwrap_or_default().split(',') {
            if raw.trim().is_empty() {
                continue;
            }
            let email = users::normalise_email(raw, "RAGENIE_ADMINS")
                .map_err(|e| invalid("RAGENIE_ADMINS", raw.trim().into(), &e.to_string()))?;
            admins.push(email);
        }
        let monthly_quota_usd =
            match lookup("RAGENIE_DEFAULT_MONTHLY_QUOTA_USD") {
                None => None,
                Some(v) => Some(v.parse::<f64>().ok().filter(|q| valid_usd(*q)).ok_or_else(
                    || {
                        invalid(
                            "RAGENIE_DEFAULT_MONTHLY_QUOTA_USD",
                            v.clone(),
                            "expected a number of dollars from 0 to 1000000",
                        )
                    },
                )?),
            };
        let count = |name: &'static str, default: u32, max: u32| match lookup(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| invalid(name, v.clone(), &format!("expected 1 to {max}"))),
        };
        Ok(Self {
            registration,
            admins,
            monthly_quota_usd,
            requests_per_minute: count(
                "RAGENIE_REQUESTS_PER_MINUTE",
                DEFAULT_REQUESTS_PER_MINUTE,
                MAX_REQUESTS_PER_MINUTE,
            )?,
            max_concurrent_answers: count(
                "RAGENIE_MAX_CONCURRENT_ANSWERS",
                DEFAULT_MAX_CONCURRENT_ANSWERS,
                MAX_CONCURRENT_ANSWERS,
            )?,
        })
    }

    pub fn names_admin(&self, email: &str) -> bool {
        self.admins.iter().any(|a| a == email)
    }
}

pub const MAX_REQUESTS_PER_MINUTE: u32 = 10_000;
pub const MAX_CONCURRENT_ANSWERS: u32 = 100;

fn valid_usd(v: f64) -> bool {
    v.is_finite() && (0.0..=MAX_QUOTA_USD).contains(&v)
}

/// The operator's settings as admins set them (`GET|PUT /admin/settings`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorSettings {
    pub registration: RegistrationPolicy,
    /// Each user's monthly spending limit in USD unless their own override says otherwise;
    /// `null`: no limit.
    #[schema(minimum = 0, maximum = 1000000)]
    pub default_monthly_quota_usd: Option<f64>,
    /// Answers a user may start per minute, web chat and `/v1` together.
    #[schema(minimum = 1, maximum = 10000)]
    pub requests_per_minute: u32,
    /// Answers a user may have streaming at once.
    #[schema(minimum = 1, maximum = 100)]
    pub max_concurrent_answers: u32,
}

impl OperatorSettings {
    pub fn from_defaults(d: &OperatorDefaults) -> Self {
        Self {
            registration: d.registration,
            default_monthly_quota_usd: d.monthly_quota_usd,
            requests_per_minute: d.requests_per_minute,
            max_concurrent_answers: d.max_concurrent_answers,
        }
    }

    pub fn validate(&self) -> AccountResult<()> {
        if self
            .default_monthly_quota_usd
            .is_some_and(|v| !valid_usd(v))
        {
            return Err(AccountError::invalid(
                "default_monthly_quota_usd",
                "0 to 1,000,000 dollars, or null for none",
            ));
        }
        if !(1..=MAX_REQUESTS_PER_MINUTE).contains(&self.requests_per_minute) {
            return Err(AccountError::invalid(
                "requests_per_minute",
                format!("1 to {MAX_REQUESTS_PER_MINUTE}"),
            ));
        }
        if !(1..=MAX_CONCURRENT_ANSWERS).contains(&self.max_concurrent_answers) {
            return Err(AccountError::invalid(
                "max_concurrent_answers",
                format!("1 to {MAX_CONCURRENT_ANSWERS}"),
            ));
        }
        Ok(())
    }
}

/// The settings in force: what an admin stored, else the configuration's defaults.
pub async fn settings(
    table: &dyn Table,
    defaults: &OperatorDefaults,
) -> AccountResult<OperatorSettings> {
    let k = keys::operator_settings();
    match table.get(&k.pk, &k.sk).await? {
        Some(item) => Ok(item.decode()?),
        None => Ok(OperatorSettings::from_defaults(defaults)),
    }
}

pub async fn save_settings(table: &dyn Table, s: &OperatorSettings) -> AccountResult<()> {
    s.validate()?;
    let k = keys::operator_settings();
    table
        .put(Item::encode(k.pk, k.sk, s)?, Condition::None)
        .await?;
    Ok(())
}

/// What an admin set for one user (`PATCH /admin/users/{id}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserLimits {
    /// This user's monthly quota in USD, instead of the default; `null`: the default.
    #[serde(default)]
    pub monthly_quota_usd: Option<f64>,
    /// The only models this user may use (ids as `GET /admin/models` lists them); `null`: every
    /// enabled model.
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
}

/// The most models one allow-list names.
pub const MAX_ALLOWED_MODELS: usize = 200;

impl UserLimits {
    /// Whether this user may use a model known by any of `ids` (its id as requested and the
    /// catalog entry it resolves to).
    pub fn allows<'a>(&self, mut ids: impl Iterator<Item = &'a str>) -> bool {
        match &self.allowed_models {
            None => true,
            Some(list) => ids.any(|id| list.iter().any(|a| a == id)),
        }
    }
}

pub async fn user_limits(table: &dyn Table, user: UserId) -> AccountResult<UserLimits> {
    let k = keys::user_limits(user);
    match table.get(&k.pk, &k.sk).await? {
        Some(item) => Ok(item.decode()?),
        None => Ok(UserLimits::default()),
    }
}

pub async fn set_user_limits(
    table: &dyn Table,
    user: UserId,
    limits: &UserLimits,
) -> AccountResult<()> {
    if limits.monthly_quota_usd.is_some_and(|v| !valid_usd(v)) {
        return Err(AccountError::invalid(
            "monthly_quota_usd",
            "0 to 1,000,000 dollars, or null for the default",
        ));
    }
    if let Some(list) = &limits.allowed_models {
        if list.len() > MAX_ALLOWED_MODELS {
            return Err(AccountError::invalid(
                "allowed_models",
                format!("at most {MAX_ALLOWED_MODELS} models"),
            ));
        }
        if list.iter().any(|m| {
            m.trim().is_empty()
                || m.trim() != m
                || m.chars().count() > super::model_settings::MAX_MODEL_ID_CHARS
        }) {
            return Err(AccountError::invalid(
                "allowed_models",
                "model ids of 1 to 200 characters, without surrounding spaces",
            ));
        }
    }
    let k = keys::user_limits(user);
    table
        .put(Item::encode(k.pk, k.sk, limits)?, Condition::None)
        .await?;
    Ok(())
}

/// The operator's monthly quota for a user: their override, else the default; `None`: none.
pub async fn quota_usd(
    table: &dyn Table,
    defaults: &OperatorDefaults,
    user: UserId,
) -> AccountResult<Option<f64>> {
    let own = user_limits(table, user).await?.monthly_quota_usd;
    Ok(match own {
        Some(q) => Some(q),
        None => settings(table, defaults).await?.default_monthly_quota_usd,
    })
}

/// The role a user acts with: stored, or named by `RAGENIE_ADMINS`.
pub fn effective_role(user: &User, defaults: &OperatorDefaults) -> Role {
    if defaults.names_admin(&user.email) {
        Role::Admin
    } else {
        user.role
    }
}

/// Checks that an account may act (the authenticator calls this on every request, so a
/// suspension takes effect at the next one).
pub fn check_active(user: &User, defaults: &OperatorDefaults) -> AccountResult<()> {
    if defaults.names_admin(&user.email) {
        return Ok(());
    }
    match user.status {
        AccountStatus::Active => Ok(()),
        AccountStatus::Pending => Err(AccountError::Pending),
        AccountStatus::Suspended => Err(AccountError::Suspended),
    }
}

/// An invite as admins list it (the token itself is shown once, when created).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invite {
    pub id: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
    /// Epoch seconds after which it no longer works.
    pub expires_at: i64,
}

/// An invite just created: `token` goes in the link (`/register?invite=<token>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedInvite {
    #[serde(flatten)]
    pub invite: Invite,
    pub token: String,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The partition of the secondary index listing open invites.
pub const INVITES_INDEX_PK: &str = "INVITES";

pub async fn create_invite(
    table: &dyn Table,
    admin: UserId,
    hours: u32,
) -> AccountResult<CreatedInvite> {
    if !(1..=MAX_INVITE_HOURS).contains(&hours) {
        return Err(AccountError::invalid(
            "expires_in_hours",
            format!("1 to {MAX_INVITE_HOURS}"),
        ));
    }
    let token: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let hash = token_hash(&token);
    let invite = Invite {
        id: hash[..16].to_owned(),
        created_by: admin,
        created_at: clock::now(),
        expires_at: clock::unix_now() + i64::from(hours) * 3600,
    };
    let k = keys::invite(&hash);
    let item = Item::encode(k.pk, k.sk, &invite)?
        .indexed(
            INVITES_INDEX_PK,
            format!("{}#{}", invite.created_at, invite.id),
        )
        .expires_at(invite.expires_at);
    table.put(item, Condition::NotExists).await?;
    Ok(CreatedInvite { invite, token })
}

/// Invites not yet used nor expired, oldest first (at most 100).
pub async fn list_invites(table: &dyn Table) -> AccountResult<Vec<Invite>> {
    let page = table
        .query_index(Query::partition(INVITES_INDEX_PK).limit(100))
        .await?;
    page.items
        .iter()
        .map(|i| i.decode().map_err(AccountError::from))
        .collect()
}

/// Withdraws an open invite (by the `id` it is listed with): its link stops working at once.
pub async fn revoke_invite(table: &dyn Table, id: &str) -> AccountResult<()> {
    let page = table
        .query_index(Query::partition(INVITES_INDEX_PK).limit(100))
        .await?;
    let item = page
        .items
        .iter()
        .find(|i| i.str("id") == Some(id))
        .ok_or(AccountError::NotFound("invite"))?;
    match table.delete(&item.pk, &item.sk, Condition::Exists).await {
        // Used or expired meanwhile: gone either way.
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates an account under the registration policy in force. The first account of a
/// deployment becomes an active admin; emails in `RAGENIE_ADMINS` are active admins; otherwise
/// the policy decides (`approval`: pending; `invite`: needs `invite`, which is used up in the
/// same transaction; `closed`: refused).
pub async fn register(
    table: &dyn Table,
    defaults: &OperatorDefaults,
    email: &str,
    password: String,
    invite: Option<&str>,
) -> AccountResult<User> {
    let email = users::normalise_email(email, "email")?;
    passwords::check_policy(&password, &email, "password")?;
    let named_admin = defaults.names_admin(&email);
    let policy = settings(table, defaults).await?.registration;
    let first = keys::first_admin();
    let no_admin_yet = table.get(&first.pk, &first.sk).await?.is_none();
    // Refuse before the (slow) hash when the policy already says no.
    let invite_op = match (named_admin || no_admin_yet, policy) {
        (true, _) | (false, RegistrationPolicy::Open | RegistrationPolicy::Approval) => None,
        (false, RegistrationPolicy::Closed) => {
            return Err(AccountError::Forbidden(
                "registration is closed on this server; ask an administrator".into(),
            ));
        }
        (false, RegistrationPolicy::Invite) => {
            let token = invite.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
                AccountError::invalid("invite", "registration needs an invite on this server")
            })?;
            let k = keys::invite(&token_hash(token.trim()));
            if table.get(&k.pk, &k.sk).await?.is_none() {
                return Err(invalid_invite());
            }
            Some(TxOp::Delete {
                pk: k.pk,
                sk: k.sk,
                condition: Condition::Exists,
            })
        }
    };
    let hash = users::hash_new_password(table, &email, password).await?;
    if no_admin_yet {
        let claim = TxOp::Put {
            item: Item::new(first.pk.clone(), first.sk.clone()).with("at", clock::now()),
            condition: Condition::NotExists,
        };
        let standing = Standing {
            role: Role::Admin,
            status: AccountStatus::Active,
            also: vec![claim],
        };
        match users::create(table, &email, hash.clone(), standing).await {
            Ok(user) => {
                tracing::info!(user = %user.id, "first account: administrator");
                return Ok(user);
            }
            // Another first sign-up won the claim: register as everyone else does.
            Err(AccountError::Store(StoreError::TransactionCanceled(_))) => {
                return Box::pin(register_after_hash(
                    table, defaults, &email, hash, invite, policy,
                ))
                .await;
            }
            Err(e) => return Err(e),
        }
    }
    let standing = standing_for(named_admin, policy, invite_op);
    create_or_explain(table, &email, hash, standing).await
}

/// Registration of someone who lost the race for the first-admin claim (the policy applies).
async fn register_after_hash(
    table: &dyn Table,
    defaults: &OperatorDefaults,
    email: &str,
    hash: String,
    invite: Option<&str>,
    policy: RegistrationPolicy,
) -> AccountResult<User> {
    let named_admin = defaults.names_admin(email);
    let invite_op = match (named_admin, policy) {
        (false, RegistrationPolicy::Closed) => {
            return Err(AccountError::Forbidden(
                "registration is closed on this server; ask an administrator".into(),
            ));
        }
        (false, RegistrationPolicy::Invite) => {
            let token = invite
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(invalid_invite)?;
            let k = keys::invite(&token_hash(token.trim()));
            Some(TxOp::Delete {
                pk: k.pk,
                sk: k.sk,
                condition: Condition::Exists,
            })
        }
        _ => None,
    };
    create_or_explain(
        table,
        email,
        hash,
        standing_for(named_admin, policy, invite_op),
    )
    .await
}

fn standing_for(named_admin: bool, policy: RegistrationPolicy, invite: Option<TxOp>) -> Standing {
    Standing {
        role: if named_admin { Role::Admin } else { Role::User },
        status: if !named_admin && policy == RegistrationPolicy::Approval {
            AccountStatus::Pending
        } else {
            AccountStatus::Active
        },
        also: invite.into_iter().collect(),
    }
}

async fn create_or_explain(
    table: &dyn Table,
    email: &str,
    hash: String,
    standing: Standing,
) -> AccountResult<User> {
    match users::create(table, email, hash, standing).await {
        // The only extra condition here is the invite: it was used (or expired) meanwhile.
        Err(AccountError::Store(StoreError::TransactionCanceled(_))) => Err(invalid_invite()),
        other => other,
    }
}

fn invalid_invite() -> AccountError {
    AccountError::invalid(
        "invite",
        "this invite is not valid: used, expired or mistyped",
    )
}

/// The authenticated caller, refused with 403 unless they are an admin, with the state the
/// admin route works on.
#[derive(Clone)]
pub struct AdminUser {
    pub user: User,
    pub state: AppState,
}

impl AdminUser {
    pub fn table(&self) -> &dyn Table {
        self.state.table.as_ref()
    }
}

impl<S: HasAppState> FromRequestParts<S> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        let state = state.app_state();
        let forbidden = || ApiError::Forbidden("this needs an administrator account".into());
        let user = match users::get(state.table.as_ref(), *auth.user_id()).await {
            Ok(user) => user,
            Err(AccountError::NotFound(_)) => return Err(forbidden()),
            Err(e) => return Err(e.into()),
        };
        if effective_role(&user, &state.settings.operator) != Role::Admin {
            return Err(forbidden());
        }
        Ok(AdminUser { user, state })
    }
}
