//! Full-text search over a user's conversation titles and message text: every term must match
//! (case-insensitive); title matches weigh more; the best matching message gives the excerpt.

use ragenie_common::accounts::UserId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ConversationError, ConversationResult};
use crate::model::{Conversation, Message};
use crate::store::ConversationStore;

pub const MAX_QUERY_CHARS: usize = 500;
pub const DEFAULT_HITS: usize = 20;
pub const MAX_HITS: usize = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationHit {
    pub conversation: Conversation,
    /// The best matching message, if the match is in the text rather than the title.
    pub message_id: Option<String>,
    /// An excerpt around the match.
    pub snippet: String,
    pub score: u32,
}

fn excerpt(text: &str, at: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let center = text[..at].chars().count();
    let start = center.saturating_sub(60);
    let end = (center + 100).min(chars.len());
    let mut out: String = chars[start..end].iter().collect();
    if start > 0 {
        out.insert(0, '…');
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// The user's conversations matching `q`, best first (then most recently active).
pub async fn search(
    store: &ConversationStore,
    user_id: UserId,
    q: &str,
    limit: Option<usize>,
) -> ConversationResult<Vec<ConversationHit>> {
    let terms: Vec<String> = q
        .split_whitespace()
        .map(str::to_lowercase)
        .filter(|t| !t.is_empty())
        .collect();
    if terms.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
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
    let conversations = store.all(user_id).await?;
    let messages = store.all_messages(user_id).await?;
    let mut hits: Vec<ConversationHit> = conversations
        .into_iter()
        .filter_map(|conv| rank(conv, &messages, &terms))
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| b.conversation.updated_at.cmp(&a.conversation.updated_at))
    });
    hits.truncate(limit);
    Ok(hits)
}

/// The conversation as a hit, if every term is in its title or its messages.
fn rank(conv: Conversation, messages: &[Message], terms: &[String]) -> Option<ConversationHit> {
    let title = conv.title.to_lowercase();
    let own: Vec<(&Message, String)> = messages
        .iter()
        .filter(|m| m.conversation_id == conv.id)
        .map(|m| (m, m.content.to_lowercase()))
        .collect();
    let all_terms_found = terms.iter().all(|t| {
        title.contains(t.as_str()) || own.iter().any(|(_, text)| text.contains(t.as_str()))
    });
    if !all_terms_found {
        return None;
    }
    let mut best: Option<(u32, &Message, usize)> = None;
    for (m, text) in &own {
        let count: u32 = terms
            .iter()
            .map(|t| text.matches(t.as_str()).count() as u32)
            .sum();
        if count > 0 && best.is_none_or(|(c, _, _)| count > c) {
            let at = text.find(terms[0].as_str()).unwrap_or(0);
            best = Some((count, m, at));
        }
    }
    let mut score = terms.iter().filter(|t| title.contains(t.as_str())).count() as u32 * 5;
    let (message_id, snippet) = match best {
        Some((count, m, at)) => {
            score += count;
            // Lowercasing can change byte offsets of some characters; fall back to the start.
            let at = if m.content.is_char_boundary(at) {
                at
            } else {
                0
            };
            (Some(m.id.clone()), excerpt(&m.content, at))
        }
        None => (None, conv.title.clone()),
    };
    Some(ConversationHit {
        conversation: conv,
        message_id,
        snippet,
        score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_cut_around_the_match_with_ellipses() {
        let text = format!("{}needle{}", "a".repeat(100), "b".repeat(200));
        let cut = excerpt(&text, 100);
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        assert!(cut.contains("needle"));
        assert_eq!(excerpt("short needle", 6), "short needle");
    }
}
