//! The model catalog: data (`models.json`, embedded at build time), optionally overridden by
//! Ragbot's `engines.yaml`, with each model's availability given the configured keys.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{GatewayError, ProviderKeys, Tokenizer};

const BUILT_IN: &str = include_str!("models.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProviderKind {
    #[serde(rename = "openai")]
    OpenAi,
    #[serde(rename = "anthropic")]
    Anthropic,
    #[serde(rename = "gemini", alias = "google")]
    Gemini,
    #[serde(rename = "openai_compatible")]
    OpenAiCompatible,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::OpenAiCompatible,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::OpenAiCompatible => "openai_compatible",
        }
    }

    /// Accepts the catalog's names and Ragbot's engine names (`google`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "openai" => Some(ProviderKind::OpenAi),
            "anthropic" => Some(ProviderKind::Anthropic),
            "gemini" | "google" => Some(ProviderKind::Gemini),
            "openai_compatible" | "openai-compatible" | "ollama" | "vllm" | "openrouter" => {
                Some(ProviderKind::OpenAiCompatible)
            }
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    #[default]
    Chat,
    Embedding,
}

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    pub input: f64,
    pub output: f64,
    /// Price of a prompt token read from the provider's cache (default: the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    /// Price of a prompt token written to the cache (default: the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemperatureRange {
    pub default: f32,
    pub min: f32,
    pub max: f32,
}

impl TemperatureRange {
    /// A model whose temperature cannot be changed (reasoning models): send none.
    pub fn is_fixed(&self) -> bool {
        self.min >= self.max
    }
    pub fn clamp(&self, t: f32) -> f32 {
        if t.is_nan() {
            self.default
        } else {
            t.clamp(self.min, self.max)
        }
    }
}

impl Default for TemperatureRange {
    fn default() -> Self {
        TemperatureRange {
            default: 1.0,
            min: 0.0,
            max: 2.0,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub id: String,
    pub provider: ProviderKind,
    #[serde(default)]
    pub kind: ModelKind,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default)]
    pub flagship: bool,
    /// Input + output tokens the model accepts.
    pub context_window: u32,
    pub max_output_tokens: u32,
    /// Output limit sent when the caller gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_tokens: Option<u32>,
    /// Embedding models only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// `None` when the price is unknown (models added from engines.yaml or a compatible
    /// server): their cost is reported as unpriced, never as free.
    pub pricing: Option<Pricing>,
    pub tokenizer: Tokenizer,
    #[serde(default)]
    pub temperature: TemperatureRange,
    #[serde(default = "yes")]
    pub supports_system_role: bool,
}

impl ModelSpec {
    /// An entry for a model the catalog does not know (e.g. served by an OpenAI-compatible
    /// server): no price, generous but finite limits.
    pub fn unknown(id: &str, provider: ProviderKind) -> Self {
        ModelSpec {
            id: id.to_owned(),
            provider,
            kind: ModelKind::Chat,
            display_name: id.to_owned(),
            category: None,
            flagship: false,
            context_window: 128_000,
            max_output_tokens: 8192,
            default_max_tokens: None,
            dimensions: None,
            pricing: None,
            tokenizer: Tokenizer::O200kBase,
            temperature: TemperatureRange::default(),
            supports_system_role: true,
        }
    }
}

/// A catalog entry with whether it can be used now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelAvailability {
    #[serde(flatten)]
    pub model: ModelSpec,
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CatalogFile {
    #[serde(default)]
    default_models: BTreeMap<ProviderKind, String>,
    models: Vec<ModelSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    models: Vec<ModelSpec>,
    default_models: BTreeMap<ProviderKind, String>,
    default_provider: Option<ProviderKind>,
    temperature_presets: BTreeMap<String, f32>,
}

impl Catalog {
    /// The catalog shipped with this build.
    pub fn built_in() -> Self {
        // The embedded file is checked by a unit test; failing here would be a build defect.
        Self::from_json(BUILT_IN).unwrap_or_else(|e| panic!("embedded models.json is invalid: {e}"))
    }

    pub fn from_json(json: &str) -> Result<Self, GatewayError> {
        let file: CatalogFile = serde_json::from_str(json).map_err(|e| GatewayError::Config {
            name: "model catalog".into(),
            message: e.to_string(),
        })?;
        let mut seen = std::collections::HashSet::new();
        for m in &file.models {
            if !seen.insert(m.id.as_str()) {
                return Err(GatewayError::Config {
                    name: "model catalog".into(),
                    message: format!("model {} is listed twice", m.id),
                });
            }
        }
        Ok(Catalog {
            models: file.models,
            default_models: file.default_models,
            default_provider: None,
            temperature_presets: [("precise", 0.25), ("balanced", 0.5), ("creative", 0.75)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        })
    }

    pub fn models(&self) -> &[ModelSpec] {
        &self.models
    }

    /// Chat models only.
    pub fn chat_models(&self) -> impl Iterator<Item = &ModelSpec> {
        self.models.iter().filter(|m| m.kind == ModelKind::Chat)
    }

    /// Looks a model up by id; tolerates Ragbot's `gemini/` and Google's `models/` prefixes.
    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        let id = normalize_id(id);
        self.models.iter().find(|m| m.id == id)
    }

    /// The entry for a model id as people write it today, beside the catalog's own ids:
    /// LiteLLM's `provider/model` (Ragbot's engines.yaml: `anthropic/claude-sonnet-4-5`,
    /// `openai/gpt-4.1`) and dated snapshots (`claude-sonnet-4-5-20250929`,
    /// `gpt-4.1-2025-04-14`, `claude-sonnet-4-20250514` → `claude-sonnet-4-0`). A dated id keeps
    /// its own id (it is what the provider is asked for) with the entry's limits and prices.
    /// `None` when the catalog has no entry (see [`split_provider`] for the provider it names).
    pub fn resolve(&self, id: &str) -> Option<ModelSpec> {
        let (entry, wire) = self.lookup(id)?;
        Some(ModelSpec {
            id: wire.to_owned(),
            ..entry.clone()
        })
    }

    /// The catalog entry an id resolves to (see [`Self::resolve`]) and the id the provider is
    /// asked for (the entry's own, or the dated snapshot named).
    pub fn lookup<'a>(&'a self, id: &'a str) -> Option<(&'a ModelSpec, &'a str)> {
        let (provider, bare) = split_provider(id);
        let matches = |m: &&ModelSpec| provider.is_none_or(|p| p == m.provider);
        if let Some(m) = self.get(bare).filter(matches) {
            return Some((m, m.id.as_str()));
        }
        let base = strip_date(bare)?;
        let entry = self
            .get(base)
            .or_else(|| self.get(&format!("{base}-0")))
            .filter(matches)?;
        Some((entry, bare))
    }

    /// Adds a model or replaces the entry with the same id.
    pub fn upsert(&mut self, spec: ModelSpec) {
        match self.models.iter_mut().find(|m| m.id == spec.id) {
            Some(m) => *m = spec,
            None => self.models.push(spec),
        }
    }

    pub fn default_model(&self, provider: ProviderKind) -> Option<&ModelSpec> {
        self.default_models
            .get(&provider)
            .and_then(|id| self.get(id))
            .or_else(|| self.chat_models().find(|m| m.provider == provider))
    }

    /// The provider named by `default:` in engines.yaml, if one was loaded.
    pub fn default_provider(&self) -> Option<ProviderKind> {
        self.default_provider
    }

    /// Named temperatures (Ragbot's `temperature_settings`): precise, balanced, creative.
    pub fn temperature_presets(&self) -> &BTreeMap<String, f32> {
        &self.temperature_presets
    }

    /// Every model with whether its provider has a key. OpenAI-compatible models need no key
    /// (they are only in the catalog when a compatible base URL is configured).
    pub fn with_availability(&self, keys: &ProviderKeys) -> Vec<ModelAvailability> {
        self.models
            .iter()
            .map(|m| {
                let available =
                    m.provider == ProviderKind::OpenAiCompatible || keys.get(m.provider).is_some();
                ModelAvailability {
                    model: m.clone(),
                    available,
                    unavailable_reason: (!available)
                        .then(|| format!("no API key configured for {}", m.provider)),
                }
            })
            .collect()
    }

    /// Applies Ragbot's `engines.yaml`: limits, temperatures, system-role support, categories
    /// and default models override the built-in entries; models the catalog lacks are added
    /// without a price. Engines with an unknown name are skipped and reported.
    pub fn apply_engines_yaml(&mut self, yaml: &str) -> Result<EnginesReport, GatewayError> {
        let file: EnginesFile = serde_yaml::from_str(yaml).map_err(|e| GatewayError::Config {
            name: "engines.yaml".into(),
            message: e.to_string(),
        })?;
        let mut report = EnginesReport::default();
        if let Some(d) = file.default.as_deref() {
            self.default_provider = ProviderKind::parse(d);
        }
        for (k, v) in file.temperature_settings {
            self.temperature_presets.insert(k, v);
        }
        for engine in file.engines {
            let Some(provider) = ProviderKind::parse(&engine.name) else {
                report.skipped_engines.push(engine.name);
                continue;
            };
            for em in engine.models {
                let id = normalize_id(&em.name).to_owned();
                if id.is_empty() {
                    continue;
                }
                let mut spec = match self.get(&id) {
                    Some(m) => {
                        report.updated.push(id.clone());
                        m.clone()
                    }
                    None => {
                        report.added.push(id.clone());
                        ModelSpec::unknown(&id, provider)
                    }
                };
                if let Some(n) = em.max_input_tokens {
                    spec.context_window = n;
                }
                if let Some(n) = em.max_output_tokens {
                    spec.max_output_tokens = n;
                }
                if let Some(n) = em.default_max_tokens {
                    spec.default_max_tokens = Some(n);
                }
                if let Some(t) = em.max_temperature {
                    spec.temperature.max = t;
                    spec.temperature.min = spec.temperature.min.min(t);
                }
                if let Some(t) = em.temperature {
                    spec.temperature.default = t;
                }
                if let Some(b) = em.supports_system_role {
                    spec.supports_system_role = b;
                }
                if let Some(c) = em.category {
                    spec.category = Some(c);
                }
                if let Some(f) = em.is_flagship {
                    spec.flagship = f;
                }
                if let Some(name) = em.display_name {
                    spec.display_name = name;
                }
                self.upsert(spec);
            }
            if let Some(d) = engine.default_model {
                self.default_models
                    .insert(provider, normalize_id(&d).to_owned());
            }
        }
        Ok(report)
    }
}

/// What applying engines.yaml changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnginesReport {
    pub updated: Vec<String>,
    pub added: Vec<String>,
    pub skipped_engines: Vec<String>,
}

/// Splits LiteLLM's `provider/model` into the provider and the provider's own id; an id
/// without a known provider prefix is returned whole (an OpenAI-compatible server's ids may
/// contain slashes: `meta-llama/Llama-3-8B`).
pub fn split_provider(id: &str) -> (Option<ProviderKind>, &str) {
    let id = id.trim();
    if let Some((prefix, rest)) = id.split_once('/')
        && !rest.is_empty()
    {
        let provider = match prefix.to_ascii_lowercase().as_str() {
            "ollama_chat" | "hosted_vllm" | "openai_like" => Some(ProviderKind::OpenAiCompatible),
            // Google's own `models/` prefix is not a provider.
            "models" => None,
            p => ProviderKind::parse(p),
        };
        if let Some(p) = provider {
            return (Some(p), rest.trim());
        }
    }
    (None, id)
}

/// The provider a model id belongs to by its family name (`gpt-…`, `o3…`, `claude-…`,
/// `gemini-…`), for ids the catalog does not list yet.
pub fn provider_by_family(id: &str) -> Option<ProviderKind> {
    let id = id.trim().to_ascii_lowercase();
    let id = id.strip_prefix("models/").unwrap_or(&id);
    let reasoning = ["o1", "o3", "o4"]
        .iter()
        .any(|p| id == *p || id.starts_with(&format!("{p}-")));
    if id.starts_with("gpt-") || id.starts_with("chatgpt-") || id.starts_with("ft:gpt") || reasoning
    {
        Some(ProviderKind::OpenAi)
    } else if id.starts_with("claude-") {
        Some(ProviderKind::Anthropic)
    } else if id.starts_with("gemini-") {
        Some(ProviderKind::Gemini)
    } else {
        None
    }
}

/// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`; `gpt-4.1-2025-04-14` → `gpt-4.1`.
fn strip_date(id: &str) -> Option<&str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((base, date)) = id.rsplit_once('-')
        && date.len() == 8
        && digits(date)
        && date.starts_with("20")
    {
        return Some(base);
    }
    // OpenAI's `-YYYY-MM-DD`. A model name is whatever a client sent: 11 bytes from the end may
    // fall inside a character, and then it has no such date.
    if let Some((base, date)) = id
        .len()
        .checked_sub(11)
        .filter(|&at| at > 0)
        .and_then(|at| id.split_at_checked(at))
    {
        let parts: Vec<&str> = date.split('-').collect();
        if parts.len() == 4
            && parts[0].is_empty()
            && parts[1].len() == 4
            && parts[2].len() == 2
            && parts[3].len() == 2
            && parts[1..].iter().all(|p| digits(p))
        {
            return Some(base);
        }
    }
    None
}

fn normalize_id(id: &str) -> &str {
    let id = id.trim();
    let id = id.strip_prefix("gemini/").unwrap_or(id);
    id.strip_prefix("models/").unwrap_or(id)
}

#[derive(Debug, Deserialize)]
struct EnginesFile {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    temperature_settings: BTreeMap<String, f32>,
    #[serde(default)]
    engines: Vec<Engine>,
}

#[derive(Debug, Deserialize)]
struct Engine {
    name: String,
    #[serde(default)]
    default_model: Option<String>,
    #[serde(default)]
    models: Vec<EngineModel>,
}

#[derive(Debug, Deserialize)]
struct EngineModel {
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    is_flagship: Option<bool>,
    #[serde(default)]
    supports_system_role: Option<bool>,
    #[serde(default)]
    max_temperature: Option<f32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    max_input_tokens: Option<u32>,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    default_max_tokens: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiKey;

    #[test]
    fn the_built_in_catalog_is_valid_and_covers_each_provider() {
        let c = Catalog::built_in();
        for p in [
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
        ] {
            let d = c.default_model(p).expect("a default model per provider");
            assert_eq!(d.provider, p);
            assert!(c.chat_models().filter(|m| m.provider == p).count() >= 3);
        }
        for m in c.models() {
            assert!(m.context_window > 0, "{}", m.id);
            let p = m.pricing.expect("built-in models are priced");
            assert!(p.input > 0.0, "{}", m.id);
            if m.kind == ModelKind::Chat {
                assert!(m.max_output_tokens > 0 && p.output > 0.0, "{}", m.id);
                assert!(m.temperature.min <= m.temperature.default, "{}", m.id);
                assert!(m.temperature.default <= m.temperature.max, "{}", m.id);
            }
        }
    }

    #[test]
    fn a_provider_without_a_key_is_unavailable() {
        let c = Catalog::built_in();
        let keys = ProviderKeys {
            anthropic: ApiKey::new("k"),
            ..Default::default()
        };
        let list = c.with_availability(&keys);
        assert_eq!(list.len(), c.models().len());
        for m in &list {
            assert_eq!(
                m.available,
                m.model.provider == ProviderKind::Anthropic,
                "{}",
                m.model.id
            );
            assert_eq!(m.unavailable_reason.is_some(), !m.available);
        }
        assert!(
            Catalog::built_in()
                .with_availability(&ProviderKeys::default())
                .iter()
                .all(|m| !m.available)
        );
    }

    #[test]
    fn lookups_tolerate_ragbot_prefixes() {
        let c = Catalog::built_in();
        assert_eq!(
            c.get("gemini/gemini-2.5-flash").unwrap().id,
            "gemini-2.5-flash"
        );
        assert_eq!(c.get("models/gemini-2.5-pro").unwrap().id, "gemini-2.5-pro");
        assert!(c.get("no-such-model").is_none());
    }

    const ENGINES: &str = r#"
default: anthropic
temperature_settings: {precise: 0.2, balanced: 0.5, creative: 0.9}
engines:
  - name: openai
    api_key_name: OPENAI_API_KEY
    default_model: gpt-4.1
    models:
      - name: gpt-4.1
        category: large
        max_input_tokens: 900000
        max_output_tokens: 30000
        temperature: 0.75
        max_temperature: 2
      - name: o1-mini
        category: reasoning
        supports_system_role: false
  - name: google
    default_model: gemini/gemini-2.5-pro
    models:
      - name: gemini/gemini-2.5-pro
        is_flagship: true
        default_max_tokens: 4096
  - name: mistral
    models: [{name: x}]
"#;

    #[test]
    fn engines_yaml_overrides_and_adds_models() {
        let mut c = Catalog::built_in();
        let r = c.apply_engines_yaml(ENGINES).unwrap();
        assert_eq!(r.updated, vec!["gpt-4.1", "gemini-2.5-pro"]);
        assert_eq!(r.added, vec!["o1-mini"]);
        assert_eq!(r.skipped_engines, vec!["mistral"]);
        let g = c.get("gpt-4.1").unwrap();
        assert_eq!((g.context_window, g.max_output_tokens), (900_000, 30_000));
        assert_eq!(g.temperature.default, 0.75);
        assert!(g.pricing.is_some(), "overrides keep the built-in price");
        let o = c.get("o1-mini").unwrap();
        assert!(!o.supports_system_role);
        assert!(
            o.pricing.is_none(),
            "a model added from engines.yaml has no known price"
        );
        assert_eq!(o.provider, ProviderKind::OpenAi);
        assert!(c.get("gemini-2.5-pro").unwrap().flagship);
        assert_eq!(c.default_model(ProviderKind::OpenAi).unwrap().id, "gpt-4.1");
        assert_eq!(
            c.default_model(ProviderKind::Gemini).unwrap().id,
            "gemini-2.5-pro"
        );
        assert_eq!(c.default_provider(), Some(ProviderKind::Anthropic));
        assert_eq!(c.temperature_presets()["creative"], 0.9);
    }

    #[test]
    fn dated_and_litellm_ids_resolve_to_the_catalog_entry_and_its_prices() {
        let c = Catalog::built_in();
        let sonnet = c.get("claude-sonnet-4-5").unwrap().clone();
        let dated = c.resolve("claude-sonnet-4-5-20250929").unwrap();
        assert_eq!(
            dated.id, "claude-sonnet-4-5-20250929",
            "the provider gets the dated id"
        );
        assert_eq!(dated.pricing, sonnet.pricing);
        assert_eq!(dated.context_window, sonnet.context_window);
        // Anthropic's first snapshot of a family is the `-0` alias.
        assert_eq!(
            c.resolve("claude-sonnet-4-20250514").unwrap().pricing,
            c.get("claude-sonnet-4-0").unwrap().pricing
        );
        let gpt = c.resolve("gpt-4.1-2025-04-14").unwrap();
        assert_eq!(gpt.pricing, c.get("gpt-4.1").unwrap().pricing);
        assert_eq!(gpt.id, "gpt-4.1-2025-04-14");
        let litellm = c.resolve("anthropic/claude-sonnet-4-5-20250929").unwrap();
        assert_eq!(litellm.id, "claude-sonnet-4-5-20250929");
        assert_eq!(litellm.provider, ProviderKind::Anthropic);
        assert_eq!(c.resolve("openai/gpt-4o").unwrap().id, "gpt-4o");
        assert_eq!(
            c.resolve("gemini/gemini-2.5-pro").unwrap().id,
            "gemini-2.5-pro"
        );
        // A provider prefix that contradicts the catalog is not silently re-routed.
        assert!(c.resolve("anthropic/gpt-4o").is_none());
        assert!(c.resolve("gpt-4.1-20251").is_none());
        assert!(c.resolve("claude-unknown-20250101").is_none());
    }

    #[test]
    fn a_model_name_with_characters_of_several_bytes_resolves_to_nothing_instead_of_panicking() {
        // Found by schemathesis: 11 bytes from the end of this name is inside a character.
        let c = Catalog::built_in();
        for id in [
            "\u{80}\u{80}\u{10000}\u{10000}",
            "gpt-4.1-2025-04-1\u{e9}",
            "\u{e9}-2025-04-14",
            "\u{10000}\u{10000}\u{10000}",
        ] {
            assert!(c.resolve(id).is_none(), "{id:?}");
        }
        assert_eq!(strip_date("gpt-4.1-2025-04-14"), Some("gpt-4.1"));
        assert_eq!(strip_date("\u{e9}x-2025-04-14"), Some("\u{e9}x"));
    }

    #[test]
    fn provider_prefixes_and_families_name_the_provider_of_unlisted_models() {
        assert_eq!(
            split_provider("ollama/llama3.1"),
            (Some(ProviderKind::OpenAiCompatible), "llama3.1")
        );
        assert_eq!(
            split_provider("hosted_vllm/Qwen/Qwen2.5-7B"),
            (Some(ProviderKind::OpenAiCompatible), "Qwen/Qwen2.5-7B")
        );
        assert_eq!(
            split_provider("meta-llama/Llama-3-8B"),
            (None, "meta-llama/Llama-3-8B")
        );
        assert_eq!(split_provider("openai/"), (None, "openai/"));
        assert_eq!(provider_by_family("gpt-6"), Some(ProviderKind::OpenAi));
        assert_eq!(provider_by_family("o3-pro"), Some(ProviderKind::OpenAi));
        assert_eq!(
            provider_by_family("claude-5"),
            Some(ProviderKind::Anthropic)
        );
        assert_eq!(
            provider_by_family("gemini-4-pro"),
            Some(ProviderKind::Gemini)
        );
        assert_eq!(provider_by_family("llama3"), None);
        assert_eq!(provider_by_family("o1x"), None);
    }

    #[test]
    fn malformed_engines_yaml_is_an_error_not_a_panic() {
        let mut c = Catalog::built_in();
        assert!(c.apply_engines_yaml("engines: 5").is_err());
        assert!(c.apply_engines_yaml("engines:\n  - models: []").is_err());
        assert!(c.apply_engines_yaml("{}").is_ok());
    }

    #[test]
    fn fixed_temperatures_are_recognised_and_clamped() {
        let c = Catalog::built_in();
        assert!(c.get("gpt-5").unwrap().temperature.is_fixed());
        let t = c.get("claude-haiku-4-5").unwrap().temperature;
        assert!(!t.is_fixed());
        assert_eq!(t.clamp(1.7), 1.0);
        assert_eq!(t.clamp(f32::NAN), t.default);
    }
}
