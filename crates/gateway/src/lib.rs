//! RaGenie's LLM gateway, used in-process by the chat function: OpenAI, Anthropic, Gemini
//! and OpenAI-compatible providers behind one streaming trait; the model catalog; token
//! estimates and cost; embeddings; provider keys and base URLs from the environment or a
//! secret.

mod catalog;
mod config;
pub mod embed;
mod error;
mod event;
mod gateway;
mod observe;
pub mod providers;
mod request;
pub mod sse;
mod tokens;
mod transport;

pub use catalog::{
    Catalog, EnginesReport, ModelAvailability, ModelKind, ModelSpec, Pricing, ProviderKind,
    TemperatureRange, provider_by_family, split_provider,
};
pub use config::{
    ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL_VAR, ApiKey, GEMINI_API_KEY, GEMINI_BASE_URL_VAR,
    GOOGLE_API_KEY, GatewayConfig, OPENAI_API_KEY, OPENAI_BASE_URL_VAR, OPENAI_COMPAT_API_KEY,
    OPENAI_COMPAT_BASE_URL_VAR, OPENAI_COMPAT_MODELS_VAR, ProviderKeys, RetryPolicy, Timeouts,
    parse_base_url,
};
pub use embed::{Embedder, Embeddings};
pub use error::GatewayError;
pub use event::{Answer, FinishReason, LlmEvent, LlmStream, Usage, collect};
pub use gateway::{Estimate, Gateway};
pub use providers::LlmProvider;
pub use request::{ChatMessage, ChatRequest, Role};
pub use tokens::{Cost, Tokenizer, estimate_request_tokens, estimate_tokens, preload_tokenizers};
