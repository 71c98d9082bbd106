//! Conversations as message trees, context assembly from a profile's documents, the one answer
//! pipeline (streaming, stop, keep-alive, saving, billing) behind the web chat and the
//! OpenAI-compatible API, the one model rule, conversation search, usage totals and budgets.
//! Used by the conversations and chat functions.

pub mod answer;
pub mod chat;
pub mod context;
pub mod conversations;
pub mod error;
pub mod events;
pub mod fsck;
pub mod index;
pub mod inflight;
pub mod keys;
pub mod limits;
pub mod model;
pub mod models;
pub mod profiles;
pub mod registry;
pub mod search;
pub mod store;
pub mod usage;

pub use answer::{
    AnswerEvent, AnswerGuard, AnswerPipeline, Begin, Finished, KEEP_ALIVE, Once, Started,
};
pub use chat::{ChatService, Completion, Estimate, EstimateAsk, Turn};
pub use error::{ConversationError, ConversationResult};
pub use events::ChatEvent;
pub use index::ConversationIndex;
pub use inflight::{INTERRUPTED, interrupt_answers};
pub use limits::OperatorGuard;
pub use model::{
    Attachment, Citation, ContextDocument, ContextRecord, Conversation, Message, MessageCost,
    MessageRole, TokenUsage,
};
pub use models::{ModelChoice, RETRIEVAL_ONLY_MODEL};
pub use registry::{ListedModel, ModelRegistry};
pub use search::ConversationHit;
pub use store::{ConversationStore, ImportedMessage, NewImport, branch_to, export_markdown};
pub use usage::{Budgets, UsageLedger, UsageReport, UsageRow};
