//! The web chat's events (`meta`, `delta`, `error`, `usage`, `done` as Server-Sent Events): a
//! translation of the answer pipeline's events.

use serde::Serialize;
use utoipa::ToSchema;

use crate::answer::AnswerEvent;
use crate::model::{ContextRecord, Conversation, Message, MessageCost, TokenUsage};

/// What a streamed answer sends, in order: one `Meta`, `Delta`s, one `Usage`, one `Done`
/// (an `Error` may come before `Usage` when the provider fails).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChatEvent {
    Meta {
        conversation_id: String,
        user_message_id: String,
        assistant_message_id: String,
        parent_id: String,
        model: String,
        context: ContextRecord,
    },
    Delta {
        text: String,
    },
    Error {
        message: String,
    },
    Usage {
        usage: TokenUsage,
        cost: MessageCost,
    },
    Done {
        finish_reason: String,
        message: Box<Message>,
        conversation: Box<Conversation>,
    },
}

impl ChatEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ChatEvent::Meta { .. } => "meta",
            ChatEvent::Delta { .. } => "delta",
            ChatEvent::Error { .. } => "error",
            ChatEvent::Usage { .. } => "usage",
            ChatEvent::Done { .. } => "done",
        }
    }

    /// The web events of one pipeline event (none for a keep-alive, which the transport
    /// turns into a comment; `Done` only when the answer was saved).
    pub fn from_answer(event: AnswerEvent) -> Vec<ChatEvent> {
        match event {
            AnswerEvent::Started(s) => {
                let question = s.question_id.unwrap_or_default();
                vec![ChatEvent::Meta {
                    conversation_id: s.conversation_id.unwrap_or_default(),
                    user_message_id: question.clone(),
                    assistant_message_id: s.answer_id,
                    parent_id: question,
                    model: s.model,
                    context: s.context,
                }]
            }
            AnswerEvent::Delta(text) => vec![ChatEvent::Delta { text }],
            AnswerEvent::KeepAlive => Vec::new(),
            AnswerEvent::Error(message) => vec![ChatEvent::Error { message }],
            AnswerEvent::Finished(f) => {
                let mut out = vec![ChatEvent::Usage {
                    usage: f.usage,
                    cost: f.cost,
                }];
                if let Some((message, conversation)) = f.saved {
                    out.push(ChatEvent::Done {
                        finish_reason: f.finish_reason,
                        message,
                        conversation,
                    });
                }
                out
            }
        }
    }
}
