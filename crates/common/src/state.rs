//! The state every router is built from: settings, the storage ports and the authenticator.
//! `AppState::connect` picks the adapters the settings name, once per process.

use std::sync::Arc;

use anyhow::Context;

use crate::accounts::{AccountsAuthenticator, JWT_SIGNING_SECRET, JwtKeys};
use crate::auth::SharedAuthenticator;
use crate::config::{Settings, StoreSettings};
use crate::storage::aws::{AwsSecrets, DynamoTable, S3Blobs, load_sdk_config};
use crate::storage::embedded::{EmbeddedBlobs, EmbeddedSecrets, EmbeddedTable, UrlSigner};
use crate::storage::instrumented::{TracedBlobs, TracedTable};
use crate::storage::{Blobs, Secrets, Table};

/// The authenticator of the accounts domain and the keys it checks tokens with (the auth
/// function signs with the same keys).
fn accounts_auth(
    table: &Arc<dyn Table>,
    signing_key: &str,
    settings: &Settings,
) -> anyhow::Result<(SharedAuthenticator, Arc<JwtKeys>)> {
    let jwt = Arc::new(JwtKeys::from_secret(signing_key.as_bytes())?);
    Ok((
        Arc::new(AccountsAuthenticator::new(
            table.clone(),
            jwt.clone(),
            settings.operator.clone(),
        )),
        jwt,
    ))
}

/// The secret (embedded: a file in the data directory) holding the HMAC key of local presigned
/// URLs.
pub const BLOB_SIGNING_SECRET: &str = "blob-url-signing-key";

/// The router state of a function with a service of its own (the chat service, the corpus, the
/// conversation stores), built once at start beside the [`AppState`] every function shares.
pub struct FunctionState<T> {
    pub app: AppState,
    pub service: Arc<T>,
}

impl<T> FunctionState<T> {
    pub fn new(app: AppState, service: T) -> Self {
        Self::shared(app, Arc::new(service))
    }

    pub fn shared(app: AppState, service: Arc<T>) -> Self {
        Self { app, service }
    }
}

// Not derived: a derive would ask `T: Clone`, and the service is shared, not copied.
impl<T> Clone for FunctionState<T> {
    fn clone(&self) -> Self {
        Self::shared(self.app.clone(), self.service.clone())
    }
}

impl<T> std::ops::Deref for FunctionState<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.service
    }
}

impl<T> axum::extract::FromRef<FunctionState<T>> for AppState {
    fn from_ref(state: &FunctionState<T>) -> AppState {
        state.app.clone()
    }
}

/// A router state that carries the [`AppState`] (it, or a function's state built around it):
/// what the extractors that read the store or the settings ask of the state they run with.
pub trait HasAppState: Send + Sync {
    fn app_state(&self) -> AppState;
}

impl<S: Send + Sync> HasAppState for S
where
    AppState: axum::extract::FromRef<S>,
{
    fn app_state(&self) -> AppState {
        <AppState as axum::extract::FromRef<S>>::from_ref(self)
    }
}

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn Blobs>,
    pub secrets: Arc<dyn Secrets>,
    pub auth: SharedAuthenticator,
    /// The access-token keys, loaded once at start (Secrets Manager, or generated locally).
    pub jwt: Arc<JwtKeys>,
    /// Set in embedded mode: the local server mounts its presigned-URL routes.
    pub local_blobs: Option<Arc<EmbeddedBlobs>>,
    /// Set in embedded mode: secrets that are generated on first use live here.
    pub local_secrets: Option<EmbeddedSecrets>,
}

impl AppState {
    /// Builds the adapters the settings name (SDK clients are built here, once).
    pub async fn connect(settings: Settings) -> anyhow::Result<Self> {
        match &settings.store {
            StoreSettings::Embedded { data_dir } => {
                let secrets = EmbeddedSecrets::open(&data_dir.join("secrets"))?;
                let signing_key = secrets
                    .get_or_generate(BLOB_SIGNING_SECRET)
                    .context("creating the URL signing key")?;
                let table: Arc<dyn Table> =
                    Arc::new(EmbeddedTable::open(&data_dir.join("items.redb"))?);
                let jwt_key = secrets
                    .get_or_generate(JWT_SIGNING_SECRET)
                    .context("creating the JWT signing key")?;
                let (auth, jwt) = accounts_auth(&table, &jwt_key, &settings)?;
                let blobs = Arc::new(EmbeddedBlobs::open(
                    &data_dir.join("blobs"),
                    UrlSigner::new(signing_key.into_bytes()),
                    &settings.public_url,
                )?);
                Ok(Self {
                    table: Arc::new(TracedTable(table)),
                    blobs: Arc::new(TracedBlobs(blobs.clone())),
                    secrets: Arc::new(secrets.clone()),
                    auth,
                    jwt,
                    local_blobs: Some(blobs),
                    local_secrets: Some(secrets),
                    settings: Arc::new(settings),
                })
            }
            StoreSettings::Aws {
                table,
                bucket,
                jwt_secret_id,
                ..
            } => {
                let sdk = load_sdk_config().await;
                let table: Arc<dyn Table> = Arc::new(DynamoTable::new(&sdk, table));
                let secrets = AwsSecrets::new(&sdk);
                let jwt_key = secrets
                    .get_string(jwt_secret_id)
                    .await
                    .with_context(|| format!("reading the JWT signing key {jwt_secret_id}"))?
                    .with_context(|| {
                        format!("the JWT signing secret {jwt_secret_id} does not exist")
                    })?;
                let (auth, jwt) = accounts_auth(&table, &jwt_key, &settings)?;
                Ok(Self {
                    table: Arc::new(TracedTable(table)),
                    blobs: Arc::new(TracedBlobs(Arc::new(S3Blobs::new(&sdk, bucket)))),
                    secrets: Arc::new(secrets),
                    auth,
                    jwt,
                    local_blobs: None,
                    local_secrets: None,
                    settings: Arc::new(settings),
                })
            }
        }
    }

    pub fn store_kind(&self) -> &'static str {
        match self.settings.store {
            StoreSettings::Embedded { .. } => "embedded",
            StoreSettings::Aws { .. } => "aws",
        }
    }

    pub fn with_authenticator(mut self, auth: SharedAuthenticator) -> Self {
        self.auth = auth;
        self
    }
}
