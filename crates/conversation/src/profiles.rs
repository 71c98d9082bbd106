//! Profile scoping: a profile named by a request must be one of the caller's, and a
//! conversation's model follows the model rule from the profile and the user's preferences.

use ragenie_common::accounts::preferences::Preferences;
use ragenie_common::accounts::profiles::{ProfileChain, resolve_profile_chain};
use ragenie_common::accounts::{AccountError, ProfileId, UserId, preferences};
use ragenie_common::storage::Table;

use crate::error::{ConversationError, ConversationResult};

/// One of the user's profiles with its ancestors. `NoSuchProfile` (naming `field`) when the
/// user has no profile by that id; a store failure stays a store failure.
pub async fn scoped_profile(
    table: &dyn Table,
    user_id: UserId,
    profile_id: &str,
    field: &str,
) -> ConversationResult<ProfileChain> {
    let no_such = || ConversationError::NoSuchProfile {
        field: field.to_owned(),
    };
    let id = ProfileId::parse(profile_id).ok_or_else(no_such)?;
    match resolve_profile_chain(table, user_id, id).await {
        Ok(chain) => Ok(chain),
        Err(AccountError::NotFound(_)) => Err(no_such()),
        Err(e) => Err(e.into()),
    }
}

/// [`scoped_profile`] for an optional id.
pub async fn scoped_profile_opt(
    table: &dyn Table,
    user_id: UserId,
    profile_id: Option<&str>,
    field: &str,
) -> ConversationResult<Option<ProfileChain>> {
    match profile_id {
        Some(id) => Ok(Some(scoped_profile(table, user_id, id, field).await?)),
        None => Ok(None),
    }
}

/// The user's preferences (default profile and model).
pub async fn preferences_of(table: &dyn Table, user_id: UserId) -> ConversationResult<Preferences> {
    Ok(preferences::get(table, user_id).await?)
}
