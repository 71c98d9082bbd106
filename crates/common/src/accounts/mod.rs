//! Accounts: users and their credentials (passwords, access tokens, rotating refresh tokens,
//! personal API keys), login throttling, and each user's profiles and preferences.
//!
//! Every key is built in [`keys`]; every item a user owns lives in the `USER#<id>` partition, so
//! nothing is reachable without starting from the authenticated user's id. Other functions use
//! [`profiles::resolve_profile_chain`] to load a profile with the parents it inherits from, and
//! [`AccountsAuthenticator`] (installed in `AppState::connect`) to turn a bearer credential
//! into a `Principal`.

pub mod api_keys;
mod authenticator;
pub mod deletion;
mod error;
pub mod ids;
pub mod jwt;
pub mod keys;
pub mod limits;
pub mod model_settings;
pub mod operator;
pub mod passwords;
pub mod preferences;
pub mod profiles;
pub mod refresh;
pub mod reset;
pub mod throttle;
pub mod usage;
pub mod users;
pub mod web;

pub use authenticator::AccountsAuthenticator;
pub use error::{AccountError, AccountResult};
pub use ids::{ApiKeyId, ProfileId, RefreshFamilyId, UPLOADS_PREFIX, UserId};
pub use jwt::JwtKeys;

/// The name of the JWT signing secret in the embedded store's secrets folder.
pub const JWT_SIGNING_SECRET: &str = "jwt-signing-key";

/// Every item of a user's partition whose sort key starts with `prefix` (all of them for
/// `""`), reading every page.
pub async fn all_items(
    table: &dyn crate::storage::Table,
    user: UserId,
    prefix: &str,
) -> AccountResult<Vec<crate::storage::Item>> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let mut query = crate::storage::Query::partition(user.partition()).limit(500);
        if !prefix.is_empty() {
            query = query.prefix(prefix);
        }
        let page = table.query(query.after(cursor)).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

/// One page of the items of a user's partition whose sort key starts with `prefix`, decoded,
/// in sort-key order.
pub async fn list_page<T: serde::de::DeserializeOwned>(
    table: &dyn crate::storage::Table,
    user: UserId,
    prefix: &str,
    limit: usize,
    cursor: Option<String>,
) -> AccountResult<ListPage<T>> {
    let page = table
        .query(
            crate::storage::Query::partition(user.partition())
                .prefix(prefix)
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items = page.decode_items()?;
    Ok(ListPage {
        items,
        next_cursor: page.next_cursor,
    })
}

/// The record a single-use token's key names, decoded; `InvalidToken` when there is none.
pub(crate) async fn token_record<T: serde::de::DeserializeOwned>(
    table: &dyn crate::storage::Table,
    k: &keys::Key,
) -> AccountResult<T> {
    Ok(table
        .get(&k.pk, &k.sk)
        .await?
        .ok_or(AccountError::InvalidToken)?
        .decode()?)
}

/// Marks a single-use token's record used, in a transaction that fails when it already was
/// (so a token presented twice at the same moment works once).
pub(crate) fn mark_used(k: &keys::Key) -> crate::storage::TxOp {
    crate::storage::TxOp::Update {
        pk: k.pk.clone(),
        sk: k.sk.clone(),
        update: crate::storage::Update::new().set("used", true),
        condition: crate::storage::Condition::AttrEquals("used".into(), false.into()),
    }
}

/// A page of a list endpoint: `{"items":[…],"next_cursor":…}`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> ListPage<T> {
    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> ListPage<U> {
        ListPage {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// Page sizes of list endpoints.
pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 100;

/// Checks a requested page size (`None`: the default).
pub fn page_size(limit: Option<usize>) -> AccountResult<usize> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(_) => Err(AccountError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}
