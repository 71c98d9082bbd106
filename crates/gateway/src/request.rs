//! What the chat layer asks a provider for.

use serde::{Deserialize, Serialize};

/// Who said a message. Instructions are not a role: they go in [`ChatRequest::system`] and
/// each provider places them where its API wants them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// One chat turn to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The provider's model id (without any `gemini/` prefix).
    pub model: String,
    /// Instructions (custom instructions, grounding documents…); placed per provider.
    pub system: Option<String>,
    /// The conversation, oldest first; the last one is normally the user's new message.
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<f32>,
    pub max_output_tokens: Option<u32>,
    /// False for models that reject a system role: the instructions are then sent as a
    /// leading user turn.
    pub supports_system_role: bool,
    /// Ask the provider to cache the instructions between turns. Only Anthropic needs asking
    /// (a `cache_control` breakpoint: writes cost 1.25× input, reads 0.1×, for 5 minutes);
    /// OpenAI and Gemini cache long prompts automatically.
    pub cache_system: bool,
}

impl ChatRequest {
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> Self {
        ChatRequest {
            model: model.into(),
            system: None,
            messages,
            temperature: None,
            max_output_tokens: None,
            supports_system_role: true,
            cache_system: false,
        }
    }

    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// See [`ChatRequest::cache_system`]: worth it when the same instructions are sent again
    /// within minutes (a conversation's next turn).
    pub fn with_cached_system(mut self) -> Self {
        self.cache_system = true;
        self
    }

    pub fn with_temperature(mut self, t: f32) -> Self {
        self.temperature = Some(t);
        self
    }

    pub fn with_max_output_tokens(mut self, n: u32) -> Self {
        self.max_output_tokens = Some(n);
        self
    }

    /// The instructions to put in the provider's system slot, if the model has one.
    pub(crate) fn system_slot(&self) -> Option<&str> {
        match &self.system {
            Some(s) if self.supports_system_role && !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// The messages to send: the conversation, preceded by the instructions as a user turn
    /// when the model has no system role.
    pub(crate) fn turns(&self) -> Vec<ChatMessage> {
        let mut out = Vec::with_capacity(self.messages.len() + 1);
        if let Some(s) = &self.system
            && !self.supports_system_role
            && !s.is_empty()
        {
            out.push(ChatMessage::user(s.clone()));
        }
        out.extend(self.messages.iter().cloned());
        out
    }

    pub(crate) fn validate(&self) -> Result<(), crate::GatewayError> {
        if self.model.trim().is_empty() {
            return Err(crate::GatewayError::InvalidRequest(
                "the model id is empty".into(),
            ));
        }
        if self.messages.is_empty() {
            return Err(crate::GatewayError::InvalidRequest(
                "there is no message to answer".into(),
            ));
        }
        Ok(())
    }
}
