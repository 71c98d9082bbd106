//! The state of the functions that call model providers (chat, documents): the app state plus
//! the LLM gateway and the corpus — with embeddings when `RAGENIE_EMBEDDING_MODEL` is set —
//! built once at start by `main.rs`, the local server, tests and benches alike. Tests and
//! benches inject a gateway on fake providers with [`ProviderState::with_gateway`].

use std::sync::Arc;

use axum::extract::FromRef;
use ragenie_common::AppState;
use ragenie_common::config::StoreSettings;
use ragenie_common::storage::LocalQueue;
use ragenie_common::storage::aws::{SqsQueue, load_sdk_config};
use ragenie_gateway::{Gateway, GatewayConfig, GatewayError, ProviderKeys};

use crate::Corpus;
use crate::embedding::with_configured_embeddings;

/// The SQS queue the `ingest` function consumes (AWS; the documents function sends to it). Unset
/// on AWS: uploads are ingested inside the request.
pub const INGEST_QUEUE_URL_ENV: &str = "RAGENIE_INGEST_QUEUE_URL";

/// Why a function could not start; each names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("RAGENIE_PROVIDER_KEYS_SECRET_ID: {0}")]
    ProviderKeysSecret(String),
    #[error("{0}")]
    Gateway(GatewayError),
    #[error("RAGENIE_EMBEDDING_MODEL: {0}")]
    Embedding(crate::embedding::EmbeddingSetupError),
}

/// What a function needs of the providers, so one that only embeds reads no keys without an
/// embedding model (plain BM25 needs no provider).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderUse {
    /// Chat models (and embeddings when configured): keys are always read.
    Chat,
    /// Embeddings only: keys are read only when an embedding model is configured.
    EmbeddingsOnly,
    /// The `ingest` function: as `EmbeddingsOnly`, never queues (it is the queue's consumer),
    /// and waits up to [`INGEST_FUNCTION_EMBED_TIMEOUT`] for an upload's embeddings.
    Ingest,
}

/// How long the ingest function waits for an upload's chunk embeddings: nobody waits on it, and
/// its 15-minute timeout leaves room for extraction and the segment write.
pub const INGEST_FUNCTION_EMBED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Clone)]
pub struct ProviderState {
    pub app: AppState,
    pub gateway: Arc<Gateway>,
    /// One corpus per process, so the segment caches are shared by every router using it.
    pub corpus: Arc<Corpus>,
}

impl FromRef<ProviderState> for AppState {
    fn from_ref(state: &ProviderState) -> AppState {
        state.app.clone()
    }
}

impl ProviderState {
    /// Reads the provider keys (the Secrets Manager secret named by
    /// `RAGENIE_PROVIDER_KEYS_SECRET_ID` on AWS, else the environment) and the gateway settings
    /// (`RAGENIE_*_BASE_URL`), and builds the corpus with its ingestion (a local background
    /// worker, or the SQS queue of `RAGENIE_INGEST_QUEUE_URL`). Start-up, not a request: every
    /// error names the variable to fix.
    pub async fn connect(app: AppState, needs: ProviderUse) -> Result<Self, StartupError> {
        // The built-in model (`local:<name>`) runs in-process and needs no key.
        let provider_embeddings = app
            .settings
            .embedding
            .as_ref()
            .is_some_and(|e| ragenie_embedder::local_model_name(&e.model).is_none());
        let keys = if needs == ProviderUse::Chat || provider_embeddings {
            load_provider_keys(&app).await?
        } else {
            ProviderKeys::default()
        };
        let config = GatewayConfig::from_env().map_err(StartupError::Gateway)?;
        let gateway = Gateway::new(config, keys).map_err(StartupError::Gateway)?;
        // Token counting needs the tiktoken tables: build them off the request path.
        ragenie_gateway::preload_tokenizers();
        let gateway = Arc::new(gateway);
        let mut corpus = configured_corpus(&app, &gateway)?;
        if needs == ProviderUse::Ingest {
            corpus = corpus
                .with_embedding_timeouts(crate::QUERY_EMBED_TIMEOUT, INGEST_FUNCTION_EMBED_TIMEOUT);
            return Ok(Self {
                app,
                gateway,
                corpus: Arc::new(corpus),
            });
        }
        // Ingestion: locally a background task of this process; on AWS the queue the `ingest`
        // function consumes, when this function has one (the documents function).
        let (corpus, local_jobs) = match &app.settings.store {
            StoreSettings::Embedded { .. } => {
                let (queue, receiver) = LocalQueue::new();
                (corpus.with_queue(Arc::new(queue)), Some(receiver))
            }
            StoreSettings::Aws { .. } => match std::env::var(INGEST_QUEUE_URL_ENV) {
                Ok(url) if !url.is_empty() => {
                    let sdk = load_sdk_config().await;
                    (corpus.with_queue(Arc::new(SqsQueue::new(&sdk, url))), None)
                }
                _ => (corpus, None),
            },
        };
        let corpus = Arc::new(corpus);
        if let Some(receiver) = local_jobs {
            corpus.spawn_local_worker(receiver);
        }
        Ok(Self {
            app,
            gateway,
            corpus,
        })
    }

    /// The state with this gateway (tests and benches: one on fake providers). An embedding
    /// model the gateway cannot serve is an error.
    /// Uploads are ingested inside the request (no queue).
    pub fn with_gateway(app: AppState, gateway: Arc<Gateway>) -> Result<Self, StartupError> {
        let corpus = configured_corpus(&app, &gateway)?;
        Ok(Self {
            app,
            gateway,
            corpus: Arc::new(corpus),
        })
    }

    /// The state with no provider at all (tests of what needs none): nothing is read from the
    /// environment.
    pub fn offline(app: AppState) -> Result<Self, StartupError> {
        let gateway = Gateway::new(GatewayConfig::default(), ProviderKeys::default())
            .map_err(StartupError::Gateway)?;
        Self::with_gateway(app, Arc::new(gateway))
    }

    /// The state with this corpus (tests that tune its timeouts or embedder).
    pub fn with_corpus(mut self, corpus: Corpus) -> Self {
        self.corpus = Arc::new(corpus);
        self
    }
}

/// The corpus on the app's stores, with the configured embeddings.
fn configured_corpus(app: &AppState, gateway: &Arc<Gateway>) -> Result<Corpus, StartupError> {
    with_configured_embeddings(
        Corpus::new(app.table.clone(), app.blobs.clone()),
        app.settings.embedding.as_ref(),
        gateway,
        &app.settings.operator,
    )
    .map_err(StartupError::Embedding)
}

/// Provider keys for this process: from the Secrets Manager secret named by
/// `RAGENIE_PROVIDER_KEYS_SECRET_ID` when set, else from the environment. Read once at start.
pub async fn load_provider_keys(state: &AppState) -> Result<ProviderKeys, StartupError> {
    if let StoreSettings::Aws {
        provider_keys_secret_id: Some(id),
        ..
    } = &state.settings.store
    {
        let json = state
            .secrets
            .get_string(id)
            .await
            .map_err(|e| StartupError::ProviderKeysSecret(format!("reading {id}: {e}")))?
            .ok_or_else(|| {
                StartupError::ProviderKeysSecret(format!("secret {id} does not exist"))
            })?;
        return ProviderKeys::from_json(&json)
            .map_err(|e| StartupError::ProviderKeysSecret(format!("{id}: {e}")));
    }
    Ok(ProviderKeys::from_env())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ragenie_common::testing::embedded_state;

    #[tokio::test]
    async fn without_an_embedding_model_no_keys_are_needed_and_the_corpus_is_plain_bm25() {
        let dir = tempfile::tempdir().unwrap();
        let app = embedded_state(dir.path(), "http://127.0.0.1:1").await;
        let state = ProviderState::connect(app, ProviderUse::EmbeddingsOnly)
            .await
            .unwrap();
        assert_eq!(state.corpus.embedding_model(), None);
    }
}
