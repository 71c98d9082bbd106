//! The conversation search index: per user, the retrieval crate's BM25 segments over the
//! user's conversations, kept current as messages are saved, so a search costs one table read
//! however long the history is.
//!
//! A conversation is an indexed *document* (its id, its title as the context field) and each
//! message one *chunk* (its text the body, its id kept as the chunk's heading path). Its index
//! version is the user's search version when it was indexed, so a re-indexed conversation
//! supersedes the older copy, and a deleted one is superseded by an empty copy.
//!
//! Storage: a per-user state item (`version`, bumped in the same transaction as every change to
//! a conversation or its messages; `generation` and `merged`, the blob of the merged index), one
//! pending item per conversation changed since that blob was written (`n`, bumped with every
//! change), and the merged blob itself (segment plus the conversations it covers) through the
//! `Blobs` port.
//!
//! Reading: the state item (one read) decides whether the index in memory is current. If not,
//! the merged blob (cached per process by key) plus the pending conversations, read afresh from
//! the table, form the searchable set: a stale blob never hides a message, because everything
//! it lacks is pending. When many are pending, a background compaction writes the next
//! generation; it swaps the state's `generation` conditionally (so two compactions cannot both
//! win), and only then removes the pending items it covered, each only if unchanged since read.
//! A reader that sees the generation move while it reads starts again. A user's first search
//! after the index appeared (or with an unreadable blob) indexes every conversation: old
//! conversations are found without a migration.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use ragenie_common::accounts::UserId;
use ragenie_common::storage::{Blobs, Condition, Query, StoreError, Table, TxOp, Update};
use ragenie_retrieval::{Chunk, Hit, SearchOptions, Segment, SegmentSet};

use crate::error::ConversationResult;
use crate::keys;
use crate::model::{Conversation, Message};
use crate::store::ConversationStore;

const VERSION: &str = "version";
const GENERATION: &str = "generation";
const MERGED: &str = "merged";
const PENDING_N: &str = "n";

/// Pending conversations beyond which a search starts a compaction.
pub const COMPACT_AFTER: usize = 32;
/// Users whose index stays in memory, and merged blobs kept decoded.
const USER_CACHE_CAPACITY: usize = 256;
const MERGED_CACHE_CAPACITY: usize = 64;
/// Times a reader starts again when a compaction swaps the merged index under it.
const READ_ATTEMPTS: usize = 4;
/// Conversations read concurrently when indexing pending ones.
const READ_CONCURRENCY: usize = 8;

const MAGIC: &[u8; 4] = b"RGCI";
const BLOB_FORMAT: u8 = 1;

/// The writes that go in the same transaction as any change to a conversation or its messages:
/// the conversation becomes pending and the user's search version moves.
pub(crate) fn touch(user: UserId, conv_id: &str) -> [TxOp; 2] {
    let pk = keys::user_pk(user);
    [
        TxOp::Update {
            pk: pk.clone(),
            sk: keys::search_pending_sk(conv_id),
            update: Update::new().add(PENDING_N, 1),
            condition: Condition::None,
        },
        TxOp::Update {
            pk,
            sk: keys::SEARCH_STATE_SK.to_owned(),
            update: Update::new().add(VERSION, 1),
            condition: Condition::None,
        },
    ]
}

/// The user's search state as read from the table.
#[derive(Debug, Clone, PartialEq)]
struct State {
    version: i64,
    generation: i64,
    merged: Option<String>,
}

/// A merged index: the segment and the conversations it covers, as of its writing.
struct Merged {
    segment: Arc<Segment>,
    conversations: HashMap<String, Conversation>,
}

impl Merged {
    fn empty() -> Self {
        Self {
            segment: Arc::new(Segment::merge(&[])),
            conversations: HashMap::new(),
        }
    }

    fn encode(segment: &Segment, conversations: &HashMap<String, Conversation>) -> Vec<u8> {
        let segment = segment.to_bytes();
        let mut listed: Vec<&Conversation> = conversations.values().collect();
        listed.sort_by(|a, b| a.id.cmp(&b.id));
        let json = serde_json::to_vec(&listed).unwrap_or_default();
        let mut out = Vec::with_capacity(13 + segment.len() + json.len());
        out.extend_from_slice(MAGIC);
        out.push(BLOB_FORMAT);
        out.extend_from_slice(&(segment.len() as u64).to_le_bytes());
        out.extend_from_slice(&segment);
        out.extend_from_slice(&json);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 13 || &bytes[..4] != MAGIC {
            return Err("not a conversation index".into());
        }
        if bytes[4] != BLOB_FORMAT {
            return Err(format!("conversation index format {}", bytes[4]));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[5..13]);
        let len = usize::try_from(u64::from_le_bytes(len)).map_err(|e| e.to_string())?;
        let rest = &bytes[13..];
        if len > rest.len() {
            return Err("truncated conversation index".into());
        }
        let segment = Segment::from_bytes(&rest[..len]).map_err(|e| e.to_string())?;
        let listed: Vec<Conversation> =
            serde_json::from_slice(&rest[len..]).map_err(|e| e.to_string())?;
        Ok(Self {
            segment: Arc::new(segment),
            conversations: listed.into_iter().map(|c| (c.id.clone(), c)).collect(),
        })
    }
}

/// A conversation as read for indexing: `None` once it is deleted.
struct Indexed {
    id: String,
    conversation: Option<Conversation>,
    messages: Vec<Message>,
}

impl Indexed {
    /// The conversation's segment at index version `label`: one chunk per message (an empty
    /// conversation gets one chunk of its title, so it is still found by its title).
    fn segment(&self, label: u64) -> Segment {
        let Some(conv) = &self.conversation else {
            return Segment::build(&self.id, label, "", &[]);
        };
        let mut chunks: Vec<Chunk> = self
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| Chunk {
                index: i as u32,
                heading_path: vec![m.id.clone()],
                start: 0,
                end: m.content.chars().count(),
                token_count: 0,
                text: m.content.clone(),
            })
            .collect();
        if chunks.is_empty() {
            chunks.push(Chunk {
                index: 0,
                heading_path: Vec::new(),
                start: 0,
                end: conv.title.chars().count(),
                token_count: 0,
                text: conv.title.clone(),
            });
        }
        Segment::build(&conv.id, label, &conv.title, &chunks)
    }
}

/// What a search reads: the merged index plus the conversations indexed since.
pub struct UserIndex {
    set: SegmentSet,
    base: Arc<Merged>,
    /// Conversations re-read since the merged index: `None` when deleted.
    changed: HashMap<String, Option<Conversation>>,
}

impl UserIndex {
    /// The conversation as of this index (`None`: deleted, or never indexed).
    pub fn conversation(&self, id: &str) -> Option<&Conversation> {
        match self.changed.get(id) {
            Some(changed) => changed.as_ref(),
            None => self.base.conversations.get(id),
        }
    }

    /// The best message of each conversation for `query`, best first.
    pub fn search(&self, query: &str, k: usize, snippet_chars: usize) -> Vec<Hit> {
        let options = SearchOptions {
            k,
            max_chunks_per_doc: Some(1),
            snippet_chars,
            ..SearchOptions::default()
        };
        self.set.search(query, &options)
    }
}

/// What a compaction needs to write the next generation.
struct Compaction {
    user: UserId,
    generation: i64,
    previous_blob: Option<String>,
    base: Arc<Merged>,
    tail: Option<Arc<Segment>>,
    changed: HashMap<String, Option<Conversation>>,
    /// Pending items covered, with the `n` read: removed only if unchanged.
    pending: Vec<(String, i64)>,
}

/// The conversation indexes of this process: shared by every request of a function instance.
pub struct ConversationIndex {
    table: Arc<dyn Table>,
    blobs: Arc<dyn Blobs>,
    users: Mutex<HashMap<UserId, (i64, Arc<UserIndex>)>>,
    merged: Arc<Mutex<HashMap<String, Arc<Merged>>>>,
    compaction: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ConversationIndex {
    pub fn new(table: Arc<dyn Table>, blobs: Arc<dyn Blobs>) -> Self {
        Self {
            table,
            blobs,
            users: Mutex::new(HashMap::new()),
            merged: Arc::new(Mutex::new(HashMap::new())),
            compaction: Mutex::new(None),
        }
    }

    /// Waits for the compaction started last, if any (tests and benchmarks: its reads and
    /// writes must not land inside a measurement).
    pub async fn compaction_finished(&self) {
        let running = self.compaction.lock().expect("compaction lock").take();
        if let Some(task) = running {
            let _ = task.await;
        }
    }

    async fn state(&self, user: UserId) -> Result<State, StoreError> {
        let item = self
            .table
            .get(&keys::user_pk(user), keys::SEARCH_STATE_SK)
            .await?;
        Ok(State {
            version: item.as_ref().and_then(|i| i.i64(VERSION)).unwrap_or(0),
            generation: item.as_ref().and_then(|i| i.i64(GENERATION)).unwrap_or(0),
            merged: item
                .as_ref()
                .and_then(|i| i.str(MERGED))
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
        })
    }

    /// The user's index, current as of one read of their search state.
    pub async fn current(&self, user: UserId) -> ConversationResult<Arc<UserIndex>> {
        let mut state = self.state(user).await?;
        for attempt in 1..=READ_ATTEMPTS {
            if let Some((version, index)) = self.users.lock().expect("users lock").get(&user)
                && *version == state.version
            {
                return Ok(index.clone());
            }
            let (index, compaction) = self.build(user, &state).await?;
            // A compaction that swapped the merged index meanwhile may have removed pending
            // items this read did not see: start again from the new generation.
            let now = self.state(user).await?;
            if now.generation != state.generation && attempt < READ_ATTEMPTS {
                state = now;
                continue;
            }
            let index = Arc::new(index);
            {
                let mut users = self.users.lock().expect("users lock");
                if users.len() >= USER_CACHE_CAPACITY {
                    users.clear();
                }
                users.insert(user, (state.version, index.clone()));
            }
            if let Some(job) = compaction {
                self.spawn_compaction(job);
            }
            return Ok(index);
        }
        unreachable!("the last attempt returns")
    }

    /// The merged blob, decoded (cached per key: a blob is never rewritten). `Ok(None)` when it
    /// is gone (a compaction replaced it) or unreadable (then it is rebuilt from the table).
    async fn load(&self, key: &str) -> ConversationResult<Option<Arc<Merged>>> {
        if let Some(hit) = self.merged.lock().expect("merged lock").get(key) {
            return Ok(Some(hit.clone()));
        }
        let Some(blob) = self.blobs.get(key).await? else {
            return Ok(None);
        };
        let decoded = tokio::task::spawn_blocking(move || Merged::decode(&blob.body))
            .await
            .context("decoding task failed")?;
        match decoded {
            Ok(merged) => {
                let merged = Arc::new(merged);
                remember(&self.merged, key, merged.clone());
                Ok(Some(merged))
            }
            Err(e) => {
                tracing::warn!(error = %e, key, "conversation index unreadable; rebuilding it");
                Ok(None)
            }
        }
    }

    /// Builds the searchable index for `state`: the merged blob plus the pending conversations,
    /// or — without a readable blob — every conversation. Returns the compaction to run when
    /// the pending part grew large (or was everything).
    async fn build(
        &self,
        user: UserId,
        state: &State,
    ) -> ConversationResult<(UserIndex, Option<Compaction>)> {
        let label = state.version.max(0) as u64;
        let base = match &state.merged {
            Some(key) => self.load(key).await?,
            None => None,
        };
        // Without a readable merged index, everything is read and indexed once, then written.
        let rebuild = base.is_none();
        let (base, indexed, pending) = match base {
            Some(base) => {
                let pending = self.pending(user).await?;
                let ids: Vec<String> = pending.iter().map(|(id, _)| id.clone()).collect();
                (base, self.read_conversations(user, ids).await?, pending)
            }
            None => {
                // Read first: whatever is pending now, the full read below covers.
                let pending = self.pending(user).await?;
                (
                    Arc::new(Merged::empty()),
                    self.read_everything(user).await?,
                    pending,
                )
            }
        };
        let changed: HashMap<String, Option<Conversation>> = indexed
            .iter()
            .map(|c| (c.id.clone(), c.conversation.clone()))
            .collect();
        let (set, tail) = tokio::task::spawn_blocking({
            let base = base.clone();
            move || {
                let parts: Vec<Segment> = indexed.iter().map(|c| c.segment(label)).collect();
                let tail = match parts.len() {
                    0 => None,
                    1 => parts.into_iter().next().map(Arc::new),
                    _ => Some(Arc::new(Segment::merge(&parts))),
                };
                let segments: Vec<Arc<Segment>> = tail
                    .iter()
                    .cloned()
                    .chain(std::iter::once(base.segment.clone()))
                    .collect();
                (SegmentSet::new(segments), tail)
            }
        })
        .await
        .context("indexing task failed")?;
        let compaction = (rebuild || pending.len() >= COMPACT_AFTER).then(|| Compaction {
            user,
            generation: state.generation,
            previous_blob: state.merged.clone(),
            base: base.clone(),
            tail: tail.clone(),
            changed: changed.clone(),
            pending,
        });
        Ok((UserIndex { set, base, changed }, compaction))
    }

    /// The user's pending conversations with their change counters.
    async fn pending(&self, user: UserId) -> ConversationResult<Vec<(String, i64)>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let query = Query::partition(keys::user_pk(user))
                .prefix(keys::SEARCH_PENDING_PREFIX)
                .limit(1000)
                .after(cursor);
            let page = self.table.query(query).await?;
            for item in &page.items {
                if let Some(id) = item.sk.strip_prefix(keys::SEARCH_PENDING_PREFIX) {
                    out.push((id.to_owned(), item.i64(PENDING_N).unwrap_or(0)));
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Reads each conversation and its messages, a few at a time.
    async fn read_conversations(
        &self,
        user: UserId,
        ids: Vec<String>,
    ) -> ConversationResult<Vec<Indexed>> {
        let store = ConversationStore::new(self.table.clone());
        futures::stream::iter(ids)
            .map(|id| {
                let store = store.clone();
                async move {
                    let conversation = match store.get(user, &id).await {
                        Ok(conv) => Some(conv),
                        Err(crate::ConversationError::NotFound(_)) => None,
                        Err(e) => return Err(e),
                    };
                    let messages = match &conversation {
                        Some(_) => store.messages(user, &id).await?,
                        None => Vec::new(),
                    };
                    Ok(Indexed {
                        id,
                        conversation,
                        messages,
                    })
                }
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Every conversation of the user with its messages (the first search, or a lost blob).
    async fn read_everything(&self, user: UserId) -> ConversationResult<Vec<Indexed>> {
        let store = ConversationStore::new(self.table.clone());
        let conversations = store.all(user).await?;
        let mut messages: HashMap<String, Vec<Message>> = HashMap::new();
        for m in store.all_messages(user).await? {
            messages
                .entry(m.conversation_id.clone())
                .or_default()
                .push(m);
        }
        Ok(conversations
            .into_iter()
            .map(|c| Indexed {
                id: c.id.clone(),
                messages: messages.remove(&c.id).unwrap_or_default(),
                conversation: Some(c),
            })
            .collect())
    }

    fn spawn_compaction(&self, job: Compaction) {
        let mut running = self.compaction.lock().expect("compaction lock");
        if running.as_ref().is_some_and(|t| !t.is_finished()) {
            // One at a time per process; the next search starts another if still needed.
            return;
        }
        let (table, blobs, merged) = (self.table.clone(), self.blobs.clone(), self.merged.clone());
        *running = Some(tokio::spawn(async move {
            if let Err(e) = compact(table.as_ref(), blobs.as_ref(), &merged, job).await {
                tracing::warn!(error = %e, "conversation index compaction failed");
            }
        }));
    }
}

fn remember(cache: &Mutex<HashMap<String, Arc<Merged>>>, key: &str, merged: Arc<Merged>) {
    let mut cache = cache.lock().expect("merged lock");
    if cache.len() >= MERGED_CACHE_CAPACITY {
        cache.clear();
    }
    cache.insert(key.to_owned(), merged);
}

/// Writes the next generation of the merged index, swaps it in if no other compaction did
/// first, then removes the pending items it covers (each only if unchanged since read).
async fn compact(
    table: &dyn Table,
    blobs: &dyn Blobs,
    cache: &Mutex<HashMap<String, Arc<Merged>>>,
    job: Compaction,
) -> anyhow::Result<()> {
    let Compaction {
        user,
        generation,
        previous_blob,
        base,
        tail,
        changed,
        pending,
    } = job;
    let (merged, bytes) = tokio::task::spawn_blocking(move || {
        let deleted: HashSet<&str> = changed
            .iter()
            .filter(|(_, c)| c.is_none())
            .map(|(id, _)| id.as_str())
            .collect();
        let parts: Vec<Segment> = tail
            .iter()
            .map(|s| (**s).clone())
            .chain(std::iter::once((*base.segment).clone()))
            .collect();
        let segment = Segment::merge_where(&parts, |id, _| !deleted.contains(id));
        let mut conversations = base.conversations.clone();
        for (id, conv) in changed {
            match conv {
                Some(conv) => conversations.insert(id, conv),
                None => conversations.remove(&id),
            };
        }
        let bytes = Merged::encode(&segment, &conversations);
        (
            Merged {
                segment: Arc::new(segment),
                conversations,
            },
            bytes,
        )
    })
    .await
    .context("compaction task failed")?;
    let next = generation + 1;
    let key = keys::search_index_blob(user, next);
    blobs
        .put(&key, Bytes::from(bytes), "application/octet-stream")
        .await?;
    let pk = keys::user_pk(user);
    // The version stays: what is searchable does not change, so indexes in memory stay valid.
    let swap = Update::new().set(MERGED, key.clone()).set(GENERATION, next);
    // The generation only grows: "at most what was read" is "unchanged since read".
    match table
        .update(
            &pk,
            keys::SEARCH_STATE_SK,
            swap,
            Condition::AttrAtMost(GENERATION.into(), generation),
        )
        .await
    {
        Ok(_) => {}
        Err(e) => {
            blobs.delete(&key).await?;
            return match e {
                StoreError::ConditionFailed => Ok(()),
                e => Err(e.into()),
            };
        }
    }
    remember(cache, &key, Arc::new(merged));
    for (id, n) in pending {
        let unchanged = Condition::AttrEquals(PENDING_N.into(), n.into());
        match table
            .delete(&pk, &keys::search_pending_sk(&id), unchanged)
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(previous) = previous_blob {
        blobs.delete(&previous).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MessageRole;
    use crate::store::{ImportedMessage, NewImport, new_message_id};
    use ragenie_common::storage::Item;
    use ragenie_common::storage::counting::CountingTable;
    use ragenie_common::testing::embedded_state;

    struct Fixture {
        _dir: tempfile::TempDir,
        table: Arc<CountingTable>,
        blobs: Arc<dyn Blobs>,
        store: ConversationStore,
        index: ConversationIndex,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        let table = Arc::new(CountingTable::new(state.table.clone()));
        Fixture {
            store: ConversationStore::new(table.clone()),
            index: ConversationIndex::new(table.clone(), state.blobs.clone()),
            blobs: state.blobs.clone(),
            table,
            _dir: dir,
        }
    }

    impl Fixture {
        /// A fresh process on the same store: nothing in memory.
        fn cold(&self) -> ConversationIndex {
            ConversationIndex::new(self.table.clone(), self.blobs.clone())
        }

        async fn import(&self, user: UserId, title: &str, texts: &[String]) -> Conversation {
            let messages = texts
                .iter()
                .enumerate()
                .map(|(i, t)| ImportedMessage {
                    role: if i % 2 == 0 {
                        MessageRole::User
                    } else {
                        MessageRole::Assistant
                    },
                    content: t.clone(),
                })
                .collect();
            let import = NewImport {
                title: title.into(),
                profile_id: None,
                model: "gpt-4.1".into(),
                created_at: None,
                import_key: None,
                messages,
            };
            self.store.import(user, import).await.unwrap().0
        }

        async fn say(&self, user: UserId, conv_id: &str, text: &str) -> Message {
            let conv = self.store.get(user, conv_id).await.unwrap();
            let message = Message {
                id: new_message_id(),
                conversation_id: conv.id.clone(),
                parent_id: conv.head_id.clone(),
                ..Message::plain(MessageRole::User, text.into())
            };
            self.store
                .append(user, &conv, &message, None, Vec::new())
                .await
                .unwrap();
            message
        }

        /// (conversation id, message id, snippet) of each hit.
        async fn find(
            &self,
            index: &ConversationIndex,
            user: UserId,
            q: &str,
        ) -> Vec<(String, Option<String>, String)> {
            crate::search::search(index, user, q, Some(100))
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.conversation.id, h.message_id, h.snippet))
                .collect()
        }

        async fn reads(&self, index: &ConversationIndex, user: UserId, q: &str) -> (u64, usize) {
            let before = self.table.calls();
            let hits = self.find(index, user, q).await.len();
            ((self.table.calls() - before).reads, hits)
        }
    }

    fn texts(i: usize, n: usize) -> Vec<String> {
        (0..n)
            .map(|m| format!("message {m} of topic{i} about shared matters"))
            .collect()
    }

    #[tokio::test]
    async fn a_warm_search_reads_the_table_once_whatever_the_number_of_conversations() {
        let f = fixture().await;
        let user = UserId::new();
        let mut warm = Vec::new();
        let mut made = 0;
        for size in [10, 200] {
            for i in made..size {
                f.import(user, &format!("Chat {i}"), &texts(i, 20)).await;
            }
            made = size;
            // The first search after changes reads what changed (or, the first time, all).
            let (reads, hits) = f.reads(&f.index, user, "shared").await;
            assert!(reads > 1, "{reads}");
            assert_eq!(hits, size.min(100));
            f.index.compaction_finished().await;
            for q in ["shared matters", "topic7", "topic3 message"] {
                let (reads, hits) = f.reads(&f.index, user, q).await;
                assert!(hits >= 1, "{q}");
                warm.push(reads);
            }
        }
        assert_eq!(
            warm,
            [1, 1, 1, 1, 1, 1],
            "reads per warm search at 10 and 200"
        );
        // A new process reads the state, the merged blob (not the table) and the pending list.
        let cold = f.cold();
        let (reads, hits) = f.reads(&cold, user, "topic150").await;
        assert_eq!((reads, hits), (3, 1), "state, pending, state again");
    }

    #[tokio::test]
    async fn a_saved_message_is_found_at_once_and_gone_with_its_conversation() {
        let f = fixture().await;
        let user = UserId::new();
        let conv = f.import(user, "Coffee", &texts(1, 4)).await;
        let other = f.import(user, "Tea", &texts(2, 4)).await;
        assert!(f.find(&f.index, user, "volcano").await.is_empty());
        f.index.compaction_finished().await;

        let said = f
            .say(user, &conv.id, "Tell me about <volcanoes> & lava")
            .await;
        let hits = f.find(&f.index, user, "volcano").await;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0, conv.id);
        assert_eq!(hits[0].1.as_deref(), Some(said.id.as_str()));
        assert_eq!(
            hits[0].2,
            "Tell me about &lt;<mark>volcanoes</mark>&gt; &amp; lava"
        );
        // The title is searched too, and a rename is seen at once.
        assert_eq!(f.find(&f.index, user, "coffee").await[0].0, conv.id);
        f.store
            .update(user, &conv.id, Some("Espresso".into()), None, None)
            .await
            .unwrap();
        assert!(f.find(&f.index, user, "coffee").await.is_empty());
        let renamed = crate::search::search(&f.index, user, "espresso", None)
            .await
            .unwrap();
        assert_eq!(renamed[0].conversation.title, "Espresso");

        f.store.delete(user, &conv.id).await.unwrap();
        assert!(f.find(&f.index, user, "volcano").await.is_empty());
        assert!(f.find(&f.cold(), user, "volcano").await.is_empty());
        assert_eq!(f.find(&f.index, user, "topic2").await.len(), 1);
        assert_eq!(f.find(&f.index, user, "topic2").await[0].0, other.id);
    }

    #[tokio::test]
    async fn compaction_keeps_every_change_and_drops_deleted_conversations() {
        let f = fixture().await;
        let user = UserId::new();
        let first = f.import(user, "Start", &texts(0, 2)).await;
        f.find(&f.index, user, "start").await;
        f.index.compaction_finished().await;
        let mut convs = Vec::new();
        for i in 1..=COMPACT_AFTER + 2 {
            convs.push(f.import(user, &format!("Chat {i}"), &texts(i, 2)).await);
        }
        f.store.delete(user, &convs[0].id).await.unwrap();
        // Build the index a search would, and the compaction it asks for.
        let state = f.index.state(user).await.unwrap();
        let (_, job) = f.index.build(user, &state).await.unwrap();
        let job = job.expect("many pending conversations: a compaction");
        // Saved while the compaction runs: its pending item changes, so it must stay pending.
        let late = f.say(user, &convs[1].id, "a late word: zeppelin").await;
        let merged = Arc::new(Mutex::new(HashMap::new()));
        compact(f.table.as_ref(), f.blobs.as_ref(), &merged, job)
            .await
            .unwrap();
        let pending = f.index.pending(user).await.unwrap();
        assert_eq!(
            pending
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>(),
            vec![convs[1].id.as_str()],
            "only the conversation changed since it was read"
        );
        for index in [&f.index, &f.cold()] {
            let hits = f.find(index, user, "zeppelin").await;
            assert_eq!(hits.len(), 1);
            assert_eq!(hits[0].1.as_deref(), Some(late.id.as_str()));
            assert_eq!(f.find(index, user, "topic2").await.len(), 1);
            assert_eq!(f.find(index, user, "topic0").await[0].0, first.id);
            assert!(f.find(index, user, "topic1").await.is_empty(), "deleted");
        }
        let state = f.index.state(user).await.unwrap();
        let blob = f.blobs.get(state.merged.as_deref().unwrap()).await.unwrap();
        let merged = Merged::decode(&blob.unwrap().body).unwrap();
        assert!(!merged.conversations.contains_key(&convs[0].id));
        assert!(
            merged
                .segment
                .documents()
                .iter()
                .all(|d| d.doc_id != convs[0].id)
        );
        assert_eq!(
            f.blobs
                .list(&format!("{}conversation-index/", user.blob_prefix()))
                .await
                .unwrap()
                .len(),
            1,
            "the previous generation is removed"
        );
    }

    #[tokio::test]
    async fn a_compaction_that_lost_the_race_changes_nothing() {
        let f = fixture().await;
        let user = UserId::new();
        f.import(user, "Alpha", &texts(1, 2)).await;
        let state = f.index.state(user).await.unwrap();
        let (_, first) = f.index.build(user, &state).await.unwrap();
        let (_, second) = f.index.build(user, &state).await.unwrap();
        let cache = Arc::new(Mutex::new(HashMap::new()));
        compact(f.table.as_ref(), f.blobs.as_ref(), &cache, first.unwrap())
            .await
            .unwrap();
        let winner = f.index.state(user).await.unwrap();
        compact(f.table.as_ref(), f.blobs.as_ref(), &cache, second.unwrap())
            .await
            .unwrap();
        assert_eq!(f.index.state(user).await.unwrap(), winner);
        let blobs = f
            .blobs
            .list(&format!("{}conversation-index/", user.blob_prefix()))
            .await
            .unwrap();
        assert_eq!(blobs.len(), 1, "the loser removed its own blob");
        assert_eq!(f.find(&f.cold(), user, "alpha").await.len(), 1);
    }

    #[tokio::test]
    async fn messages_saved_at_once_are_all_found() {
        let f = fixture().await;
        let user = UserId::new();
        let a = f.import(user, "A", &texts(1, 1)).await;
        let b = f.import(user, "B", &texts(2, 1)).await;
        f.find(&f.index, user, "a").await;
        let saves = (0..8).map(|i| {
            let conv = if i % 2 == 0 { &a.id } else { &b.id };
            let f = &f;
            async move {
                let conv = f.store.get(user, conv).await.unwrap();
                let message = Message {
                    id: new_message_id(),
                    conversation_id: conv.id.clone(),
                    ..Message::plain(MessageRole::User, format!("parallel{i}"))
                };
                f.store
                    .append(user, &conv, &message, None, Vec::new())
                    .await
                    .unwrap();
            }
        });
        futures::future::join_all(saves).await;
        for i in 0..8 {
            assert_eq!(
                f.find(&f.index, user, &format!("parallel{i}")).await.len(),
                1,
                "{i}"
            );
        }
    }

    #[tokio::test]
    async fn another_users_conversations_are_never_returned() {
        let f = fixture().await;
        let (alice, bob) = (UserId::new(), UserId::new());
        f.import(alice, "Secret plan", &["the secret plan".to_owned()])
            .await;
        f.import(bob, "Mine", &["nothing here".to_owned()]).await;
        assert_eq!(f.find(&f.index, alice, "secret").await.len(), 1);
        assert!(f.find(&f.index, bob, "secret").await.is_empty());
        assert!(f.find(&f.cold(), bob, "secret plan").await.is_empty());
    }

    #[tokio::test]
    async fn conversations_saved_before_the_index_existed_are_found() {
        let f = fixture().await;
        let user = UserId::new();
        // Written as before the index: no pending item, no search state.
        let pk = keys::user_pk(user);
        let conv = Conversation {
            id: ulid::Ulid::new().to_string(),
            title: "Old times".into(),
            profile_id: None,
            model: "gpt-4.1".into(),
            head_id: None,
            message_count: 1,
            created_at: "2025-01-01T00:00:00.000000Z".into(),
            updated_at: "2025-01-01T00:00:00.000000Z".into(),
        };
        let item = Item::encode(pk.clone(), keys::conversation_sk(&conv.id), &conv)
            .unwrap()
            .indexed(
                keys::recent_index_pk(user),
                keys::recent_index_sk(&conv.updated_at, &conv.id),
            );
        f.table.put(item, Condition::None).await.unwrap();
        let message = Message {
            id: new_message_id(),
            conversation_id: conv.id.clone(),
            ..Message::plain(MessageRole::User, "an archived gramophone".into())
        };
        let item = Item::encode(pk, keys::message_sk(&conv.id, &message.id), &message).unwrap();
        f.table.put(item, Condition::None).await.unwrap();

        let hits = f.find(&f.index, user, "gramophones").await;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].1.as_deref(), Some(message.id.as_str()));
        f.index.compaction_finished().await;
        // Written once: a new process reads the blob, not every message.
        let cold = f.cold();
        assert_eq!(f.reads(&cold, user, "gramophone").await, (3, 1));
    }

    #[tokio::test]
    async fn an_unreadable_index_blob_is_rebuilt_from_the_table() {
        let f = fixture().await;
        let user = UserId::new();
        f.import(user, "Kept", &["a durable fact".to_owned()]).await;
        f.find(&f.index, user, "fact").await;
        f.index.compaction_finished().await;
        let state = f.index.state(user).await.unwrap();
        let key = state.merged.unwrap();
        f.blobs
            .put(
                &key,
                Bytes::from_static(b"RGCI\x01garbage"),
                "application/octet-stream",
            )
            .await
            .unwrap();
        let cold = f.cold();
        assert_eq!(f.find(&cold, user, "durable").await.len(), 1);
        cold.compaction_finished().await;
        let next = f.index.state(user).await.unwrap();
        assert_eq!(next.generation, state.generation + 1);
        assert_eq!(f.find(&f.cold(), user, "durable").await.len(), 1);
    }

    #[test]
    fn a_conversation_without_messages_is_one_chunk_of_its_title() {
        let conv = Indexed {
            id: "c".into(),
            conversation: Some(Conversation {
                id: "c".into(),
                title: "Empty one".into(),
                profile_id: None,
                model: "m".into(),
                head_id: None,
                message_count: 0,
                created_at: String::new(),
                updated_at: String::new(),
            }),
            messages: Vec::new(),
        };
        assert_eq!(conv.segment(1).chunk_count(), 1);
        let gone = Indexed {
            conversation: None,
            ..conv
        };
        assert_eq!(gone.segment(2).chunk_count(), 0);
    }
}
