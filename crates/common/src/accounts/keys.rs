//! Every key of every account entity, built in one place. A user's items share the partition
//! `USER#<id>`; only the lookups that must work before anyone is authenticated (an email at
//! login or registration, an API key's hash, throttle counters) have partitions of their own.

use super::ids::{ApiKeyId, ProfileId, RefreshFamilyId, UserId};

/// A table key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

fn key(pk: String, sk: impl Into<String>) -> Key {
    Key { pk, sk: sk.into() }
}

/// The account itself: email, password hash, timestamps.
pub fn user(user: UserId) -> Key {
    key(user.partition(), "USER")
}

/// Claims an email for one account; written in the same transaction as the user.
pub fn email(normalised: &str) -> Key {
    key(format!("EMAIL#{normalised}"), "EMAIL")
}

pub const REFRESH_TOKEN_PREFIX: &str = "REFRESH#";
/// One refresh token, by the SHA-256 of its value.
pub fn refresh_token(user: UserId, token_hash: &str) -> Key {
    key(
        user.partition(),
        format!("{REFRESH_TOKEN_PREFIX}{token_hash}"),
    )
}

pub const REFRESH_FAMILY_PREFIX: &str = "RFAMILY#";
/// The family of refresh tokens descending from one login; revoking it ends them all.
pub fn refresh_family(user: UserId, family: RefreshFamilyId) -> Key {
    key(user.partition(), format!("{REFRESH_FAMILY_PREFIX}{family}"))
}

pub const API_KEY_PREFIX: &str = "APIKEY#";
/// A personal API key as its owner lists it (name, prefix, dates).
pub fn api_key(user: UserId, id: ApiKeyId) -> Key {
    key(user.partition(), format!("{API_KEY_PREFIX}{id}"))
}

/// Finds an API key by the SHA-256 of its value (written in the same transaction as
/// [`api_key`]).
pub fn api_key_lookup(key_hash: &str) -> Key {
    key(format!("APIKEYHASH#{key_hash}"), "APIKEY")
}

pub const PASSWORD_RESET_PREFIX: &str = "PWRESET#";
/// A password-reset token, by the SHA-256 of its value (expires by TTL).
pub fn password_reset(user: UserId, token_hash: &str) -> Key {
    key(
        user.partition(),
        format!("{PASSWORD_RESET_PREFIX}{token_hash}"),
    )
}

pub const PROFILE_PREFIX: &str = "PROFILE#";
pub fn profile(user: UserId, id: ProfileId) -> Key {
    key(user.partition(), format!("{PROFILE_PREFIX}{id}"))
}

pub fn preferences(user: UserId) -> Key {
    key(user.partition(), "PREFERENCES")
}

pub const AUDIT_PREFIX: &str = "AUDIT#";
/// One security event of a user's audit trail; `id` is a ULID, so the trail sorts by time.
pub fn audit_event(user: UserId, id: &str) -> Key {
    key(user.partition(), format!("{AUDIT_PREFIX}{id}"))
}

/// The secondary-index partition holding every user's audit events (the admin listing), sorted
/// by event id, i.e. by time. Sign-ins are rare next to DynamoDB's per-partition write limit,
/// so one index partition suffices.
pub const AUDIT_INDEX_PK: &str = "AUDIT";

/// A login-throttle counter: `scope` (`account`, `address`) and a hash of the subject, for the
/// window starting at `window_start` (epoch seconds, zero-padded so windows sort).
pub fn throttle(scope: &str, subject_hash: &str, window_start: i64) -> Key {
    key(
        format!("THROTTLE#{scope}#{subject_hash}"),
        format!("WINDOW#{window_start:012}"),
    )
}

/// The operator's settings as admins set them (registration policy, default quota, limits).
pub fn operator_settings() -> Key {
    key("OPERATOR".into(), "SETTINGS")
}

/// What admins set for models (enable/disable, limits, prices, added models): one item.
pub fn model_settings() -> Key {
    key("OPERATOR".into(), "MODELS")
}

/// Claimed, by a conditional write, by the first account of a deployment: it becomes admin.
pub fn first_admin() -> Key {
    key("OPERATOR".into(), "FIRST_ADMIN")
}

/// What an admin set for one user (quota override).
pub fn user_limits(user: UserId) -> Key {
    key(user.partition(), "LIMITS")
}

/// A single-use invite, by the SHA-256 of its token (expires by TTL).
pub fn invite(token_hash: &str) -> Key {
    key(format!("INVITE#{token_hash}"), "INVITE")
}

/// A user's quota standing for a month (`YYYY-MM`): committed and settled micro-dollars.
pub fn quota_month(user: UserId, month: &str) -> Key {
    key(user.partition(), format!("QUOTA#{month}"))
}

/// A user's request counter for the minute starting at `window_start` (epoch seconds).
pub fn rate_window(user: UserId, window_start: i64) -> Key {
    key(user.partition(), format!("RATE#{window_start:012}"))
}

/// One of a user's concurrent-answer slots.
pub fn answer_slot(user: UserId, n: u32) -> Key {
    key(user.partition(), format!("SLOT#{n:03}"))
}

/// A user's usage totals for a month (`YYYY-MM`), in the user's partition.
pub fn usage_month_sk(month: &str) -> String {
    format!("USAGE#M#{month}")
}

/// A profile's usage totals for a month, in its owner's partition.
pub fn usage_profile_month_sk(profile_id: &str, month: &str) -> String {
    format!("USAGE#P#{profile_id}#{month}")
}

pub const USAGE_DAY_PREFIX: &str = "USAGE#D#";

/// A user's usage totals for a day (`YYYY-MM-DD`) and model, in the user's partition.
pub fn usage_day_sk(day: &str, model: &str) -> String {
    format!("{USAGE_DAY_PREFIX}{day}#{model}")
}

/// The deployment's usage totals for a day and model (`model` empty: the day's first key).
pub fn operator_usage_day(day: &str, model: &str) -> Key {
    key("OPERATOR#USAGE".into(), format!("D#{day}#{model}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_items_all_live_in_its_partition() {
        let u = UserId::new();
        let pk = u.partition();
        for k in [
            user(u),
            refresh_token(u, "ab"),
            refresh_family(u, RefreshFamilyId::new()),
            api_key(u, ApiKeyId::new()),
            profile(u, ProfileId::new()),
            preferences(u),
            audit_event(u, "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            user_limits(u),
            password_reset(u, "ab"),
        ] {
            assert_eq!(k.pk, pk);
        }
        assert!(profile(u, ProfileId::new()).sk.starts_with(PROFILE_PREFIX));
        assert_eq!(
            throttle("account", "h", 42).sk,
            "WINDOW#000000000042",
            "windows sort"
        );
    }
}
