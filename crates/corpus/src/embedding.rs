//! Embeddings for hybrid retrieval: the LLM gateway's embedding call behind the retrieval
//! crate's `Embedder` port, chosen by `RAGENIE_EMBEDDING_MODEL`, and the provider keys the
//! functions that call providers read at start.

use std::sync::Arc;

use async_trait::async_trait;
use ragenie_common::AppState;
use ragenie_common::config::{EmbeddingSettings, StoreSettings};
use ragenie_gateway::{Gateway, GatewayError, ProviderKeys};
use ragenie_retrieval::{DenseError, Embedder};

use crate::Corpus;

/// A gateway embedder seen through the retrieval port.
pub struct GatewayEmbedder(pub Box<dyn ragenie_gateway::Embedder>);

#[async_trait]
impl Embedder for GatewayEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, DenseError> {
        let embeddings = self
            .0
            .embed(texts)
            .await
            .map_err(|e| DenseError::Provider(e.to_string()))?;
        if embeddings.vectors.len() != texts.len() {
            return Err(DenseError::Provider(format!(
                "{} vectors for {} texts",
                embeddings.vectors.len(),
                texts.len()
            )));
        }
        Ok(embeddings.vectors)
    }
}

/// What segments record as the embedding model: the model and, when reduced, its size — so
/// vectors of another model or size are never compared with a query's.
pub fn model_label(settings: &EmbeddingSettings) -> String {
    match settings.dimensions {
        Some(d) => format!("{}/{d}", settings.model),
        None => settings.model.clone(),
    }
}

/// `corpus` with the configured embeddings turned on, or unchanged when no embedding model is
/// set. An unknown model or a provider without a key is an error: the process should not
/// start half-configured.
pub fn with_configured_embeddings(
    corpus: Corpus,
    settings: Option<&EmbeddingSettings>,
    gateway: &Gateway,
) -> Result<Corpus, GatewayError> {
    let Some(settings) = settings else {
        return Ok(corpus);
    };
    let embedder = gateway.embedder(&settings.model, settings.dimensions)?;
    Ok(corpus.with_embedder(Arc::new(GatewayEmbedder(embedder)), model_label(settings)))
}

/// Provider keys for this process: from the Secrets Manager secret named by
/// `RAGENIE_PROVIDER_KEYS_SECRET_ID` when set, else from the environment. Read once at start.
pub async fn load_provider_keys(state: &AppState) -> anyhow::Result<ProviderKeys> {
    if let StoreSettings::Aws {
        provider_keys_secret_id: Some(id),
        ..
    } = &state.settings.store
    {
        let json = state
            .secrets
            .get_string(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("secret {id} does not exist"))?;
        return Ok(ProviderKeys::from_json(&json)?);
    }
    Ok(ProviderKeys::from_env())
}
