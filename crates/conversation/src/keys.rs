//! Every key of a conversation entity, built in one place from the owner's user id.

use ragenie_common::accounts::UserId;

/// The user's partition (the one builder: `UserId::partition`).
pub fn user_pk(user: UserId) -> String {
    user.partition()
}

pub fn conversation_sk(conv_id: &str) -> String {
    format!("CONV#{conv_id}")
}

pub const CONVERSATION_PREFIX: &str = "CONV#";

/// Secondary-index partition ordering a user's conversations by last activity.
pub fn recent_index_pk(user: UserId) -> String {
    format!("{}#RECENT", user.partition())
}

pub fn recent_index_sk(updated_at: &str, conv_id: &str) -> String {
    format!("{updated_at}#{conv_id}")
}

/// Messages sort by their ULID: creation order within the conversation.
pub fn message_sk(conv_id: &str, message_id: &str) -> String {
    format!("MSG#{conv_id}#{message_id}")
}

pub fn messages_prefix(conv_id: &str) -> String {
    format!("MSG#{conv_id}#")
}

pub const MESSAGE_PREFIX: &str = "MSG#";

/// An answer being written (removed when it is saved; see `inflight`).
pub fn answering_sk(conv_id: &str, answer_id: &str) -> String {
    format!("ANSWERING#{conv_id}#{answer_id}")
}

/// A stop request for the conversation's streaming answer (short-lived, TTL).
pub fn stop_sk(conv_id: &str) -> String {
    format!("STOP#{conv_id}")
}

/// The usage totals (monthly, per profile, daily per model): built in common, where embedding
/// calls are metered into the same totals.
pub use ragenie_common::accounts::keys::{
    USAGE_DAY_PREFIX, usage_day_sk, usage_month_sk, usage_profile_month_sk,
};

/// The record that an answer's usage was added to the totals (so it is added once).
pub fn billed_sk(answer_id: &str) -> String {
    format!("BILLED#{answer_id}")
}

/// The user's budgets (monthly, overall and per profile).
pub const BUDGET_SK: &str = "BUDGET";

/// Marks an import (by the client's key) so the same import twice creates nothing new.
pub fn import_sk(import_key: &str) -> String {
    format!("IMPORT#{import_key}")
}

/// The user's conversation-search state: a version bumped by every change to a conversation
/// or its messages, and the generation and blob of the merged index (see `index`).
pub const SEARCH_STATE_SK: &str = "CSEARCH";

/// A conversation changed since the merged index was written (see `index`).
pub fn search_pending_sk(conv_id: &str) -> String {
    format!("{SEARCH_PENDING_PREFIX}{conv_id}")
}

pub const SEARCH_PENDING_PREFIX: &str = "CSEARCH#Q#";

/// One generation of the user's merged conversation index (unique per write, so two
/// processes compacting at once never overwrite each other's blob).
pub fn search_index_blob(user: UserId, generation: i64) -> String {
    format!(
        "{}conversation-index/{generation:010}-{}.idx",
        user.blob_prefix(),
        ulid::Ulid::new()
    )
}
