//! Embeddings for hybrid retrieval: the LLM gateway's embedding call, or the built-in model
//! (`local:<name>`, run in-process), behind the retrieval crate's `Embedder` port, chosen by
//! `RAGENIE_EMBEDDING_MODEL`.

use std::sync::Arc;

use async_trait::async_trait;
use ragenie_common::accounts::operator::OperatorDefaults;
use ragenie_common::config::EmbeddingSettings;
use ragenie_embedder::{BlockingEmbedder, EmbedderError, local_model_name};
use ragenie_gateway::{Gateway, GatewayError, ModelSpec, ProviderKind};
use ragenie_retrieval::{DenseError, Embedded, Embedder};

use crate::Corpus;
use crate::metering::TableMeter;

/// A gateway embedder seen through the retrieval port.
pub struct GatewayEmbedder(pub Box<dyn ragenie_gateway::Embedder>);

#[async_trait]
impl Embedder for GatewayEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, DenseError> {
        Ok(self.embed_billed(texts).await?.vectors)
    }

    /// The vectors and the tokens the provider reported in its `usage`.
    async fn embed_billed(&self, texts: &[String]) -> Result<Embedded, DenseError> {
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
        Ok(Embedded {
            vectors: embeddings.vectors,
            billed_tokens: embeddings.input_tokens,
        })
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

/// Why the configured embeddings could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingSetupError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("the built-in model `{model}` could not be loaded: {source}")]
    Local {
        model: String,
        source: EmbedderError,
    },
    #[error(
        "`{model}` makes {native}-dimension vectors; RAGENIE_EMBEDDING_DIMENSIONS={asked} cannot be honoured"
    )]
    Dimensions {
        model: String,
        native: usize,
        asked: u32,
    },
    #[error("RAGENIE_EMBEDDING_MODEL_DIR is required for the built-in model `{0}`")]
    NoModelDir(String),
}

/// `corpus` with the configured embeddings turned on, or unchanged when no embedding model is
/// set. An unknown model, a provider without a key or a built-in model whose weights do not
/// load is an error: the process should not start half-configured. A built-in model is loaded
/// here, at start-up, once per process (the routers of one process share it). A provider's
/// calls are metered: billed to the user they are made for, within the operator's quota
/// (`operator`: the deployment's defaults; see [`crate::metering`]).
pub fn with_configured_embeddings(
    corpus: Corpus,
    settings: Option<&EmbeddingSettings>,
    gateway: &Gateway,
    operator: &OperatorDefaults,
) -> Result<Corpus, EmbeddingSetupError> {
    let Some(settings) = settings else {
        return Ok(corpus);
    };
    if let Some(name) = local_model_name(&settings.model) {
        let embedder = local_embedder(name, settings)?;
        return Ok(corpus.with_embedder(Arc::new(embedder), model_label(settings)));
    }
    let embedder = gateway.embedder(&settings.model, settings.dimensions)?;
    // A model the catalog does not know (an OpenAI-compatible server's) has no price.
    let spec = gateway
        .catalog()
        .get(&settings.model)
        .cloned()
        .unwrap_or_else(|| ModelSpec::unknown(&settings.model, ProviderKind::OpenAiCompatible));
    let meter = TableMeter::new(corpus.table.clone(), operator.clone(), spec);
    Ok(corpus
        .with_embedder(Arc::new(GatewayEmbedder(embedder)), model_label(settings))
        .with_embedding_meter(Arc::new(meter)))
}

/// The built-in model `name` from the configured weights folder.
fn local_embedder(
    name: &str,
    settings: &EmbeddingSettings,
) -> Result<BlockingEmbedder, EmbeddingSetupError> {
    let dir = settings
        .model_dir
        .as_deref()
        .ok_or_else(|| EmbeddingSetupError::NoModelDir(settings.model.clone()))?;
    let model =
        ragenie_embedder::shared(name, dir).map_err(|source| EmbeddingSetupError::Local {
            model: settings.model.clone(),
            source,
        })?;
    if let Some(asked) = settings.dimensions
        && asked as usize != model.dimensions()
    {
        return Err(EmbeddingSetupError::Dimensions {
            model: settings.model.clone(),
            native: model.dimensions(),
            asked,
        });
    }
    Ok(BlockingEmbedder(model))
}
