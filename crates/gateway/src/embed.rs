//! Embedding calls (OpenAI / OpenAI-compatible `/embeddings`, Gemini `embedContent` and
//! `batchEmbedContents`) behind one trait, for the dense-vector side of retrieval.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::config::endpoint;
use crate::providers::{Endpoint, read_json, to_body, u64_at};
use crate::transport::Transport;
use crate::{ApiKey, GatewayError, ProviderKind};

/// Vectors in the order of the input texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// Tokens billed, when the provider reports them.
    pub input_tokens: Option<u64>,
}

#[async_trait]
pub trait Embedder: Send + Sync {
    fn provider(&self) -> ProviderKind;
    fn model(&self) -> &str;
    /// Requested output size (`None`: the model's native size).
    fn dimensions(&self) -> Option<u32>;
    /// Embeds every text; large inputs are split into provider-sized batches.
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, GatewayError>;
}

/// OpenAI's `/embeddings` (also served by Ollama, vLLM and others).
pub struct OpenAiEmbedder {
    ep: Endpoint,
    kind: ProviderKind,
    model: String,
    dimensions: Option<u32>,
}

const OPENAI_BATCH: usize = 512;
const GEMINI_BATCH: usize = 100;

impl OpenAiEmbedder {
    pub(crate) fn new(
        transport: Arc<Transport>,
        base: reqwest::Url,
        key: Option<ApiKey>,
        kind: ProviderKind,
        model: &str,
        dimensions: Option<u32>,
    ) -> Self {
        OpenAiEmbedder {
            ep: Endpoint {
                transport,
                base,
                key,
            },
            kind,
            model: model.to_owned(),
            dimensions,
        }
    }

    async fn batch(&self, texts: &[String]) -> Result<Embeddings, GatewayError> {
        let mut body = json!({"model": self.model, "input": texts, "encoding_format": "float"});
        if let Some(d) = self.dimensions {
            body["dimensions"] = json!(d);
        }
        let body = to_body(&body)?;
        let t = &self.ep.transport;
        let (resp, deadline) = t
            .send(self.kind.as_str(), || {
                let mut rb = t
                    .client
                    .post(endpoint(&self.ep.base, "embeddings"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
                if let Some(k) = &self.ep.key {
                    rb = rb.bearer_auth(k.expose());
                }
                rb
            })
            .await?;
        let (v, _) = read_json(t, resp, deadline).await?;
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| GatewayError::Protocol("the embeddings response has no data".into()))?;
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (pos, item) in data.iter().enumerate() {
            let i = u64_at(item, "index").map(|i| i as usize).unwrap_or(pos);
            let vec = floats(item.get("embedding"))?;
            match vectors.get_mut(i) {
                Some(slot) => *slot = Some(vec),
                None => {
                    return Err(GatewayError::Protocol(format!(
                        "embedding index {i} out of range"
                    )));
                }
            }
        }
        let vectors = vectors
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                GatewayError::Protocol("an embedding is missing from the response".into())
            })?;
        let tokens = v
            .get("usage")
            .and_then(|u| u64_at(u, "prompt_tokens").or_else(|| u64_at(u, "total_tokens")));
        Ok(Embeddings {
            vectors,
            input_tokens: tokens,
        })
    }
}

fn floats(v: Option<&Value>) -> Result<Vec<f32>, GatewayError> {
    let arr = v
        .and_then(Value::as_array)
        .ok_or_else(|| GatewayError::Protocol("an embedding is not an array of numbers".into()))?;
    arr.iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| GatewayError::Protocol("an embedding holds a non-number".into()))
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn provider(&self) -> ProviderKind {
        self.kind
    }
    fn model(&self) -> &str {
        &self.model
    }
    fn dimensions(&self) -> Option<u32> {
        self.dimensions
    }
    #[tracing::instrument(skip_all, fields(provider = self.kind.as_str(), model = %self.model, n = texts.len()))]
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, GatewayError> {
        if self.kind == ProviderKind::OpenAi && self.ep.key.is_none() {
            return Err(GatewayError::MissingKey {
                provider: "openai".into(),
            });
        }
        let mut all = Embeddings {
            vectors: Vec::with_capacity(texts.len()),
            input_tokens: None,
        };
        for batch in texts.chunks(OPENAI_BATCH) {
            let e = self.batch(batch).await?;
            all.vectors.extend(e.vectors);
            if let Some(t) = e.input_tokens {
                all.input_tokens = Some(all.input_tokens.unwrap_or(0) + t);
            }
        }
        Ok(all)
    }
}

/// Gemini's `embedContent` (one text) and `batchEmbedContents`.
pub struct GeminiEmbedder {
    ep: Endpoint,
    model: String,
    dimensions: Option<u32>,
    task_type: Option<String>,
}

impl GeminiEmbedder {
    pub(crate) fn new(
        transport: Arc<Transport>,
        base: reqwest::Url,
        key: Option<ApiKey>,
        model: &str,
        dimensions: Option<u32>,
    ) -> Self {
        GeminiEmbedder {
            ep: Endpoint {
                transport,
                base,
                key,
            },
            model: model.to_owned(),
            dimensions,
            task_type: None,
        }
    }

    /// `RETRIEVAL_DOCUMENT` for passages, `RETRIEVAL_QUERY` for questions.
    pub fn with_task_type(mut self, task: &str) -> Self {
        self.task_type = Some(task.to_owned());
        self
    }

    fn request(&self, text: &str) -> Value {
        let mut r = json!({"model": format!("models/{}", self.model), "content": {"parts": [{"text": text}]}});
        if let Some(d) = self.dimensions {
            r["outputDimensionality"] = json!(d);
        }
        if let Some(t) = &self.task_type {
            r["taskType"] = json!(t);
        }
        r
    }

    async fn call(&self, key: &str, method: &str, body: Value) -> Result<Value, GatewayError> {
        let body = to_body(&body)?;
        let url = endpoint(
            &self.ep.base,
            &format!("v1beta/models/{}:{method}", self.model),
        );
        let t = &self.ep.transport;
        let (resp, deadline) = t
            .send("gemini", || {
                t.client
                    .post(url.clone())
                    .header("x-goog-api-key", key)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        Ok(read_json(t, resp, deadline).await?.0)
    }
}

#[async_trait]
impl Embedder for GeminiEmbedder {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Gemini
    }
    fn model(&self) -> &str {
        &self.model
    }
    fn dimensions(&self) -> Option<u32> {
        self.dimensions
    }
    #[tracing::instrument(skip_all, fields(provider = "gemini", model = %self.model, n = texts.len()))]
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, GatewayError> {
        let key = self.ep.key("gemini")?;
        let mut vectors = Vec::with_capacity(texts.len());
        if let [one] = texts {
            let v = self.call(key, "embedContent", self.request(one)).await?;
            vectors.push(floats(v.get("embedding").and_then(|e| e.get("values")))?);
        } else {
            for batch in texts.chunks(GEMINI_BATCH) {
                let requests: Vec<Value> = batch.iter().map(|t| self.request(t)).collect();
                let v = self
                    .call(key, "batchEmbedContents", json!({"requests": requests}))
                    .await?;
                let list = v
                    .get("embeddings")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        GatewayError::Protocol("the batch response has no embeddings".into())
                    })?;
                if list.len() != batch.len() {
                    return Err(GatewayError::Protocol(format!(
                        "asked for {} embeddings, got {}",
                        batch.len(),
                        list.len()
                    )));
                }
                for e in list {
                    vectors.push(floats(e.get("values"))?);
                }
            }
        }
        Ok(Embeddings {
            vectors,
            input_tokens: None,
        })
    }
}
