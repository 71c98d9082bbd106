//! The real [`Authenticator`]: an access token (JWT) or a personal API key becomes a
//! [`Principal`].

use std::sync::Arc;

use async_trait::async_trait;

use super::api_keys;
use super::jwt::JwtKeys;
use crate::auth::{AuthMethod, Authenticator, Principal};
use crate::error::ApiError;
use crate::storage::Table;

pub struct AccountsAuthenticator {
    table: Arc<dyn Table>,
    jwt: Arc<JwtKeys>,
}

impl AccountsAuthenticator {
    pub fn new(table: Arc<dyn Table>, jwt: Arc<JwtKeys>) -> Self {
        Self { table, jwt }
    }
}

#[async_trait]
impl Authenticator for AccountsAuthenticator {
    async fn authenticate(&self, credential: &str) -> Result<Principal, ApiError> {
        if credential.starts_with(api_keys::KEY_PREFIX) {
            return Ok(api_keys::authenticate(self.table.as_ref(), credential).await?);
        }
        let user = self.jwt.verify(credential)?;
        Ok(Principal {
            user_id: user,
            method: AuthMethod::AccessToken,
        })
    }
}
