//! Conversations and messages as stored and returned.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    pub id: String,
    pub title: String,
    pub profile_id: Option<String>,
    pub model: String,
    /// The last message of the branch the user is on (new messages continue from it).
    pub head_id: Option<String>,
    pub message_count: u64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageCost {
    pub total_usd: f64,
    pub input_usd: f64,
    pub output_usd: f64,
    /// True when the provider reported no usage and the figures are estimates.
    pub estimated: bool,
    /// True when the model's price is unknown: the amounts are zero, but the answer was not
    /// free (an admin can set the price under Admin → Models).
    #[serde(default)]
    pub unpriced: bool,
}

/// Where one cited passage comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Citation {
    /// The `[n]` the answer uses.
    pub n: u32,
    pub document_id: String,
    pub document_name: String,
    pub version: u64,
    pub heading_path: Vec<String>,
    /// Character offsets in the document's extracted text.
    pub start: u64,
    pub end: u64,
}

impl Citation {
    /// The passage's headings as shown after the document's name: ` › A › B`, or nothing.
    pub fn heading_trail(&self) -> String {
        self.heading_path
            .iter()
            .map(|h| format!(" › {h}"))
            .collect()
    }
}

/// One document in the context of an answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContextDocument {
    pub document_id: String,
    pub name: String,
    pub version: u64,
    /// `instructions` or `dataset`.
    pub kind: String,
    /// `whole` or `retrieved`.
    pub mode: String,
    pub tokens: u64,
    /// Attached to the message (rather than drawn from the profile or all datasets).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attached: bool,
}

/// A document attached to a user message: sent whole when it fits, else its best chunks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    pub document_id: String,
    /// The document's name when it was attached.
    pub name: String,
}

/// What was sent to the model, by source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContextRecord {
    pub instructions_tokens: u64,
    pub datasets_tokens: u64,
    pub history_tokens: u64,
    pub prompt_tokens: u64,
    /// `whole`, `retrieved` or `none`.
    pub datasets_mode: String,
    pub documents: Vec<ContextDocument>,
    /// Earlier messages left out to fit the model's window.
    pub history_messages_dropped: u64,
    pub history_messages_sent: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub parent_id: Option<String>,
    pub role: MessageRole,
    pub content: String,
    pub created_at: String,
    /// Assistant messages: the model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Assistant messages: `stop`, `length`, `stopped` (by the user), `error`, `interrupted` (the server stopped mid-answer), …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<MessageCost>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
    /// User messages: tokens of the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// User messages: the documents attached to the question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl Message {
    /// A message with only its role and text (ids, time and the rest to fill in).
    pub fn plain(role: MessageRole, content: String) -> Self {
        Message {
            id: String::new(),
            conversation_id: String::new(),
            parent_id: None,
            role,
            content,
            created_at: String::new(),
            model: None,
            finish_reason: None,
            error: None,
            usage: None,
            cost: None,
            context: None,
            citations: Vec::new(),
            tokens: None,
            attachments: Vec::new(),
        }
    }
}
