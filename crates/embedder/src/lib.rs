//! The built-in embedder: a BERT-family sentence-embedding model (all-MiniLM-L6-v2,
//! bge-small-en-v1.5…) run in-process on the CPU with candle, so hybrid retrieval needs no
//! embedding provider, no key and no server. Selected with `RAGENIE_EMBEDDING_MODEL=local:<name>`
//! and a weights folder (`RAGENIE_EMBEDDING_MODEL_DIR`: `model.safetensors`, `tokenizer.json`,
//! `config.json`, and sentence-transformers' `1_Pooling/config.json` and
//! `sentence_bert_config.json` when present).
//!
//! It computes what sentence-transformers computes: tokens truncated to the model's
//! `max_seq_length`, the transformer's last hidden states pooled (mean over real tokens, or the
//! CLS token when the pooling config says so), then L2-normalised.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use ragenie_retrieval::{DenseError, Embedder};
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

/// The prefix of `RAGENIE_EMBEDDING_MODEL` that selects the built-in embedder.
pub const LOCAL_PREFIX: &str = "local:";

/// Texts run through the model at once (texts are sorted by length before batching, so padding
/// wastes little). Batches run one per core; measured on 2 cores with SciFact's chunks
/// (`scripts/bench.sh retrieval-speed`): 8 gave 10.2 chunks/s, 4 gave 9.8, 16 gave 9.0, 32 gave
/// 7.8 (large batches' attention tensors no longer fit the caches).
pub const BATCH: usize = 8;

/// The model name in `local:<name>`, or `None` for a provider's model.
pub fn local_model_name(model: &str) -> Option<&str> {
    model.strip_prefix(LOCAL_PREFIX).map(str::trim)
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedderError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pooling {
    /// Average of the real (not padding) tokens' vectors: all-MiniLM-L6-v2.
    Mean,
    /// The `[CLS]` token's vector: the bge models.
    Cls,
}

/// sentence-transformers' `1_Pooling/config.json`.
#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

/// sentence-transformers' `sentence_bert_config.json`.
#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: usize,
}

/// A loaded model and its tokenizer. Embedding is CPU-bound: call [`LocalEmbedder::embed`] on a
/// blocking thread (the [`Embedder`] implementation does).
pub struct LocalEmbedder {
    name: String,
    model: encoder::Encoder,
    tokenizer: Tokenizer,
    device: Device,
    pooling: Pooling,
    dimensions: usize,
    pad_id: u32,
    pad_token: String,
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedderError> {
    std::fs::read(path).map_err(|source| EmbedderError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, EmbedderError> {
    serde_json::from_slice(&read(path)?).map_err(|e| EmbedderError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

impl LocalEmbedder {
    /// Loads the model in `dir`. Takes a few hundred milliseconds (the weights are read whole):
    /// do it once, at start-up.
    pub fn load(name: &str, dir: &Path) -> Result<Self, EmbedderError> {
        let config: Config = read_json(&dir.join("config.json"))?;
        let hidden = config.hidden_size;

        let pooling_path = dir.join("1_Pooling").join("config.json");
        let pooling = if pooling_path.exists() {
            let p: PoolingConfig = read_json(&pooling_path)?;
            match (p.pooling_mode_mean_tokens, p.pooling_mode_cls_token) {
                (true, false) => Pooling::Mean,
                (false, true) => Pooling::Cls,
                _ => {
                    return Err(EmbedderError::Invalid {
                        path: pooling_path,
                        message: "only mean or CLS pooling is supported".into(),
                    });
                }
            }
        } else {
            Pooling::Mean
        };

        let sentence_path = dir.join("sentence_bert_config.json");
        let max_tokens = if sentence_path.exists() {
            read_json::<SentenceConfig>(&sentence_path)?.max_seq_length
        } else {
            config.max_position_embeddings
        }
        .clamp(2, config.max_position_embeddings);

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_bytes(read(&tokenizer_path)?).map_err(|e| EmbedderError::Invalid {
                path: tokenizer_path.clone(),
                message: e.to_string(),
            })?;
        // The tokenizer file's own settings (all-MiniLM ships 128 tokens, fixed padding) are
        // not what sentence-transformers uses: it truncates at max_seq_length.
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        // Padding is per batch (see `embed`), to the longest text of the batch.
        tokenizer.with_padding(None);
        let pad_id = config.pad_token_id as u32;
        let pad_token = tokenizer
            .id_to_token(pad_id)
            .unwrap_or_else(|| "[PAD]".into());

        let device = Device::Cpu;
        let weights_path = dir.join("model.safetensors");
        let weights = read(&weights_path)?;
        let vb =
            VarBuilder::from_buffered_safetensors(weights, DType::F32, &device).map_err(|e| {
                EmbedderError::Invalid {
                    path: weights_path.clone(),
                    message: e.to_string(),
                }
            })?;
        let model = encoder::Encoder::load(vb, &config).map_err(|e| EmbedderError::Invalid {
            path: weights_path,
            message: e.to_string(),
        })?;
        tracing::info!(
            model = name,
            dimensions = hidden,
            max_tokens,
            ?pooling,
            "embedding model loaded"
        );
        Ok(Self {
            name: name.to_owned(),
            model,
            tokenizer,
            device,
            pooling,
            dimensions: hidden,
            pad_id,
            pad_token,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The length of every vector this model makes.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// How many tokens the model reads of each text (after truncation, with its special
    /// tokens): what embedding costs is proportional to their sum.
    pub fn token_counts(&self, texts: &[String]) -> Result<Vec<usize>, EmbedderError> {
        Ok(self
            .tokenizer
            .encode_batch(texts.iter().map(String::as_str).collect::<Vec<_>>(), true)
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?
            .iter()
            .map(|e| e.len())
            .collect())
    }

    /// Unit-length vectors for `texts`, in their order. Blocks: CPU work.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedderError> {
        let mut encodings = self
            .tokenizer
            .encode_batch(texts.iter().map(String::as_str).collect::<Vec<_>>(), true)
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        // Sorted by length, each batch pads to a length close to all of its texts'.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].len()));
        let mut batches = Vec::new();
        for batch in order.chunks(BATCH) {
            let mut items: Vec<_> = batch
                .iter()
                .map(|&i| std::mem::take(&mut encodings[i]))
                .collect();
            let longest = items.iter().map(|e| e.len()).max().unwrap_or(0);
            for e in &mut items {
                e.pad(
                    longest,
                    self.pad_id,
                    0,
                    &self.pad_token,
                    tokenizers::PaddingDirection::Right,
                );
            }
            batches.push((batch, items, longest));
        }
        // Only the matrix products run on several threads inside candle; the element-wise
        // work between them (norms, GELU, softmax, copies: half the time) runs on the calling
        // thread. Batches on one thread per core keep every core busy throughout.
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(batches.len())
            .max(1);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results = if workers == 1 {
            // A question, or a few chunks: on the calling thread (a new thread's first
            // allocations fault fresh pages in, a third of a short text's time).
            let done = batches
                .iter()
                .enumerate()
                .map(|(b, (_, items, longest))| Ok((b, self.forward(items, *longest)?)))
                .collect::<Result<Vec<_>, EmbedderError>>()?;
            vec![done]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut done = Vec::new();
                            loop {
                                let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some((_, items, longest)) = batches.get(b) else {
                                    return Ok::<_, EmbedderError>(done);
                                };
                                done.push((b, self.forward(items, *longest)?));
                            }
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("an embedding thread panicked"))
                    .collect::<Result<Vec<_>, _>>()
            })?
        };
        let mut vectors = vec![Vec::new(); texts.len()];
        for (b, out) in results.into_iter().flatten() {
            for (&i, v) in batches[b].0.iter().zip(out) {
                vectors[i] = v;
            }
        }
        Ok(vectors)
    }

    fn forward(
        &self,
        items: &[tokenizers::Encoding],
        len: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedderError> {
        let n = items.len();
        let flat = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Vec<u32> {
            items.iter().flat_map(|e| f(e).iter().copied()).collect()
        };
        let ids = Tensor::from_vec(flat(|e| e.get_ids()), (n, len), &self.device)?;
        let types = Tensor::from_vec(flat(|e| e.get_type_ids()), (n, len), &self.device)?;
        let mask = Tensor::from_vec(flat(|e| e.get_attention_mask()), (n, len), &self.device)?;
        let hidden = self.model.forward(&ids, &types, &mask)?;
        let pooled = match self.pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean => encoder::mean_pool(&hidden, &mask)?,
        };
        Ok(encoder::normalise(&pooled)?.to_vec2::<f32>()?)
    }
}

/// The models loaded in this process, by name and folder.
type Loaded = HashMap<(String, PathBuf), Arc<LocalEmbedder>>;

/// One loaded model per weights folder per process: the documents and chat routers of the local
/// server share it, and nothing loads it twice.
pub fn shared(name: &str, dir: &Path) -> Result<Arc<LocalEmbedder>, EmbedderError> {
    static LOADED: OnceLock<Mutex<Loaded>> = OnceLock::new();
    let key = (name.to_owned(), dir.to_owned());
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(model) = loaded.get(&key) {
        return Ok(model.clone());
    }
    let model = Arc::new(LocalEmbedder::load(name, dir)?);
    loaded.insert(key, model.clone());
    Ok(model)
}

/// The built-in model behind the retrieval crate's embedder port: each call runs on Tokio's
/// blocking pool, so searches and uploads never stall the async workers.
#[derive(Clone)]
pub struct BlockingEmbedder(pub Arc<LocalEmbedder>);

#[async_trait]
impl Embedder for BlockingEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, DenseError> {
        let model = self.0.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || model.embed(&texts))
            .await
            .map_err(|e| DenseError::Provider(format!("the embedding task failed: {e}")))?
            .map_err(|e| DenseError::Provider(e.to_string()))
    }
}

mod encoder;
pub mod testing;
