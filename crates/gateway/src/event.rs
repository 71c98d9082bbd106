//! The one event type every provider's stream is translated into, and collecting a whole answer.

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::pin::Pin;

use crate::GatewayError;

/// A provider's answer as it arrives.
///
/// A stream returned by [`crate::LlmProvider::stream`] yields `Start` first, then any number of
/// `TextDelta`s, at most one `Usage` (just before the end), and ends with exactly one `Finish`
/// or `Error`, after which it yields nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    Start {
        model: String,
        request_id: Option<String>,
    },
    TextDelta(String),
    Usage(Usage),
    Finish {
        reason: FinishReason,
    },
    Error(GatewayError),
}

/// A boxed stream of events; dropping it closes the upstream connection.
pub type LlmStream = Pin<Box<dyn Stream<Item = LlmEvent> + Send>>;

/// Token usage as reported by the provider, normalised across providers.
///
/// `input` counts only prompt tokens billed at the normal input price: cache reads and cache
/// writes are separate (OpenAI and Gemini include cached tokens in their prompt count; the
/// gateway subtracts them). `output` includes reasoning/thinking tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Usage {
    /// Every prompt token, cached or not.
    pub fn total_input(&self) -> u64 {
        self.input + self.cache_read + self.cache_write
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// Natural end of the answer or a stop sequence.
    Stop,
    /// The output token limit was reached.
    Length,
    /// A safety filter or refusal stopped the answer.
    ContentFilter,
    /// The model wants to call a tool (not used by RaGenie yet).
    ToolUse,
    /// Anything else, with the provider's own word.
    Other(String),
}

impl FinishReason {
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::ToolUse => "tool_use",
            FinishReason::Other(s) => s,
        }
    }
}

/// A whole answer: what a stream produced, including a partial answer when it failed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub model: String,
    pub request_id: Option<String>,
    pub text: String,
    pub usage: Option<Usage>,
    pub finish: Option<FinishReason>,
    pub error: Option<GatewayError>,
}

impl Answer {
    /// Folds one event into the answer.
    pub fn apply(&mut self, event: LlmEvent) {
        match event {
            LlmEvent::Start { model, request_id } => {
                self.model = model;
                self.request_id = request_id;
            }
            LlmEvent::TextDelta(t) => self.text.push_str(&t),
            LlmEvent::Usage(u) => self.usage = Some(u),
            LlmEvent::Finish { reason } => self.finish = Some(reason),
            LlmEvent::Error(e) => self.error = Some(e),
        }
    }

    /// The answer if it finished, the error otherwise (the partial text is then dropped;
    /// use the fields directly to keep it).
    pub fn into_result(self) -> Result<Answer, GatewayError> {
        match self.error {
            Some(e) => Err(e),
            None if self.finish.is_none() => Err(GatewayError::Protocol(
                "the stream ended without a finish event".into(),
            )),
            None => Ok(self),
        }
    }
}

/// Drains a stream into an [`Answer`] (partial text and the error kept when it fails).
pub async fn collect(mut stream: LlmStream) -> Answer {
    let mut answer = Answer::default();
    while let Some(event) = stream.next().await {
        answer.apply(event);
    }
    answer
}
