//! Conversation search: BM25 over the user's conversation index (see `index`): titles and
//! message text, stemmed, best conversations first, each with its best message and a
//! highlighted snippet. One table read per search, however long the history.

use ragenie_common::accounts::UserId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ConversationError, ConversationResult};
use crate::index::ConversationIndex;
use crate::model::Conversation;

pub const MAX_QUERY_CHARS: usize = 500;
pub const DEFAULT_HITS: usize = 20;
pub const MAX_HITS: usize = 100;
/// Approximate length of a hit's snippet, in characters.
const SNIPPET_CHARS: usize = 160;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationHit {
    pub conversation: Conversation,
    /// The best matching message (absent for a conversation without messages, found by its
    /// title).
    pub message_id: Option<String>,
    /// An excerpt of that message (or the title) around the matches: HTML-escaped, matched
    /// words wrapped in `<mark>`…`</mark>`.
    pub snippet: String,
    /// BM25 relevance (higher is better); comparable within one response only.
    pub score: f32,
}

/// The user's conversations matching `q`, best first.
pub async fn search(
    index: &ConversationIndex,
    user_id: UserId,
    q: &str,
    limit: Option<usize>,
) -> ConversationResult<Vec<ConversationHit>> {
    if q.trim().is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        return Err(ConversationError::invalid(
            "q",
            format!("1..={MAX_QUERY_CHARS} characters"),
        ));
    }
    let limit = limit.unwrap_or(DEFAULT_HITS);
    if !(1..=MAX_HITS).contains(&limit) {
        return Err(ConversationError::invalid(
            "limit",
            format!("1..={MAX_HITS}"),
        ));
    }
    let user_index = index.current(user_id).await?;
    let query = q.to_owned();
    let found = user_index.clone();
    let hits = tokio::task::spawn_blocking(move || found.search(&query, limit, SNIPPET_CHARS))
        .await
        .map_err(|e| anyhow::anyhow!("search task failed: {e}"))?;
    Ok(hits
        .into_iter()
        .filter_map(|hit| {
            let conversation = user_index.conversation(&hit.doc_id)?.clone();
            Some(ConversationHit {
                conversation,
                message_id: hit.heading_path.into_iter().next(),
                snippet: hit.snippet,
                score: hit.score,
            })
        })
        .collect())
}
