//! Provider keys and gateway settings: from environment variables locally, from a Secrets
//! Manager JSON string on Lambda (the caller fetches the secret through its own port).

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::{GatewayError, ProviderKind};

/// A secret string that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// `None` for an empty or blank value: an unset key and an empty one mean the same.
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let v = value.into().trim().to_owned();
        (!v.is_empty()).then_some(ApiKey(v))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// The API key of each provider, if the operator gave one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderKeys {
    pub openai: Option<ApiKey>,
    pub anthropic: Option<ApiKey>,
    pub gemini: Option<ApiKey>,
    /// Optional: many OpenAI-compatible servers (Ollama, vLLM) need no key.
    pub openai_compatible: Option<ApiKey>,
}

/// The variable names, shared by the environment and the secret's JSON object.
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
pub const GEMINI_API_KEY: &str = "GEMINI_API_KEY";
pub const GOOGLE_API_KEY: &str = "GOOGLE_API_KEY";
pub const OPENAI_COMPAT_API_KEY: &str = "RAGENIE_OPENAI_COMPAT_API_KEY";

impl ProviderKeys {
    /// Reads `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY` (or `GOOGLE_API_KEY`) and
    /// `RAGENIE_OPENAI_COMPAT_API_KEY` from the environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Same as [`Self::from_env`] with any lookup (tests, other sources).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let key = |name: &str| get(name).and_then(ApiKey::new);
        ProviderKeys {
            openai: key(OPENAI_API_KEY),
            anthropic: key(ANTHROPIC_API_KEY),
            gemini: key(GEMINI_API_KEY).or_else(|| key(GOOGLE_API_KEY)),
            openai_compatible: key(OPENAI_COMPAT_API_KEY),
        }
    }

    /// Parses a JSON object such as a Secrets Manager secret string. Field names are the
    /// environment variable names above or the short provider names (`openai`, `anthropic`,
    /// `gemini`/`google`, `openai_compatible`); unknown fields are ignored.
    pub fn from_json(json: &str) -> Result<Self, GatewayError> {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| GatewayError::Config {
                name: "provider keys secret".into(),
                message: format!("not a JSON object of strings: {e}"),
            })?;
        let bad = std::cell::RefCell::new(None);
        let keys = Self::from_lookup(|name| {
            let short = match name {
                OPENAI_API_KEY => "openai",
                ANTHROPIC_API_KEY => "anthropic",
                GEMINI_API_KEY => "gemini",
                GOOGLE_API_KEY => "google",
                _ => "openai_compatible",
            };
            let v = map.get(name).or_else(|| map.get(short))?;
            match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                _ => {
                    *bad.borrow_mut() = Some(name.to_owned());
                    None
                }
            }
        });
        if let Some(name) = bad.into_inner() {
            return Err(GatewayError::Config {
                name,
                message: "must be a string".into(),
            });
        }
        Ok(keys)
    }

    pub fn get(&self, provider: ProviderKind) -> Option<&ApiKey> {
        match provider {
            ProviderKind::OpenAi => self.openai.as_ref(),
            ProviderKind::Anthropic => self.anthropic.as_ref(),
            ProviderKind::Gemini => self.gemini.as_ref(),
            ProviderKind::OpenAiCompatible => self.openai_compatible.as_ref(),
        }
    }
}

/// Environment variable names of the base URL overrides.
pub const OPENAI_BASE_URL_VAR: &str = "RAGENIE_OPENAI_BASE_URL";
pub const ANTHROPIC_BASE_URL_VAR: &str = "RAGENIE_ANTHROPIC_BASE_URL";
pub const GEMINI_BASE_URL_VAR: &str = "RAGENIE_GEMINI_BASE_URL";
pub const OPENAI_COMPAT_BASE_URL_VAR: &str = "RAGENIE_OPENAI_COMPAT_BASE_URL";
pub const OPENAI_COMPAT_MODELS_VAR: &str = "RAGENIE_OPENAI_COMPAT_MODELS";

/// Retries before the first byte of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// First backoff; doubles per retry, with jitter, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the error goes to the caller.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_backoff: Duration::from_millis(300),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Whole request, retries and streaming included.
    pub total: Duration,
    /// Longest silence between two chunks of a streamed answer.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // Reasoning models can think for minutes before their first text; Anthropic sends
        // pings meanwhile, OpenAI and Gemini may send nothing. Lambda stops at 15 minutes.
        Timeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(870),
            idle: Duration::from_secs(240),
        }
    }
}

/// Where each provider lives and how patient to be with it. The URL conventions are those of
/// the official SDKs, so one value serves both: OpenAI's includes `/v1`, Anthropic's and
/// Gemini's do not.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    pub openai_base_url: Url,
    pub anthropic_base_url: Url,
    pub gemini_base_url: Url,
    /// An OpenAI-compatible server (Ollama `http://127.0.0.1:11434/v1`, vLLM, OpenRouter…).
    pub openai_compatible_base_url: Option<Url>,
    /// Models served by the OpenAI-compatible endpoint, added to the catalog.
    pub openai_compatible_models: Vec<String>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            openai_base_url: Url::parse("https://api.openai.com/v1").expect("constant URL"),
            anthropic_base_url: Url::parse("https://api.anthropic.com").expect("constant URL"),
            gemini_base_url: Url::parse("https://generativelanguage.googleapis.com")
                .expect("constant URL"),
            openai_compatible_base_url: None,
            openai_compatible_models: Vec::new(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
        }
    }
}

impl GatewayConfig {
    /// Defaults overridden by `RAGENIE_OPENAI_BASE_URL`, `RAGENIE_ANTHROPIC_BASE_URL`,
    /// `RAGENIE_GEMINI_BASE_URL`, `RAGENIE_OPENAI_COMPAT_BASE_URL` and
    /// `RAGENIE_OPENAI_COMPAT_MODELS` (comma-separated). Errors name the variable.
    pub fn from_env() -> Result<Self, GatewayError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, GatewayError> {
        let mut c = GatewayConfig::default();
        let url = |name: &str| -> Result<Option<Url>, GatewayError> {
            match get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
            {
                None => Ok(None),
                Some(v) => parse_base_url(name, &v).map(Some),
            }
        };
        if let Some(u) = url(OPENAI_BASE_URL_VAR)? {
            c.openai_base_url = u;
        }
        if let Some(u) = url(ANTHROPIC_BASE_URL_VAR)? {
            c.anthropic_base_url = u;
        }
        if let Some(u) = url(GEMINI_BASE_URL_VAR)? {
            c.gemini_base_url = u;
        }
        c.openai_compatible_base_url = url(OPENAI_COMPAT_BASE_URL_VAR)?;
        if let Some(models) = get(OPENAI_COMPAT_MODELS_VAR) {
            c.openai_compatible_models = models
                .split(',')
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect();
        }
        Ok(c)
    }
}

/// Parses a base URL, naming `name` in the error; only http and https are accepted.
pub fn parse_base_url(name: &str, value: &str) -> Result<Url, GatewayError> {
    let url = Url::parse(value).map_err(|e| GatewayError::Config {
        name: name.to_owned(),
        message: format!("{value:?} is not a URL: {e}"),
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(GatewayError::Config {
            name: name.to_owned(),
            message: format!("{value:?} must start with http:// or https://"),
        });
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(GatewayError::Config {
            name: name.to_owned(),
            message: format!("{value:?} has no host"),
        });
    }
    Ok(url)
}

/// Joins a path to a base URL, keeping the base's own path (`…/v1` + `chat/completions`).
pub(crate) fn endpoint(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    u.set_path(&joined);
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn keys_come_from_variables_and_blank_means_unset() {
        let k = ProviderKeys::from_lookup(lookup(&[
            ("OPENAI_API_KEY", "sk-1"),
            ("ANTHROPIC_API_KEY", "  "),
            ("GOOGLE_API_KEY", "g-1"),
        ]));
        assert_eq!(k.openai.as_ref().map(ApiKey::expose), Some("sk-1"));
        assert!(k.anthropic.is_none());
        assert_eq!(k.gemini.as_ref().map(ApiKey::expose), Some("g-1"));
        assert!(
            !format!("{k:?}").contains("sk-1"),
            "keys never appear in Debug output"
        );
    }

    #[test]
    fn gemini_key_wins_over_google_key() {
        let k =
            ProviderKeys::from_lookup(lookup(&[("GEMINI_API_KEY", "a"), ("GOOGLE_API_KEY", "b")]));
        assert_eq!(k.gemini.unwrap().expose(), "a");
    }

    #[test]
    fn keys_parse_from_a_secret_json_string() {
        let k = ProviderKeys::from_json(
            r#"{"OPENAI_API_KEY":"sk","anthropic":"ak","google":"gk","other":1}"#,
        )
        .unwrap();
        assert_eq!(k.openai.unwrap().expose(), "sk");
        assert_eq!(k.anthropic.unwrap().expose(), "ak");
        assert_eq!(k.gemini.unwrap().expose(), "gk");
        assert!(ProviderKeys::from_json("[1]").is_err());
        let err = ProviderKeys::from_json(r#"{"OPENAI_API_KEY": 5}"#).unwrap_err();
        assert!(err.to_string().contains("OPENAI_API_KEY"), "{err}");
    }

    #[test]
    fn base_urls_are_overridden_and_errors_name_the_variable() {
        let c = GatewayConfig::from_lookup(lookup(&[
            ("RAGENIE_OPENAI_BASE_URL", "http://127.0.0.1:9/openai/v1"),
            ("RAGENIE_OPENAI_COMPAT_MODELS", "llama3, qwen ,,"),
        ]))
        .unwrap();
        assert_eq!(c.openai_base_url.as_str(), "http://127.0.0.1:9/openai/v1");
        assert_eq!(c.anthropic_base_url.as_str(), "https://api.anthropic.com/");
        assert_eq!(c.openai_compatible_models, vec!["llama3", "qwen"]);
        let err = GatewayConfig::from_lookup(lookup(&[("RAGENIE_GEMINI_BASE_URL", "not a url")]))
            .unwrap_err();
        assert!(err.to_string().contains("RAGENIE_GEMINI_BASE_URL"), "{err}");
        let err = GatewayConfig::from_lookup(lookup(&[("RAGENIE_ANTHROPIC_BASE_URL", "ftp://x")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("RAGENIE_ANTHROPIC_BASE_URL"),
            "{err}"
        );
    }

    #[test]
    fn endpoints_keep_the_base_path() {
        let b = Url::parse("http://h:1/openai/v1/").unwrap();
        assert_eq!(
            endpoint(&b, "chat/completions").as_str(),
            "http://h:1/openai/v1/chat/completions"
        );
        let b = Url::parse("https://api.anthropic.com").unwrap();
        assert_eq!(
            endpoint(&b, "/v1/messages").as_str(),
            "https://api.anthropic.com/v1/messages"
        );
    }
}
