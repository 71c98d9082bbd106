//! A user's preferences: the default profile and model, and the web app's theme.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AccountError, AccountResult};
use super::ids::{ProfileId, UserId};
use super::{keys, profiles};
use crate::storage::{Condition, Item, StoreError, Table, Update};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// `GET|PUT /users/me/preferences`. PUT replaces the whole object; absent fields take their
/// defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// One of the user's profiles (`default_profile_id` is accepted as an alias on input).
    #[serde(default, alias = "default_profile_id")]
    pub default_profile: Option<ProfileId>,
    /// A model id, 1 to 200 characters (surrounding spaces are trimmed).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub default_model: Option<String>,
    #[serde(default)]
    pub theme: Theme,
}

pub async fn get(table: &dyn Table, user: UserId) -> AccountResult<Preferences> {
    let k = keys::preferences(user);
    match table.get(&k.pk, &k.sk).await? {
        Some(item) => Ok(item.decode()?),
        None => Ok(Preferences::default()),
    }
}

pub async fn put(
    table: &dyn Table,
    user: UserId,
    prefs: Preferences,
) -> AccountResult<Preferences> {
    let mut prefs = prefs;
    if let Some(model) = prefs.default_model.take() {
        let model = model.trim().to_owned();
        if model.is_empty() || model.chars().count() > profiles::MAX_MODEL_CHARS {
            return Err(AccountError::invalid(
                "default_model",
                format!("must be 1 to {} characters", profiles::MAX_MODEL_CHARS),
            ));
        }
        prefs.default_model = Some(model);
    }
    if let Some(profile) = prefs.default_profile {
        match profiles::get(table, user, profile).await {
            Ok(_) => {}
            Err(AccountError::NotFound(_)) => {
                return Err(AccountError::invalid("default_profile", "no such profile"));
            }
            Err(e) => return Err(e),
        }
    }
    let k = keys::preferences(user);
    table
        .put(Item::encode(k.pk, k.sk, &prefs)?, Condition::None)
        .await?;
    Ok(prefs)
}

/// Clears the default profile if it is `profile` (called when that profile is deleted).
pub(crate) async fn forget_profile(
    table: &dyn Table,
    user: UserId,
    profile: ProfileId,
) -> AccountResult<()> {
    let k = keys::preferences(user);
    match table
        .update(
            &k.pk,
            &k.sk,
            Update::new().set("default_profile", serde_json::Value::Null),
            Condition::AttrEquals("default_profile".into(), profile.to_string().into()),
        )
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
