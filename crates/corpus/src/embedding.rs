//! Embeddings for hybrid retrieval: the LLM gateway's embedding call behind the retrieval
//! crate's `Embedder` port, chosen by `RAGENIE_EMBEDDING_MODEL`.

use std::sync::Arc;

use async_trait::async_trait;
use ragenie_common::config::EmbeddingSettings;
use ragenie_gateway::{Gateway, GatewayError};
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
