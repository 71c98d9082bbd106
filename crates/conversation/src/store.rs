//! Conversations and their message trees in the table.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ConversationError, ConversationResult};
use ragenie_common::accounts::UserId;
use ragenie_common::clock::{self, Timestamp};
use ragenie_common::storage::{Condition, Item, Query, StoreError, Table, TxOp, Update};

use crate::index;
use crate::keys;
use crate::model::{Conversation, Message, MessageRole};

pub const DEFAULT_TITLE: &str = "New conversation";
pub const MAX_TITLE_CHARS: usize = 200;

/// A new message id: ULIDs from one process-wide monotonic generator, so messages made in the
/// same millisecond still sort in the order they were made.
pub fn new_message_id() -> String {
    static GENERATOR: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
    let mut generator = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
    let generator = generator.get_or_insert_with(ulid::Generator::new);
    generator
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::new())
        .to_string()
}

/// A sortable UTC timestamp with microseconds (fixed width, so strings sort by time).
pub fn now_stamp() -> String {
    clock::now().to_string()
}

pub fn validate_title(title: &str) -> ConversationResult<String> {
    let title = title.trim();
    if title.is_empty()
        || title.chars().count() > MAX_TITLE_CHARS
        || title.chars().any(char::is_control)
    {
        return Err(ConversationError::invalid(
            "title",
            format!("1..={MAX_TITLE_CHARS} characters, no control characters"),
        ));
    }
    Ok(title.to_owned())
}

/// A title from the first thing the user said: its first line, cut at a word near 60 chars.
pub fn title_from(prompt: &str) -> String {
    let line = prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(DEFAULT_TITLE);
    if line.chars().count() <= 60 {
        return line.to_owned();
    }
    let cut: String = line.chars().take(60).collect();
    let at_word = cut
        .rfind(' ')
        .filter(|i| *i > 30)
        .map(|i| cut[..i].to_owned())
        .unwrap_or(cut);
    format!("{at_word}…")
}

#[derive(Clone)]
pub struct ConversationStore {
    table: Arc<dyn Table>,
}

fn conversation_item(user_id: UserId, conv: &Conversation) -> ConversationResult<Item> {
    Ok(Item::encode(
        keys::user_pk(user_id),
        keys::conversation_sk(&conv.id),
        conv,
    )?
    .indexed(
        keys::recent_index_pk(user_id),
        keys::recent_index_sk(&conv.updated_at, &conv.id),
    ))
}

impl ConversationStore {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    pub fn table(&self) -> &Arc<dyn Table> {
        &self.table
    }

    pub async fn create(
        &self,
        user_id: UserId,
        profile_id: Option<String>,
        model: String,
        title: Option<String>,
    ) -> ConversationResult<Conversation> {
        let title = title
            .map(|t| validate_title(&t))
            .transpose()?
            .unwrap_or_else(|| DEFAULT_TITLE.to_owned());
        let stamp = now_stamp();
        let conv = Conversation {
            id: ulid::Ulid::new().to_string(),
            title,
            profile_id,
            model,
            head_id: None,
            message_count: 0,
            created_at: stamp.clone(),
            updated_at: stamp,
        };
        let mut ops = vec![TxOp::Put {
            item: conversation_item(user_id, &conv)?,
            condition: Condition::NotExists,
        }];
        ops.extend(index::touch(user_id, &conv.id));
        self.table.transact(ops).await?;
        Ok(conv)
    }

    /// The conversation, or `None`; only the store's own errors (for retries of them).
    pub async fn get_raw(
        &self,
        user_id: UserId,
        conv_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let item = self
            .table
            .get(&keys::user_pk(user_id), &keys::conversation_sk(conv_id))
            .await?;
        item.map(|i| i.decode()).transpose()
    }

    pub async fn get(&self, user_id: UserId, conv_id: &str) -> ConversationResult<Conversation> {
        let item = self
            .table
            .get(&keys::user_pk(user_id), &keys::conversation_sk(conv_id))
            .await?;
        Ok(item
            .ok_or_else(|| ConversationError::NotFound("conversation"))?
            .decode()?)
    }

    /// Most recently active first.
    pub async fn list(
        &self,
        user_id: UserId,
        limit: usize,
        cursor: Option<String>,
    ) -> ConversationResult<(Vec<Conversation>, Option<String>)> {
        let page = self
            .table
            .query_index(
                Query::partition(keys::recent_index_pk(user_id))
                    .descending()
                    .limit(limit)
                    .after(cursor),
            )
            .await?;
        let items = page.decode_items::<Conversation>()?;
        Ok((items, page.next_cursor))
    }

    pub async fn all(&self, user_id: UserId) -> ConversationResult<Vec<Conversation>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let (items, next) = self.list(user_id, 1000, cursor).await?;
            out.extend(items);
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    pub async fn update(
        &self,
        user_id: UserId,
        conv_id: &str,
        title: Option<String>,
        model: Option<String>,
        profile_id: Option<Option<String>>,
    ) -> ConversationResult<Conversation> {
        let mut conv = self.get(user_id, conv_id).await?;
        if let Some(title) = title {
            conv.title = validate_title(&title)?;
        }
        if let Some(model) = model {
            conv.model = model;
        }
        if let Some(profile_id) = profile_id {
            conv.profile_id = profile_id;
        }
        let previous = conv.updated_at.clone();
        conv.updated_at = now_stamp();
        let guard = Condition::AttrEquals("updated_at".into(), previous.into());
        let mut ops = vec![TxOp::Put {
            item: conversation_item(user_id, &conv)?,
            condition: guard,
        }];
        ops.extend(index::touch(user_id, &conv.id));
        match self.table.transact(ops).await {
            Ok(()) => Ok(conv),
            Err(StoreError::ConditionFailed) => Err(ConversationError::Conflict(
                "the conversation changed meanwhile; retry".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the conversation and every message in it: the conversation first (lists no
    /// longer show it), then its messages; a deletion the store interrupted is finished by
    /// deleting again.
    pub async fn delete(&self, user_id: UserId, conv_id: &str) -> ConversationResult<()> {
        let pk = keys::user_pk(user_id);
        let messages = self.message_items(user_id, conv_id).await?;
        // The search index learns of the deletion in the same transaction.
        let mut ops = vec![TxOp::Delete {
            pk: pk.clone(),
            sk: keys::conversation_sk(conv_id),
            condition: Condition::Exists,
        }];
        ops.extend(index::touch(user_id, conv_id));
        match self.table.transact(ops).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) if messages.is_empty() => {
                return Err(ConversationError::NotFound("conversation"));
            }
            // Gone already: an interrupted deletion, finished below.
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        for batch in messages.chunks(25) {
            let ops = batch
                .iter()
                .map(|i| TxOp::Delete {
                    pk: pk.clone(),
                    sk: i.sk.clone(),
                    condition: Condition::None,
                })
                .collect();
            self.table.transact(ops).await?;
        }
        let _ = self
            .table
            .delete(&pk, &keys::stop_sk(conv_id), Condition::None)
            .await;
        Ok(())
    }

    async fn message_items(&self, user_id: UserId, conv_id: &str) -> ConversationResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let query = Query::partition(keys::user_pk(user_id))
                .prefix(keys::messages_prefix(conv_id))
                .limit(1000)
                .after(cursor);
            let page = self.table.query(query).await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Every message of the conversation, oldest first.
    pub async fn messages(
        &self,
        user_id: UserId,
        conv_id: &str,
    ) -> ConversationResult<Vec<Message>> {
        let items = self.message_items(user_id, conv_id).await?;
        Ok(items
            .iter()
            .map(|i| i.decode())
            .collect::<Result<Vec<Message>, _>>()?)
    }

    /// Every message of every conversation of the user (for search).
    pub async fn all_messages(&self, user_id: UserId) -> ConversationResult<Vec<Message>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let query = Query::partition(keys::user_pk(user_id))
                .prefix(keys::MESSAGE_PREFIX)
                .limit(1000)
                .after(cursor);
            let page = self.table.query(query).await?;
            for item in &page.items {
                out.push(item.decode::<Message>()?);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Stores a message and moves the conversation's head to it, in one transaction with
    /// `extra`, more writes of the user's (an in-flight answer's marker, put with its question or
    /// removed with the answer). Tried again when the store fails for a moment; a write that
    /// timed out but landed counts as done (never a second copy of the message).
    pub async fn append(
        &self,
        user_id: UserId,
        conv: &Conversation,
        message: &Message,
        title: Option<String>,
        extra: Vec<TxOp>,
    ) -> ConversationResult<Conversation> {
        let (next, mut ops) = appended(user_id, conv, message, title)?;
        ops.extend(extra);
        let mut wait = std::time::Duration::from_millis(20);
        let mut attempt = 1;
        loop {
            let e = match self.table.transact(ops.clone()).await {
                Ok(()) => return Ok(next),
                Err(StoreError::ConditionFailed) => {
                    return Err(ConversationError::NotFound("conversation"));
                }
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e.into()),
            };
            let key = keys::message_sk(&conv.id, &message.id);
            if let Ok(Some(_)) = self.table.get(&keys::user_pk(user_id), &key).await
                && let Ok(Some(now)) = self.get_raw(user_id, &conv.id).await
            {
                return Ok(now);
            }
            if attempt >= ragenie_common::storage::STEP_ATTEMPTS {
                return Err(e.into());
            }
            tracing::debug!(error = %e, "storing a message failed transiently; trying again");
            tokio::time::sleep(wait).await;
            wait *= 4;
            attempt += 1;
        }
    }
}

/// A message of an imported conversation.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportedMessage {
    pub role: MessageRole,
    pub content: String,
}

/// A conversation to import.
pub struct NewImport {
    pub title: String,
    pub profile_id: Option<String>,
    pub model: String,
    pub created_at: Option<time::OffsetDateTime>,
    pub import_key: Option<String>,
    pub messages: Vec<ImportedMessage>,
}

/// The most messages one import may hold.
pub const MAX_IMPORTED_MESSAGES: usize = 5000;

impl ConversationStore {
    /// Creates a conversation with its messages as given (chained, no model call). With an
    /// `import_key` the same import twice returns the first conversation (`false`) instead.
    pub async fn import(
        &self,
        user_id: UserId,
        import: NewImport,
    ) -> ConversationResult<(Conversation, bool)> {
        let NewImport {
            title,
            profile_id,
            model,
            created_at,
            import_key,
            messages,
        } = import;
        let pk = keys::user_pk(user_id);
        if let Some(key) = &import_key {
            if key.is_empty() || key.len() > 200 || key.contains('\0') {
                return Err(ConversationError::invalid(
                    "import_key",
                    "1..=200 characters",
                ));
            }
            if let Some(existing) = self.table.get(&pk, &keys::import_sk(key)).await? {
                let conv_id = existing
                    .str("conversation_id")
                    .unwrap_or_default()
                    .to_owned();
                match self.get(user_id, &conv_id).await {
                    Ok(conv) => return Ok((conv, false)),
                    Err(ConversationError::NotFound(_)) => {
                        // Its conversation was deleted since: import afresh.
                        self.table
                            .delete(&pk, &keys::import_sk(key), Condition::None)
                            .await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if messages.len() > MAX_IMPORTED_MESSAGES {
            return Err(ConversationError::invalid(
                "messages",
                format!("at most {MAX_IMPORTED_MESSAGES} messages"),
            ));
        }
        let title = validate_title(&title)?;
        let started = created_at
            .map(Timestamp::from)
            .unwrap_or_else(clock::now)
            .to_string();
        let conv_id = ulid::Ulid::new().to_string();
        // Messages first: without their conversation item nobody sees them, so a failure
        // half-way leaves nothing visible.
        let mut parent: Option<String> = None;
        let mut items = Vec::with_capacity(messages.len());
        for (i, m) in messages.into_iter().enumerate() {
            if m.content.chars().count() > crate::chat::MAX_MESSAGE_CHARS {
                return Err(ConversationError::invalid(
                    format!("messages[{i}].content"),
                    "too long",
                ));
            }
            let message = Message {
                id: new_message_id(),
                conversation_id: conv_id.clone(),
                parent_id: parent.clone(),
                created_at: started.clone(),
                ..Message::plain(m.role, m.content)
            };
            parent = Some(message.id.clone());
            items.push(Item::encode(
                pk.clone(),
                keys::message_sk(&conv_id, &message.id),
                &message,
            )?);
        }
        let count = items.len() as u64;
        for batch in items.chunks(50) {
            let ops = batch
                .iter()
                .map(|item| TxOp::Put {
                    item: item.clone(),
                    condition: Condition::NotExists,
                })
                .collect();
            self.table.transact(ops).await?;
        }
        let conv = Conversation {
            id: conv_id.clone(),
            title,
            profile_id,
            model,
            head_id: parent,
            message_count: count,
            created_at: started.clone(),
            updated_at: started,
        };
        let mut ops = vec![TxOp::Put {
            item: conversation_item(user_id, &conv)?,
            condition: Condition::NotExists,
        }];
        ops.extend(index::touch(user_id, &conv_id));
        if let Some(key) = &import_key {
            let marker = Item::new(pk.clone(), keys::import_sk(key))
                .with("conversation_id", conv_id.clone());
            ops.push(TxOp::Put {
                item: marker,
                condition: Condition::NotExists,
            });
        }
        match self.table.transact(ops).await {
            Ok(()) => Ok((conv, true)),
            Err(StoreError::ConditionFailed) => Err(ConversationError::Conflict(
                "the same import is running concurrently; retry".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// The messages from the root to `leaf`, oldest first.
pub fn branch_to(messages: &[Message], leaf: Option<&str>) -> Vec<Message> {
    let by_id: HashMap<&str, &Message> = messages.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut out = Vec::new();
    let mut at = leaf;
    while let Some(id) = at {
        let Some(m) = by_id.get(id) else { break };
        out.push((*m).clone());
        at = m.parent_id.as_deref();
        if out.len() > messages.len() {
            break;
        }
    }
    out.reverse();
    out
}

/// Rendered exports of one conversation.
pub fn export_markdown(conv: &Conversation, branch: &[Message]) -> String {
    let mut out = format!("# {}\n\n", conv.title);
    out.push_str(&format!(
        "*Model: {} · created {}*\n\n",
        conv.model, conv.created_at
    ));
    for m in branch {
        let who = match m.role {
            MessageRole::User => "You".to_owned(),
            MessageRole::Assistant => {
                format!("Assistant ({})", m.model.as_deref().unwrap_or(&conv.model))
            }
        };
        out.push_str(&format!("## {who}\n\n{}\n\n", m.content.trim_end()));
        if !m.citations.is_empty() {
            out.push_str("Sources:\n");
            for c in &m.citations {
                let heading = if c.heading_path.is_empty() {
                    String::new()
                } else {
                    format!(" › {}", c.heading_path.join(" › "))
                };
                out.push_str(&format!(
                    "- [{}] {}{heading} (v{}, chars {}–{})\n",
                    c.n, c.document_name, c.version, c.start, c.end
                ));
            }
            out.push('\n');
        }
        if let (Some(u), Some(c)) = (&m.usage, &m.cost) {
            out.push_str(&format!(
                "*{} in / {} out tokens · ${:.6}{}*\n\n",
                u.input + u.cache_read + u.cache_write,
                u.output,
                c.total_usd,
                if c.estimated { " (estimated)" } else { "" }
            ));
        }
    }
    out
}

/// The conversation after `message` is appended (head, count, time, title), and the writes that
/// make it so: the message, the conversation's new head, the search index's touch.
fn appended(
    user_id: UserId,
    conv: &Conversation,
    message: &Message,
    title: Option<String>,
) -> ConversationResult<(Conversation, Vec<TxOp>)> {
    let pk = keys::user_pk(user_id);
    let mut next = conv.clone();
    next.head_id = Some(message.id.clone());
    next.message_count += 1;
    next.updated_at = now_stamp();
    if let Some(title) = title {
        next.title = title;
    }
    let update = Update::new()
        .set("head_id", message.id.clone())
        .set("updated_at", next.updated_at.clone())
        .set("title", next.title.clone())
        .set(
            ragenie_common::storage::attr::GSI1_SK,
            keys::recent_index_sk(&next.updated_at, &conv.id),
        )
        .add("message_count", 1);
    let mut ops = vec![
        TxOp::Put {
            item: Item::encode(pk.clone(), keys::message_sk(&conv.id, &message.id), message)?,
            condition: Condition::NotExists,
        },
        TxOp::Update {
            pk,
            sk: keys::conversation_sk(&conv.id),
            update,
            condition: Condition::Exists,
        },
    ];
    ops.extend(index::touch(user_id, &conv.id));
    Ok((next, ops))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_line_cut_at_a_word() {
        assert_eq!(title_from("\n  How do I tamp?\nmore"), "How do I tamp?");
        let long = title_from(&"word ".repeat(30));
        assert!(long.ends_with('…') && long.chars().count() <= 61, "{long}");
    }

    #[test]
    fn stamps_have_a_fixed_width_so_they_sort() {
        let a = now_stamp();
        assert_eq!(a.len(), "2026-11-30T03:48:23.123456Z".len());
    }
}
