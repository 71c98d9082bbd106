//! Token estimates (tiktoken, loaded once per process on first use) and cost in US dollars.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use tiktoken_rs::CoreBPE;

use crate::{ChatRequest, ModelSpec, Usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tokenizer {
    #[serde(rename = "o200k_base")]
    O200kBase,
    #[serde(rename = "cl100k_base")]
    Cl100kBase,
}

// The rank files are embedded in tiktoken-rs; building the encoder takes tens of
// milliseconds, so it happens once, on first use, not at cold start.
static O200K: LazyLock<Option<CoreBPE>> = LazyLock::new(|| tiktoken_rs::o200k_base().ok());
static CL100K: LazyLock<Option<CoreBPE>> = LazyLock::new(|| tiktoken_rs::cl100k_base().ok());

impl Tokenizer {
    fn bpe(self) -> Option<&'static CoreBPE> {
        match self {
            Tokenizer::O200kBase => O200K.as_ref(),
            Tokenizer::Cl100kBase => CL100K.as_ref(),
        }
    }

    /// Tokens of `text`; special-token strings count as ordinary text.
    pub fn count(self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        match self.bpe() {
            Some(bpe) => bpe.encode_ordinary(text).len(),
            // Unreachable with the embedded rank files; the usual 4-characters rule keeps the
            // estimate usable rather than panicking.
            None => text.chars().count().div_ceil(4),
        }
    }
}

/// Builds both encoders on a background thread, so the first estimate of a request does not
/// pay for it (a few hundred milliseconds of CPU). Call once at cold start; it returns at once.
pub fn preload_tokenizers() {
    let spawned = std::thread::Builder::new()
        .name("tiktoken-preload".into())
        .spawn(|| {
            LazyLock::force(&O200K);
            LazyLock::force(&CL100K);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot preload the tokenizers; they will load on first use");
    }
}

/// Estimated tokens of `text` for `model` (exact for OpenAI models, an approximation for
/// providers whose tokenizer is not public).
pub fn estimate_tokens(model: &ModelSpec, text: &str) -> usize {
    model.tokenizer.count(text)
}

/// Framing tokens each message costs on top of its text (role markers), as OpenAI documents.
const PER_MESSAGE: u64 = 4;
const PER_REQUEST: u64 = 3;

/// Estimated prompt tokens of a whole request (instructions, every message, framing).
pub fn estimate_request_tokens(model: &ModelSpec, req: &ChatRequest) -> u64 {
    let system = req
        .system
        .as_deref()
        .map(|s| model.tokenizer.count(s) as u64 + PER_MESSAGE);
    let messages: u64 = req
        .messages
        .iter()
        .map(|m| model.tokenizer.count(&m.content) as u64 + PER_MESSAGE)
        .sum();
    system.unwrap_or(0) + messages + PER_REQUEST
}

/// What a request costs, in US dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub input_usd: f64,
    pub output_usd: f64,
    pub cache_read_usd: f64,
    pub cache_write_usd: f64,
    pub total_usd: f64,
    /// Computed from estimated token counts, not from the provider's reported usage.
    pub estimated: bool,
    /// False when the model's price is unknown: the amounts are then zero, not "free".
    pub priced: bool,
}

impl Cost {
    /// The bill for the usage a provider reported.
    pub fn from_usage(model: &ModelSpec, usage: &Usage) -> Cost {
        let Some(p) = model.pricing else {
            return Cost {
                priced: false,
                ..Cost::default()
            };
        };
        let per = |tokens: u64, price: f64| tokens as f64 * price / 1_000_000.0;
        let input_usd = per(usage.input, p.input);
        let output_usd = per(usage.output, p.output);
        let cache_read_usd = per(usage.cache_read, p.cache_read.unwrap_or(p.input));
        let cache_write_usd = per(usage.cache_write, p.cache_write.unwrap_or(p.input));
        Cost {
            input_usd,
            output_usd,
            cache_read_usd,
            cache_write_usd,
            total_usd: input_usd + output_usd + cache_read_usd + cache_write_usd,
            estimated: false,
            priced: true,
        }
    }

    /// The same computation on estimated counts, flagged as an estimate.
    pub fn estimate(model: &ModelSpec, usage: &Usage) -> Cost {
        Cost {
            estimated: true,
            ..Cost::from_usage(model, usage)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, ChatMessage, ProviderKind};

    #[test]
    fn counts_match_the_published_tokenizers() {
        // Reference counts from OpenAI's tiktoken.
        assert_eq!(Tokenizer::Cl100kBase.count("hello world"), 2);
        assert_eq!(Tokenizer::O200kBase.count("hello world"), 2);
        assert_eq!(Tokenizer::Cl100kBase.count("tiktoken is great!"), 6);
        assert_eq!(Tokenizer::O200kBase.count(""), 0);
        // Special-token text is counted as text, never rejected.
        assert!(Tokenizer::O200kBase.count("<|endoftext|>") > 1);
    }

    #[test]
    fn preloading_is_harmless_and_counts_still_work() {
        preload_tokenizers();
        assert_eq!(Tokenizer::O200kBase.count("hello world"), 2);
    }

    #[test]
    fn request_estimate_adds_framing_per_message() {
        let c = Catalog::built_in();
        let m = c.get("gpt-4o").unwrap();
        let req = ChatRequest::new("gpt-4o", vec![ChatMessage::user("hello world")])
            .with_system("be brief");
        let system = m.tokenizer.count("be brief") as u64;
        assert_eq!(estimate_request_tokens(m, &req), system + 4 + 2 + 4 + 3);
    }

    #[test]
    fn cost_uses_cache_prices_and_flags_estimates() {
        let c = Catalog::built_in();
        let m = c.get("claude-sonnet-4-5").unwrap();
        let u = Usage {
            input: 1_000_000,
            output: 100_000,
            cache_read: 2_000_000,
            cache_write: 1_000_000,
        };
        let cost = Cost::from_usage(m, &u);
        assert!((cost.input_usd - 3.0).abs() < 1e-9);
        assert!((cost.output_usd - 1.5).abs() < 1e-9);
        assert!((cost.cache_read_usd - 0.6).abs() < 1e-9);
        assert!((cost.cache_write_usd - 3.75).abs() < 1e-9);
        assert!((cost.total_usd - 8.85).abs() < 1e-9);
        assert!(!cost.estimated && cost.priced);
        assert!(Cost::estimate(m, &u).estimated);
    }

    #[test]
    fn an_unpriced_model_is_reported_as_unpriced() {
        let m = ModelSpec::unknown("llama3", ProviderKind::OpenAiCompatible);
        let cost = Cost::from_usage(
            &m,
            &Usage {
                input: 10,
                output: 10,
                ..Default::default()
            },
        );
        assert!(!cost.priced);
        assert_eq!(cost.total_usd, 0.0);
    }
}
