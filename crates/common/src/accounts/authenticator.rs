//! The real [`Authenticator`]: an access token (JWT) or a personal API key becomes a
//! [`Principal`], for an account that may act (pending and suspended accounts are refused at
//! every request, so a suspension locks its sessions and keys out at once).

use std::sync::Arc;

use async_trait::async_trait;

use super::api_keys;
use super::error::AccountError;
use super::jwt::JwtKeys;
use super::operator::{self, OperatorDefaults};
use super::users;
use crate::auth::{AuthMethod, Authenticator, Principal};
use crate::error::ApiError;
use crate::storage::Table;

pub struct AccountsAuthenticator {
    table: Arc<dyn Table>,
    jwt: Arc<JwtKeys>,
    operator: OperatorDefaults,
}

impl AccountsAuthenticator {
    pub fn new(table: Arc<dyn Table>, jwt: Arc<JwtKeys>, operator: OperatorDefaults) -> Self {
        Self {
            table,
            jwt,
            operator,
        }
    }

    /// The account behind a valid credential must still exist and be active.
    async fn admit(&self, principal: Principal) -> Result<Principal, ApiError> {
        let user = match users::get(self.table.as_ref(), principal.user_id).await {
            Ok(user) => user,
            Err(AccountError::NotFound(_)) => return Err(AccountError::InvalidToken.into()),
            Err(e) => return Err(e.into()),
        };
        operator::check_active(&user, &self.operator)?;
        Ok(principal)
    }
}

#[async_trait]
impl Authenticator for AccountsAuthenticator {
    async fn authenticate(&self, credential: &str) -> Result<Principal, ApiError> {
        let principal = if credential.starts_with(api_keys::KEY_PREFIX) {
            api_keys::authenticate(self.table.as_ref(), credential).await?
        } else {
            Principal {
                user_id: self.jwt.verify(credential)?,
                method: AuthMethod::AccessToken,
            }
        };
        self.admit(principal).await
    }
}
