//! Answers in flight, for a process that stops in the middle of them.
//!
//! * A **marker** is stored with the question (same transaction) or, for a regenerated answer,
//!   just before it starts, and removed in the transaction that saves the answer. It names the
//!   conversation, the question, the answer's id and what the guard holds for it (quota
//!   reservation, concurrent-answer slot). All markers share one index partition, so a process
//!   starting up finds those a killed process left: [`AnswerPipeline::recover_interrupted`]
//!   saves each answer as `interrupted` (with an error the user sees, so they can regenerate it)
//!   and gives back what the guard held.
//! * [`interrupt_answers`] ends every answer streaming in this process at once (a server that
//!   drains on SIGTERM and cannot wait longer): each is saved with what it has so far, finish
//!   reason `interrupted`, and its client gets an `error` event and the usual end.

use std::sync::LazyLock;

use ragenie_common::accounts::UserId;
use ragenie_common::accounts::limits::{Reservation, Slot};
use ragenie_common::storage::{Condition, Item, Query, TxOp};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::answer::{AnswerPipeline, Hold};
use crate::error::ConversationResult;
use crate::keys;
use crate::model::{Message, MessageRole};
use crate::store::now_stamp;

/// The finish reason of an answer cut short by the server stopping.
pub const INTERRUPTED: &str = "interrupted";
/// What the user reads on an answer a stopped server left unfinished.
pub const INTERRUPTED_BY_RESTART: &str =
    "the server stopped before this answer was finished; regenerate it to get a full answer";
/// What the user reads on an answer cut short by a server shutting down.
pub const INTERRUPTED_BY_SHUTDOWN: &str =
    "the server is shutting down: the answer was cut short; regenerate it to get a full answer";

/// The index partition of every marker.
const INDEX_PK: &str = "ANSWERING";

static INTERRUPT: LazyLock<watch::Sender<bool>> = LazyLock::new(|| watch::channel(false).0);

/// Ends every answer streaming in this process, now and from now on (see the module notes).
pub fn interrupt_answers() {
    INTERRUPT.send_replace(true);
}

/// Resolves once [`interrupt_answers`] was called.
pub(crate) async fn interrupted() {
    let mut rx = INTERRUPT.subscribe();
    // The sender is a static: it never closes.
    let _ = rx.wait_for(|v| *v).await;
}

/// What a marker records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct InFlight {
    pub user_id: UserId,
    pub conversation_id: String,
    pub question_id: String,
    pub answer_id: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_month: Option<String>,
    #[serde(default)]
    pub reservation_micro: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_lease: Option<String>,
}

impl InFlight {
    pub fn new(
        user_id: UserId,
        conversation_id: &str,
        question_id: &str,
        answer_id: &str,
        model: &str,
        hold: &Hold,
    ) -> Self {
        Self {
            user_id,
            conversation_id: conversation_id.into(),
            question_id: question_id.into(),
            answer_id: answer_id.into(),
            model: model.into(),
            reservation_month: hold.reservation.as_ref().map(|r| r.month.clone()),
            reservation_micro: hold.reservation.as_ref().map_or(0, |r| r.micro),
            slot_n: hold.slot.as_ref().map(|s| s.n),
            slot_lease: hold.slot.as_ref().map(|s| s.lease.clone()),
        }
    }

    pub fn item(&self) -> ConversationResult<Item> {
        Ok(Item::encode(
            keys::user_pk(self.user_id),
            keys::answering_sk(&self.conversation_id, &self.answer_id),
            self,
        )?
        .indexed(INDEX_PK, format!("{}#{}", self.user_id, self.answer_id)))
    }

    /// The marker's put, for the question's transaction.
    pub fn put(&self) -> ConversationResult<TxOp> {
        Ok(TxOp::Put {
            item: self.item()?,
            condition: Condition::NotExists,
        })
    }

    fn hold(&self) -> Hold {
        Hold {
            reservation: self.reservation_month.clone().map(|month| Reservation {
                user: self.user_id,
                month,
                micro: self.reservation_micro,
            }),
            slot: self
                .slot_n
                .zip(self.slot_lease.clone())
                .map(|(n, lease)| Slot {
                    user: self.user_id,
                    n,
                    lease,
                }),
        }
    }
}

/// The marker's removal, for the transaction that saves the answer.
pub(crate) fn done(user_id: UserId, conversation_id: &str, answer_id: &str) -> TxOp {
    TxOp::Delete {
        pk: keys::user_pk(user_id),
        sk: keys::answering_sk(conversation_id, answer_id),
        condition: Condition::None,
    }
}

impl AnswerPipeline {
    /// Saves every answer a stopped process left unfinished as `interrupted` and gives back
    /// what the guard held for it; returns how many. Run at start-up, before serving.
    pub async fn recover_interrupted(&self) -> ConversationResult<usize> {
        let mut recovered = 0;
        loop {
            // Each recovered marker is deleted, so the first page is always the next one.
            let page = self
                .table()
                .query_index(Query::partition(INDEX_PK).limit(100))
                .await?;
            if page.items.is_empty() {
                return Ok(recovered);
            }
            for item in page.items {
                let marker: InFlight = item.decode()?;
                self.recover_one(&marker).await?;
                recovered += 1;
            }
        }
    }

    async fn recover_one(&self, marker: &InFlight) -> ConversationResult<()> {
        let message = Message {
            id: marker.answer_id.clone(),
            conversation_id: marker.conversation_id.clone(),
            parent_id: Some(marker.question_id.clone()),
            created_at: now_stamp(),
            model: Some(marker.model.clone()),
            finish_reason: Some(INTERRUPTED.into()),
            error: Some(INTERRUPTED_BY_RESTART.into()),
            ..Message::plain(MessageRole::Assistant, String::new())
        };
        let done = done(marker.user_id, &marker.conversation_id, &marker.answer_id);
        match self
            .store()
            .get(marker.user_id, &marker.conversation_id)
            .await
        {
            Ok(conv) => {
                self.store()
                    .append(marker.user_id, &conv, &message, None, vec![done])
                    .await?;
            }
            // Deleted meanwhile: nothing to save the answer to.
            Err(crate::error::ConversationError::NotFound(_)) => {
                self.table().transact(vec![done]).await?;
            }
            Err(e) => return Err(e),
        }
        self.release(marker.hold()).await;
        tracing::warn!(
            conversation = %marker.conversation_id,
            answer = %marker.answer_id,
            "an answer the previous process left unfinished was saved as interrupted"
        );
        Ok(())
    }
}
