//! Starting, importing and changing conversations: the profile they name must be the user's,
//! and a new conversation's model follows the model rule (with nothing named it stays blank:
//! "the catalog's default at send time").

use ragenie_common::accounts::UserId;

use crate::error::ConversationResult;
use crate::model::Conversation;
use crate::models::{ModelChoice, requested_model};
use crate::profiles::{preferences_of, scoped_profile, scoped_profile_opt};
use crate::store::{ConversationStore, NewImport};
use crate::usage::{Budgets, UsageLedger};

/// A conversation to start.
#[derive(Clone, Debug, Default)]
pub struct NewConversation {
    /// Default: the user's default profile.
    pub profile_id: Option<String>,
    /// Default: by the model rule.
    pub model: Option<String>,
    pub title: Option<String>,
}

pub async fn create(
    store: &ConversationStore,
    user_id: UserId,
    new: NewConversation,
) -> ConversationResult<Conversation> {
    let explicit = requested_model(new.model)?;
    let table = store.table().as_ref();
    let prefs = preferences_of(table, user_id).await?;
    let profile_id = new
        .profile_id
        .or_else(|| prefs.default_profile.map(|p| p.to_string()));
    let chain = scoped_profile_opt(table, user_id, profile_id.as_deref(), "profile_id").await?;
    let model = ModelChoice {
        explicit: explicit.as_deref(),
        conversation: None,
        profile: chain
            .as_ref()
            .and_then(|c| c.profile.default_model.as_deref()),
        preferences: prefs.default_model.as_deref(),
    }
    .named()
    .unwrap_or_default()
    .to_owned();
    store.create(user_id, profile_id, model, new.title).await
}

/// Imports a conversation that names one of the user's profiles (or none).
pub async fn import(
    store: &ConversationStore,
    user_id: UserId,
    mut import: NewImport,
) -> ConversationResult<(Conversation, bool)> {
    scoped_profile_opt(
        store.table().as_ref(),
        user_id,
        import.profile_id.as_deref(),
        "profile_id",
    )
    .await?;
    import.model = requested_model(Some(import.model))?.unwrap_or_default();
    store.import(user_id, import).await
}

/// A change to a conversation; `profile_id: Some(None)` detaches the profile.
#[derive(Clone, Debug, Default)]
pub struct ConversationChange {
    pub title: Option<String>,
    pub model: Option<String>,
    pub profile_id: Option<Option<String>>,
}

pub async fn update(
    store: &ConversationStore,
    user_id: UserId,
    conv_id: &str,
    change: ConversationChange,
) -> ConversationResult<Conversation> {
    store.get(user_id, conv_id).await?;
    if let Some(Some(profile)) = &change.profile_id {
        scoped_profile(store.table().as_ref(), user_id, profile, "profile_id").await?;
    }
    // A blank model sets "the default at send time".
    let model = match change.model {
        Some(m) => Some(requested_model(Some(m))?.unwrap_or_default()),
        None => None,
    };
    store
        .update(user_id, conv_id, change.title, model, change.profile_id)
        .await
}

/// Sets the budgets; each profile budget must name one of the user's profiles.
pub async fn set_budgets(
    ledger: &UsageLedger,
    store: &ConversationStore,
    user_id: UserId,
    budgets: &Budgets,
) -> ConversationResult<()> {
    for profile in budgets.profiles.keys() {
        scoped_profile(
            store.table().as_ref(),
            user_id,
            profile,
            &format!("profiles.{profile}"),
        )
        .await?;
    }
    ledger.set_budgets(user_id, budgets).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use ragenie_common::accounts::ProfileId;
    use ragenie_common::accounts::keys::PROFILE_PREFIX;
    use ragenie_common::accounts::profiles::{self, NewProfile};
    use ragenie_common::storage::embedded::EmbeddedTable;
    use ragenie_common::storage::{
        Condition, Item, Page, Query, StoreError, StoreResult, Table, TxOp, UpdateRequest,
    };

    use super::*;
    use crate::error::ConversationError;

    /// The embedded table, except that reading a profile fails as a store outage would.
    struct ProfilesDown(EmbeddedTable);

    #[async_trait]
    impl Table for ProfilesDown {
        async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
            if sk.starts_with(PROFILE_PREFIX) {
                return Err(StoreError::Unexpected(anyhow::anyhow!("the table is down")));
            }
            self.0.get(pk, sk).await
        }
        async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
            self.0.put(item, condition).await
        }
        async fn update_item(&self, request: UpdateRequest<'_>) -> StoreResult<Item> {
            self.0.update_item(request).await
        }
        async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
            self.0.delete(pk, sk, condition).await
        }
        async fn query(&self, query: Query) -> StoreResult<Page> {
            self.0.query(query).await
        }
        async fn query_index(&self, query: Query) -> StoreResult<Page> {
            self.0.query_index(query).await
        }
        async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
            self.0.transact(ops).await
        }
    }

    fn store(dir: &tempfile::TempDir) -> ConversationStore {
        let table = EmbeddedTable::open(&dir.path().join("items.redb")).unwrap();
        ConversationStore::new(Arc::new(ProfilesDown(table)))
    }

    #[tokio::test]
    async fn a_store_failure_while_checking_the_profile_is_a_store_error_not_no_such_profile() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let user = UserId::new();
        let new = NewConversation {
            profile_id: Some(ProfileId::new().to_string()),
            ..NewConversation::default()
        };
        let err = create(&store, user, new).await.unwrap_err();
        assert!(matches!(err, ConversationError::Store(_)), "{err:?}");
        let change = ConversationChange {
            profile_id: Some(Some(ProfileId::new().to_string())),
            ..ConversationChange::default()
        };
        let conv = create(&store, user, NewConversation::default())
            .await
            .unwrap();
        let err = update(&store, user, &conv.id, change).await.unwrap_err();
        assert!(matches!(err, ConversationError::Store(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_profile_that_is_not_the_users_is_no_such_profile_and_its_model_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let table: Arc<dyn Table> =
            Arc::new(EmbeddedTable::open(&dir.path().join("items.redb")).unwrap());
        let store = ConversationStore::new(table.clone());
        let (alice, bob) = (UserId::new(), UserId::new());
        let profile = profiles::create(
            table.as_ref(),
            alice,
            NewProfile {
                name: "Work".into(),
                default_model: Some("claude-sonnet-4-5".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let named = |model: Option<&str>| NewConversation {
            profile_id: Some(profile.id.to_string()),
            model: model.map(str::to_owned),
            title: None,
        };
        let err = create(&store, bob, named(None)).await.unwrap_err();
        assert!(
            matches!(&err, ConversationError::NoSuchProfile { field } if field == "profile_id"),
            "{err:?}"
        );
        let conv = create(&store, alice, named(None)).await.unwrap();
        assert_eq!(conv.model, "claude-sonnet-4-5", "the profile's default");
        let conv = create(&store, alice, named(Some("gpt-4.1"))).await.unwrap();
        assert_eq!(conv.model, "gpt-4.1", "what the user picked wins");
    }
}
