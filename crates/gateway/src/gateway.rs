//! The facade the chat function uses: catalog, keys and one provider client per wire format.

use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;

use crate::embed::{Embedder, GeminiEmbedder, OpenAiEmbedder};
use crate::observe::{self, Observed};
use crate::providers::{AnthropicProvider, Endpoint, GeminiProvider, LlmProvider, OpenAiProvider};
use crate::transport::Transport;
use crate::{
    Answer, Catalog, ChatRequest, Cost, GatewayConfig, GatewayError, LlmStream, ModelAvailability,
    ModelKind, ModelSpec, ProviderKeys, ProviderKind, Usage, estimate_request_tokens,
};

/// Built once per process (cold start) and shared; every method takes `&self`.
pub struct Gateway {
    catalog: Catalog,
    keys: ProviderKeys,
    config: GatewayConfig,
    transport: Arc<Transport>,
    openai: OpenAiProvider,
    anthropic: AnthropicProvider,
    gemini: GeminiProvider,
    compat: Option<OpenAiProvider>,
}

/// What a request will cost before it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub input_tokens: u64,
    /// The input cost (output unknown yet), flagged as an estimate.
    pub cost: Cost,
}

impl Gateway {
    /// The built-in catalog plus any models of the OpenAI-compatible endpoint.
    pub fn new(config: GatewayConfig, keys: ProviderKeys) -> Result<Self, GatewayError> {
        Self::with_catalog(config, keys, Catalog::built_in())
    }

    /// Endpoints and keys both read through `lookup` (the variables `from_env` reads): a
    /// gateway over fake providers or a test's own settings in one call.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, GatewayError> {
        Self::new(
            GatewayConfig::from_lookup(&lookup)?,
            ProviderKeys::from_lookup(&lookup),
        )
    }

    pub fn with_catalog(
        config: GatewayConfig,
        keys: ProviderKeys,
        mut catalog: Catalog,
    ) -> Result<Self, GatewayError> {
        let transport = Arc::new(Transport::new(
            config.timeouts.clone(),
            config.retry.clone(),
        )?);
        let ep = |base: &reqwest::Url, p: ProviderKind| Endpoint {
            transport: transport.clone(),
            base: base.clone(),
            key: keys.get(p).cloned(),
        };
        if config.openai_compatible_base_url.is_some() {
            for id in &config.openai_compatible_models {
                if catalog.get(id).is_none() {
                    catalog.upsert(ModelSpec::unknown(id, ProviderKind::OpenAiCompatible));
                }
            }
        }
        Ok(Gateway {
            openai: OpenAiProvider::new(
                ep(&config.openai_base_url, ProviderKind::OpenAi),
                ProviderKind::OpenAi,
            ),
            anthropic: AnthropicProvider::new(ep(
                &config.anthropic_base_url,
                ProviderKind::Anthropic,
            )),
            gemini: GeminiProvider::new(ep(&config.gemini_base_url, ProviderKind::Gemini)),
            compat: config.openai_compatible_base_url.as_ref().map(|u| {
                OpenAiProvider::new(
                    ep(u, ProviderKind::OpenAiCompatible),
                    ProviderKind::OpenAiCompatible,
                )
            }),
            catalog,
            keys,
            config,
            transport,
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The catalog with availability (for `GET /models`).
    pub fn models(&self) -> Vec<ModelAvailability> {
        let mut list = self.catalog.with_availability(&self.keys);
        for m in &mut list {
            if m.model.provider == ProviderKind::OpenAiCompatible && self.compat.is_none() {
                m.available = false;
                m.unavailable_reason = Some("no OpenAI-compatible base URL configured".into());
            }
        }
        list
    }

    pub fn is_available(&self, provider: ProviderKind) -> bool {
        match provider {
            ProviderKind::OpenAiCompatible => self.compat.is_some(),
            p => self.keys.get(p).is_some(),
        }
    }

    /// The provider client for a wire format.
    pub fn provider(&self, kind: ProviderKind) -> Option<&dyn LlmProvider> {
        match kind {
            ProviderKind::OpenAi => Some(&self.openai),
            ProviderKind::Anthropic => Some(&self.anthropic),
            ProviderKind::Gemini => Some(&self.gemini),
            ProviderKind::OpenAiCompatible => self.compat.as_ref().map(|c| c as &dyn LlmProvider),
        }
    }

    fn resolve(
        &self,
        req: &ChatRequest,
    ) -> Result<(ModelSpec, &dyn LlmProvider, ChatRequest), GatewayError> {
        let spec = self
            .catalog
            .get(&req.model)
            .filter(|m| m.kind == ModelKind::Chat)
            .ok_or_else(|| GatewayError::UnknownModel(req.model.clone()))?;
        let (provider, req) = self.prepare(spec, req)?;
        Ok((spec.clone(), provider, req))
    }

    /// The provider and the request as it is sent: the model's id, the catalog's limits
    /// applied (temperature, output limit, system role).
    fn prepare(
        &self,
        spec: &ModelSpec,
        req: &ChatRequest,
    ) -> Result<(&dyn LlmProvider, ChatRequest), GatewayError> {
        if !self.is_available(spec.provider) {
            return Err(GatewayError::MissingKey {
                provider: spec.provider.to_string(),
            });
        }
        let provider = self
            .provider(spec.provider)
            .ok_or_else(|| GatewayError::MissingKey {
                provider: spec.provider.to_string(),
            })?;
        let mut req = req.clone();
        req.model = spec.id.clone();
        req.supports_system_role = req.supports_system_role && spec.supports_system_role;
        req.temperature = if spec.temperature.is_fixed() {
            None
        } else {
            req.temperature.map(|t| spec.temperature.clamp(t))
        };
        let max = req
            .max_output_tokens
            .or(spec.default_max_tokens)
            .map(|n| n.min(spec.max_output_tokens.max(1)));
        req.max_output_tokens = max;
        Ok((provider, req))
    }

    /// The chat model an id names, as people write ids today: a catalog id, a dated snapshot
    /// or LiteLLM's `provider/model` (both priced as their catalog entry, see
    /// [`Catalog::resolve`]), or any other model of a configured provider — named by its
    /// `provider/` prefix, its family (`gpt-…`, `claude-…`, `gemini-…`), or served by the
    /// OpenAI-compatible endpoint — with no known price (its cost is reported as unknown, never
    /// as free). Refused: an id no configured provider can serve, and a provider without a key.
    pub fn chat_model(&self, id: &str) -> Result<ModelSpec, GatewayError> {
        if let Some(spec) = self.catalog.resolve(id) {
            if spec.kind != ModelKind::Chat {
                return Err(GatewayError::UnknownModel(id.to_owned()));
            }
            if !self.is_available(spec.provider) {
                return Err(GatewayError::MissingKey {
                    provider: spec.provider.to_string(),
                });
            }
            return Ok(spec);
        }
        let (named, bare) = crate::split_provider(id);
        if bare.is_empty() {
            return Err(GatewayError::UnknownModel(id.to_owned()));
        }
        let compat = self
            .compat
            .is_some()
            .then_some(ProviderKind::OpenAiCompatible);
        let provider = match named {
            Some(p) if self.is_available(p) => p,
            Some(p) => {
                return Err(GatewayError::MissingKey {
                    provider: p.to_string(),
                });
            }
            // A family guess gives way to the compatible server (Ollama serves `gemma-…`).
            None => match crate::provider_by_family(bare) {
                Some(p) if self.is_available(p) => p,
                Some(p) => compat.ok_or_else(|| GatewayError::MissingKey {
                    provider: p.to_string(),
                })?,
                None => compat.ok_or_else(|| GatewayError::UnknownModel(id.to_owned()))?,
            },
        };
        Ok(ModelSpec::unknown(bare, provider))
    }

    /// Streams an answer from `spec`'s provider (a spec from [`Self::chat_model`] or the
    /// operator's model settings), with its limits applied; measured like [`Self::stream`].
    pub async fn stream_model(
        &self,
        spec: &ModelSpec,
        req: &ChatRequest,
    ) -> Result<LlmStream, GatewayError> {
        let (provider, req) = self.prepare(spec, req)?;
        self.observed_stream(spec, provider, &req).await
    }

    /// Streams an answer from the model's provider, with the catalog's limits applied
    /// (temperature clamped or dropped for fixed-temperature models, output limit capped,
    /// instructions moved to a user turn for models without a system role).
    ///
    /// The call runs in a `provider_call` span and is measured (see [`crate::observe`]).
    pub async fn stream(&self, req: &ChatRequest) -> Result<LlmStream, GatewayError> {
        let (spec, provider, req) = self.resolve(req)?;
        self.observed_stream(&spec, provider, &req).await
    }

    async fn observed_stream(
        &self,
        spec: &ModelSpec,
        provider: &dyn LlmProvider,
        req: &ChatRequest,
    ) -> Result<LlmStream, GatewayError> {
        let label = spec.provider.as_str();
        let span = tracing::info_span!("provider_call", provider = label, model = %spec.id, operation = "stream");
        let started = Instant::now();
        match provider.stream(req).instrument(span.clone()).await {
            Ok(stream) => Ok(Box::pin(Observed::new(
                stream,
                span,
                label,
                spec.clone(),
                started,
            ))),
            Err(e) => {
                span.in_scope(|| observe::failed(label, &e));
                Err(e)
            }
        }
    }

    /// A whole answer through the provider's non-streaming endpoint.
    pub async fn complete(&self, req: &ChatRequest) -> Result<Answer, GatewayError> {
        let (spec, provider, req) = self.resolve(req)?;
        let label = spec.provider.as_str();
        let span = tracing::info_span!("provider_call", provider = label, model = %spec.id, operation = "complete");
        let result = provider.complete(&req).instrument(span.clone()).await;
        match &result {
            Ok(_) => ragenie_common::metrics::provider_request(label, true),
            Err(e) => span.in_scope(|| observe::failed(label, e)),
        }
        result
    }

    /// Input tokens and input cost before sending (an estimate).
    pub fn estimate(&self, req: &ChatRequest) -> Result<Estimate, GatewayError> {
        let spec = self
            .catalog
            .get(&req.model)
            .ok_or_else(|| GatewayError::UnknownModel(req.model.clone()))?;
        let input_tokens = estimate_request_tokens(spec, req);
        let cost = Cost::estimate(
            spec,
            &Usage {
                input: input_tokens,
                ..Usage::default()
            },
        );
        Ok(Estimate { input_tokens, cost })
    }

    /// The bill for a finished answer; when the provider reported no usage the counts are
    /// estimated from the texts and the cost says so.
    pub fn cost(&self, req: &ChatRequest, answer: &Answer) -> Result<(Usage, Cost), GatewayError> {
        let spec = self
            .catalog
            .get(&req.model)
            .ok_or_else(|| GatewayError::UnknownModel(req.model.clone()))?;
        Ok(Self::bill(spec, req, answer))
    }

    /// [`Self::cost`] at `spec`'s prices (the spec the answer was streamed with).
    pub fn bill(spec: &ModelSpec, req: &ChatRequest, answer: &Answer) -> (Usage, Cost) {
        match answer.usage {
            Some(u) => (u, Cost::from_usage(spec, &u)),
            None => {
                let u = Usage {
                    input: estimate_request_tokens(spec, req),
                    output: spec.tokenizer.count(&answer.text) as u64,
                    ..Usage::default()
                };
                (u, Cost::estimate(spec, &u))
            }
        }
    }

    /// An embedder for a catalog embedding model (or any id on the compatible endpoint).
    pub fn embedder(
        &self,
        model: &str,
        dimensions: Option<u32>,
    ) -> Result<Box<dyn Embedder>, GatewayError> {
        let (provider, id) = match self.catalog.get(model) {
            Some(m) => (m.provider, m.id.clone()),
            None if self.compat.is_some() => (ProviderKind::OpenAiCompatible, model.to_owned()),
            None => return Err(GatewayError::UnknownModel(model.to_owned())),
        };
        if !self.is_available(provider) {
            return Err(GatewayError::MissingKey {
                provider: provider.to_string(),
            });
        }
        let t = self.transport.clone();
        let key = self.keys.get(provider).cloned();
        Ok(match provider {
            ProviderKind::OpenAi => Box::new(OpenAiEmbedder::new(
                t,
                self.config.openai_base_url.clone(),
                key,
                provider,
                &id,
                dimensions,
            )),
            ProviderKind::OpenAiCompatible => {
                let base = self
                    .config
                    .openai_compatible_base_url
                    .clone()
                    .ok_or_else(|| GatewayError::MissingKey {
                        provider: provider.to_string(),
                    })?;
                Box::new(OpenAiEmbedder::new(t, base, key, provider, &id, dimensions))
            }
            ProviderKind::Gemini => Box::new(GeminiEmbedder::new(
                t,
                self.config.gemini_base_url.clone(),
                key,
                &id,
                dimensions,
            )),
            ProviderKind::Anthropic => {
                return Err(GatewayError::InvalidRequest(
                    "Anthropic has no embedding API".into(),
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_gateway_can_be_shared_across_tasks() {
        assert_send_sync::<Gateway>();
        assert_send_sync::<std::sync::Arc<dyn LlmProvider>>();
        fn stream_is_send(_: &LlmStream) -> impl Send + '_ {}
        let _ = stream_is_send;
    }

    fn gateway(keys: &[&str], compat: bool) -> Gateway {
        let lookup = |n: &str| -> Option<String> {
            if n == crate::OPENAI_COMPAT_BASE_URL_VAR && compat {
                return Some("http://127.0.0.1:1/v1".into());
            }
            keys.contains(&n).then(|| "k".into())
        };
        Gateway::from_lookup(lookup).unwrap()
    }

    #[test]
    fn any_model_of_a_configured_provider_is_usable_and_unlisted_ones_have_no_price() {
        let gw = gateway(&["OPENAI_API_KEY", "ANTHROPIC_API_KEY"], false);
        let dated = gw.chat_model("claude-haiku-4-5-20251001").unwrap();
        assert!(dated.pricing.is_some(), "a dated id is priced as its entry");
        let new = gw.chat_model("gpt-6-turbo").unwrap();
        assert_eq!(new.provider, ProviderKind::OpenAi);
        assert!(new.pricing.is_none(), "unknown price, never free");
        let prefixed = gw.chat_model("openai/o9-mini").unwrap();
        assert_eq!(
            (prefixed.id.as_str(), prefixed.provider),
            ("o9-mini", ProviderKind::OpenAi)
        );
        assert!(matches!(
            gw.chat_model("gemini-9"),
            Err(GatewayError::MissingKey { .. })
        ));
        assert!(matches!(
            gw.chat_model("llama3"),
            Err(GatewayError::UnknownModel(_))
        ));
        assert!(matches!(
            gw.chat_model("text-embedding-3-small"),
            Err(GatewayError::UnknownModel(_))
        ));
        let with_compat = gateway(&[], true);
        let llama = with_compat.chat_model("ollama/llama3.1").unwrap();
        assert_eq!(
            (llama.id.as_str(), llama.provider),
            ("llama3.1", ProviderKind::OpenAiCompatible)
        );
        // Without a Gemini key, a gemma/gemini name goes to the compatible server.
        assert_eq!(
            with_compat.chat_model("gemini-local").unwrap().provider,
            ProviderKind::OpenAiCompatible
        );
        assert!(matches!(
            with_compat.chat_model("anthropic/claude-x"),
            Err(GatewayError::MissingKey { .. })
        ));
    }

    #[test]
    fn models_without_keys_are_listed_as_unavailable_not_errors() {
        let gw = Gateway::new(GatewayConfig::default(), ProviderKeys::default()).unwrap();
        let models = gw.models();
        assert!(!models.is_empty());
        assert!(
            models
                .iter()
                .all(|m| !m.available && m.unavailable_reason.is_some())
        );
        let json = serde_json::to_value(&models[0]).unwrap();
        assert!(
            json.get("id").is_some() && json.get("available").is_some(),
            "{json}"
        );
    }
}
