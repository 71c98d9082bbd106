//! Conversations as message trees, context assembly from a profile's documents, grounded
//! streaming answers with citations, usage totals and budgets. Used by the conversations and
//! chat functions.

pub mod chat;
pub mod context;
pub mod keys;
pub mod model;
pub mod store;
pub mod usage;

pub use chat::{ChatEvent, ChatService, Estimate, RETRIEVAL_ONLY_MODEL, Turn};
pub use model::{
    Citation, ContextDocument, ContextRecord, Conversation, Message, MessageCost, MessageRole,
    TokenUsage,
};
pub use store::{ConversationStore, ImportedMessage, NewImport, branch_to, export_markdown};
pub use usage::{Budgets, UsageLedger, UsageReport, UsageRow};
