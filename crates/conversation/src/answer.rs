//! The one answer pipeline, behind the web chat and the OpenAI-compatible API alike: admit,
//! build the provider request, stream (with the stop flag and keep-alives), save, bill.
//!
//! ```text
//! admit (AnswerGuard) → build request → stream ─┬→ Delta / KeepAlive events
//!                                               ├─ stop flag polled, client departure seen
//!                                               └→ bill → save → settle (AnswerGuard) → Finished
//! ```
//!
//! [`AnswerGuard`] is the seam where whatever must hold for every answer is enforced, once:
//! [`LedgerGuard`] keeps the user's own monthly budgets (admit) and the usage ledger (settle);
//! [`crate::limits::OperatorGuard`] adds the operator's quota (reserve the worst case at admit,
//! settle to the bill), requests per minute and concurrent answers around it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use ragenie_common::accounts::UserId;
use ragenie_common::idempotency::{Claim, Claimed, Idempotency};
use ragenie_common::storage::{Condition, Item, Table};
use ragenie_gateway::{ChatRequest, FinishReason, Gateway, LlmEvent, LlmStream, ModelSpec, Usage};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::{Instant, interval, interval_at};

use crate::context::{Assembled, Source, cited};
use crate::error::{ConversationError, ConversationResult};
use crate::inflight;
use crate::keys;
use crate::model::{
    Citation, ContextRecord, Conversation, Message, MessageCost, MessageRole, TokenUsage,
};
use crate::models::RETRIEVAL_ONLY_MODEL;
use crate::store::{ConversationStore, now_stamp};
use crate::usage::UsageLedger;

/// How often a streaming answer checks for an explicit stop request.
pub const STOP_POLL: Duration = Duration::from_millis(500);
/// The longest silence on an answer's stream before a keep-alive is sent (proxies and clients
/// give up on idle connections; a provider may think for a long time before its first token).
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// The stop request stays this long (a stop for an answer that already ended expires).
const STOP_TTL_SECS: i64 = 300;

/// What the pipeline sends, in order: one `Started`, then `Delta`s and `KeepAlive`s, at most
/// one `Error`, and one `Finished` (unless the answer could not be billed at all).
#[derive(Clone, Debug)]
pub enum AnswerEvent {
    Started(Box<Started>),
    Delta(String),
    /// Nothing was sent for [`KEEP_ALIVE`]: the transport sends a comment.
    KeepAlive,
    /// The provider failed (the partial answer is still saved and billed), or saving failed.
    Error(String),
    Finished(Box<Finished>),
}

#[derive(Clone, Debug)]
pub struct Started {
    pub answer_id: String,
    /// Set when the answer is saved to a conversation: the conversation and the question.
    pub conversation_id: Option<String>,
    pub question_id: Option<String>,
    pub model: String,
    pub context: ContextRecord,
}

#[derive(Clone, Debug)]
pub struct Finished {
    pub answer_id: String,
    /// `stop`, `length`, `stopped` (by the user or a departed client), `error`, …
    pub finish_reason: String,
    pub text: String,
    pub citations: Vec<Citation>,
    pub usage: TokenUsage,
    pub cost: MessageCost,
    /// The stored answer and its conversation, when saved to one.
    pub saved: Option<(Box<Message>, Box<Conversation>)>,
}

/// Where the answer goes besides the usage ledger.
#[derive(Clone, Debug)]
pub enum Destination {
    /// Appended to the conversation after the question (the web chat).
    Conversation {
        conversation: Box<Conversation>,
        question: Box<Message>,
    },
    /// Nowhere (the stateless OpenAI-compatible API): only usage is recorded.
    UsageOnly,
}

/// One answer to produce.
pub struct AnswerJob {
    /// The answer's message id, known before it starts (its in-flight marker names it).
    pub answer_id: String,
    /// When it was asked for: a stop requested since then is for this answer.
    pub asked_at: String,
    pub user_id: UserId,
    pub profile_id: Option<String>,
    pub spec: ModelSpec,
    pub assembled: Assembled,
    pub temperature: Option<f32>,
    pub max_output_tokens: Option<u32>,
    pub destination: Destination,
    /// The request's `Idempotency-Key` claim: completed with the answer's outcome, so that a
    /// retry replays it instead of answering (and billing) again.
    pub once: Option<Claim>,
}

/// A request's `Idempotency-Key` and the fingerprint of what it asks.
#[derive(Clone, Debug)]
pub struct Once {
    pub key: String,
    pub fingerprint: String,
}

/// What an idempotent answer left for a retry: a saved answer is read back from its
/// conversation; a stateless one (the OpenAI-compatible API) is kept whole in the record.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Outcome {
    Saved {
        conversation_id: String,
        answer_id: String,
    },
    Completed {
        answer_id: String,
        model: String,
        finish_reason: String,
        text: String,
        error: Option<String>,
        citations: Vec<Citation>,
        usage: TokenUsage,
        cost: MessageCost,
        context: Box<ContextRecord>,
    },
}

/// How an answer request begins: fresh (holding the key's claim, when it has a key), or as the
/// replay of the answer an earlier request with the same key produced.
pub enum Begin {
    Fresh(Option<Claim>),
    Replay(mpsc::Receiver<AnswerEvent>),
}

/// Who asks for an answer, as the guard sees it before the provider is called.
pub struct Admission<'a> {
    pub user_id: UserId,
    pub profile_id: Option<&'a str>,
    pub model: &'a str,
    /// The most the answer can cost: its whole assembled prompt plus the most output it may
    /// produce, at the model's prices (0 when the model has no known price).
    pub worst_case_usd: f64,
    /// False when the model has no known price (`worst_case_usd` is then not a bound).
    pub priced: bool,
}

/// What a guard holds for an admitted answer until it is settled or abandoned.
#[derive(Debug, Default)]
pub struct Hold {
    /// Money reserved against the operator's quota.
    pub reservation: Option<ragenie_common::accounts::limits::Reservation>,
    /// The concurrent-answer slot taken.
    pub slot: Option<ragenie_common::accounts::limits::Slot>,
}

/// Proof that the guard admitted an answer, carrying what it holds; [`AnswerPipeline::start`]
/// takes it (so no answer skips admission) and hands it to the guard's settle.
#[derive(Debug)]
pub struct Admitted(Hold);

impl Admitted {
    /// What the guard holds for the answer.
    pub fn hold(&self) -> &Hold {
        &self.0
    }
}

/// What an answer cost, as the guard settles it.
pub struct Bill<'a> {
    /// The answer billed: recording its usage twice is refused, so a retried record is safe.
    pub answer_id: &'a str,
    pub user_id: UserId,
    pub profile_id: Option<&'a str>,
    pub model: &'a str,
    pub usage: &'a TokenUsage,
    pub cost: &'a MessageCost,
    /// False when the model has no known price: `cost` is then zero but not free.
    pub priced: bool,
}

/// Everything enforced once per answer: before (may refuse) and after (the bill).
#[async_trait]
pub trait AnswerGuard: Send + Sync {
    async fn admit(&self, admission: &Admission<'_>) -> ConversationResult<Hold>;
    /// Called once per answer that reached the provider, whatever became of the client
    /// (completed, stopped, failed or disconnected), with what `admit` held.
    async fn settle(&self, bill: &Bill<'_>, hold: Hold);
    /// An admitted answer that never started (saving the question failed): give back what
    /// `admit` held.
    async fn release(&self, _hold: Hold) {}
}

/// Monthly budgets refuse new answers once spent; every bill goes to the usage ledger.
pub struct LedgerGuard(pub UsageLedger);

#[async_trait]
impl AnswerGuard for LedgerGuard {
    async fn admit(&self, a: &Admission<'_>) -> ConversationResult<Hold> {
        self.0.check_budget(a.user_id, a.profile_id).await?;
        Ok(Hold::default())
    }

    async fn settle(&self, bill: &Bill<'_>, _hold: Hold) {
        if let Err(e) = self
            .0
            .record(
                bill.answer_id,
                bill.user_id,
                bill.profile_id,
                bill.model,
                bill.usage,
                bill.cost,
            )
            .await
        {
            tracing::error!(error = %e, model = bill.model, "could not record usage");
        }
    }
}

#[derive(Clone)]
pub struct AnswerPipeline {
    gateway: Arc<Gateway>,
    store: ConversationStore,
    table: Arc<dyn Table>,
    guard: Arc<dyn AnswerGuard>,
    idempotency: Idempotency,
}

impl AnswerPipeline {
    pub fn new(gateway: Arc<Gateway>, table: Arc<dyn Table>, guard: Arc<dyn AnswerGuard>) -> Self {
        Self {
            gateway,
            store: ConversationStore::new(table.clone()),
            idempotency: Idempotency::new(table.clone()),
            table,
            guard,
        }
    }

    /// Claims the request's key for `operation`, or replays what the earlier request with it
    /// answered (nothing is admitted, asked or billed again).
    pub async fn begin(
        &self,
        user_id: UserId,
        operation: &str,
        once: Option<&Once>,
    ) -> ConversationResult<Begin> {
        let Some(once) = once else {
            return Ok(Begin::Fresh(None));
        };
        match self
            .idempotency
            .claim(user_id, operation, &once.key, &once.fingerprint)
            .await?
        {
            Claimed::Fresh(claim) => Ok(Begin::Fresh(Some(claim))),
            Claimed::Done(outcome) => Ok(Begin::Replay(self.replay(user_id, outcome).await?)),
        }
    }

    /// Gives the key back when the request failed before its answer started.
    pub async fn give_back(&self, claim: Option<Claim>) {
        if let Some(claim) = claim {
            self.idempotency.release(&claim).await;
        }
    }

    /// The stored answer as the events the original stream sent: `Started`, its text as one
    /// `Delta`, its error, `Finished`.
    async fn replay(
        &self,
        user_id: UserId,
        outcome: serde_json::Value,
    ) -> ConversationResult<mpsc::Receiver<AnswerEvent>> {
        let outcome: Outcome = serde_json::from_value(outcome)
            .map_err(|e| anyhow::anyhow!("an unreadable idempotency record: {e}"))?;
        let events = match outcome {
            Outcome::Saved {
                conversation_id,
                answer_id,
            } => {
                let conversation = self.store.get(user_id, &conversation_id).await?;
                let answer = self
                    .store
                    .messages(user_id, &conversation_id)
                    .await?
                    .into_iter()
                    .find(|m| m.id == answer_id)
                    .ok_or(ConversationError::NotFound("message"))?;
                let started = Started {
                    answer_id: answer.id.clone(),
                    conversation_id: Some(conversation_id),
                    question_id: answer.parent_id.clone(),
                    model: answer.model.clone().unwrap_or_default(),
                    context: answer.context.clone().unwrap_or_default(),
                };
                let finished = Finished {
                    answer_id: answer.id.clone(),
                    finish_reason: answer.finish_reason.clone().unwrap_or_default(),
                    text: answer.content.clone(),
                    citations: answer.citations.clone(),
                    usage: answer.usage.unwrap_or_default(),
                    cost: answer.cost.clone().unwrap_or_default(),
                    saved: None,
                };
                let error = answer.error.clone();
                replayed(
                    started,
                    error,
                    Finished {
                        saved: Some((Box::new(answer), Box::new(conversation))),
                        ..finished
                    },
                )
            }
            Outcome::Completed {
                answer_id,
                model,
                finish_reason,
                text,
                error,
                citations,
                usage,
                cost,
                context,
            } => replayed(
                Started {
                    answer_id: answer_id.clone(),
                    conversation_id: None,
                    question_id: None,
                    model,
                    context: *context,
                },
                error,
                Finished {
                    answer_id,
                    finish_reason,
                    text,
                    citations,
                    usage,
                    cost,
                    saved: None,
                },
            ),
        };
        let (tx, rx) = mpsc::channel(events.len());
        for event in events {
            // The channel holds them all; the receiver is still here.
            let _ = tx.try_send(event);
        }
        Ok(rx)
    }

    /// Records an idempotent answer's outcome for retries (a saved answer by its ids); an
    /// answer that could not be saved gives the key back.
    async fn settle_once(&self, claim: &Claim, outcome: Option<Outcome>) {
        let Some(outcome) = outcome else {
            self.idempotency.release(claim).await;
            return;
        };
        let recorded = match serde_json::to_value(&outcome) {
            Ok(value) => self
                .idempotency
                .complete(claim, value)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not record an idempotent answer");
        }
    }

    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    pub(crate) fn table(&self) -> &Arc<dyn Table> {
        &self.table
    }

    pub(crate) fn store(&self) -> &ConversationStore {
        &self.store
    }

    /// Gives back what the guard held for an answer that will not be billed.
    pub(crate) async fn release(&self, hold: Hold) {
        self.guard.release(hold).await;
    }

    /// The one place an answer may be refused before the provider is asked.
    pub async fn admit(&self, admission: &Admission<'_>) -> ConversationResult<Admitted> {
        Ok(Admitted(self.guard.admit(admission).await?))
    }

    /// An admitted answer that will not be started: the guard gives back what it held.
    pub async fn abandon(&self, admitted: Admitted) {
        self.guard.release(admitted.0).await;
    }

    /// Starts answering on a task of its own: the answer is saved and billed whatever becomes
    /// of the receiver (a client that leaves stops the provider and is billed what was used).
    pub fn start(&self, job: AnswerJob, admitted: Admitted) -> mpsc::Receiver<AnswerEvent> {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(self.clone().run(job, admitted.0, tx));
        rx
    }

    /// Asks the streaming answer under `key` (a conversation id, or an answer id) to stop; the
    /// streaming loop sees it within [`STOP_POLL`].
    pub async fn request_stop(&self, user_id: UserId, key: &str) -> ConversationResult<()> {
        let expires = ragenie_common::clock::unix_now() + STOP_TTL_SECS;
        let item = Item::new(keys::user_pk(user_id), keys::stop_sk(key))
            .with("requested_at", now_stamp())
            .expires_at(expires);
        self.table.put(item, Condition::None).await?;
        Ok(())
    }

    async fn stop_requested(&self, user_id: UserId, key: &str) -> bool {
        self.stop_request(user_id, key).await.is_some()
    }

    /// When the pending stop request under `key` was made, if there is one.
    async fn stop_request(&self, user_id: UserId, key: &str) -> Option<String> {
        match self
            .table
            .get(&keys::user_pk(user_id), &keys::stop_sk(key))
            .await
        {
            Ok(Some(item)) => Some(item.str("requested_at").unwrap_or_default().to_owned()),
            _ => None,
        }
    }

    async fn clear_stop(&self, user_id: UserId, key: &str) {
        let _ = self
            .table
            .delete(
                &keys::user_pk(user_id),
                &keys::stop_sk(key),
                Condition::None,
            )
            .await;
    }

    async fn run(self, job: AnswerJob, hold: Hold, tx: mpsc::Sender<AnswerEvent>) {
        let answer_id = job.answer_id.clone();
        let (conversation_id, question_id) = match &job.destination {
            Destination::Conversation {
                conversation,
                question,
            } => (Some(conversation.id.clone()), Some(question.id.clone())),
            Destination::UsageOnly => (None, None),
        };
        // A conversation's stop flag outlives an answer; a stateless answer's is its own id.
        let stop_key = conversation_id.clone().unwrap_or_else(|| answer_id.clone());
        // A stale stop request (for an earlier answer) must not cut the new answer short; one
        // made since this answer was asked for is for it, and the first poll sees it (checked
        // first: a read is far cheaper than a write, and there is rarely anything to delete).
        if conversation_id.is_some()
            && let Some(at) = self.stop_request(job.user_id, &stop_key).await
            && at < job.asked_at
        {
            self.clear_stop(job.user_id, &stop_key).await;
        }
        let mut out = Outbox { tx, gone: false };
        out.send(AnswerEvent::Started(Box::new(Started {
            answer_id: answer_id.clone(),
            conversation_id,
            question_id,
            model: job.spec.id.clone(),
            context: job.assembled.record.clone(),
        })))
        .await;

        let request = provider_request(&job);
        let offline = job.spec.id == RETRIEVAL_ONLY_MODEL;
        let stream = if offline {
            offline_stream(retrieval_only_answer(&job.assembled.sources))
        } else {
            connecting(self.gateway.clone(), job.spec.clone(), request.clone())
        };
        let streamed = self.stream(stream, &mut out, job.user_id, &stop_key).await;

        let (usage, cost) = bill(&job.spec, &request, &streamed, offline);
        let citations = cited(&streamed.text, &job.assembled.sources);
        if let Some(message) = &streamed.error {
            out.send(AnswerEvent::Error(message.clone())).await;
        }
        let saved = match &job.destination {
            Destination::Conversation {
                conversation,
                question,
            } => {
                let message = Message {
                    id: answer_id.clone(),
                    conversation_id: conversation.id.clone(),
                    parent_id: Some(question.id.clone()),
                    role: MessageRole::Assistant,
                    content: streamed.text.clone(),
                    created_at: now_stamp(),
                    model: Some(job.spec.id.clone()),
                    finish_reason: Some(streamed.finish.clone()),
                    error: streamed.error.clone(),
                    usage: Some(usage),
                    cost: Some(cost.clone()),
                    context: Some(job.assembled.record.clone()),
                    citations: citations.clone(),
                    tokens: None,
                    attachments: Vec::new(),
                };
                match self.save(job.user_id, &conversation.id, &message).await {
                    Ok(conv) => Some((Box::new(message), Box::new(conv))),
                    Err(e) => {
                        tracing::error!(error = %e, conversation = %conversation.id, "could not save the answer");
                        // Nothing will save it later: the marker goes (best effort).
                        let _ = self
                            .table
                            .transact(vec![inflight::done(
                                job.user_id,
                                &conversation.id,
                                &answer_id,
                            )])
                            .await;
                        out.send(AnswerEvent::Error("the answer could not be saved".into()))
                            .await;
                        None
                    }
                }
            }
            Destination::UsageOnly => None,
        };
        self.guard
            .settle(
                &Bill {
                    answer_id: &answer_id,
                    user_id: job.user_id,
                    profile_id: job.profile_id.as_deref(),
                    model: &job.spec.id,
                    usage: &usage,
                    cost: &cost,
                    priced: offline
                        || ragenie_gateway::Cost::estimate(&job.spec, &Usage::default()).priced,
                },
                hold,
            )
            .await;
        if streamed.finish == "stopped" {
            self.clear_stop(job.user_id, &stop_key).await;
        }
        if let Some(claim) = &job.once {
            // Before `Finished`: a client that saw the end and retries gets the replay.
            let outcome = match (&job.destination, &saved) {
                (Destination::Conversation { conversation, .. }, Some(_)) => Some(Outcome::Saved {
                    conversation_id: conversation.id.clone(),
                    answer_id: answer_id.clone(),
                }),
                (Destination::Conversation { .. }, None) => None,
                (Destination::UsageOnly, _) => Some(Outcome::Completed {
                    answer_id: answer_id.clone(),
                    model: job.spec.id.clone(),
                    finish_reason: streamed.finish.clone(),
                    text: streamed.text.clone(),
                    error: streamed.error.clone(),
                    citations: citations.clone(),
                    usage,
                    cost: cost.clone(),
                    context: Box::new(job.assembled.record.clone()),
                }),
            };
            self.settle_once(claim, outcome).await;
        }
        tracing::info!(model = %job.spec.id, finish = %streamed.finish, input = usage.input, output = usage.output,
            cache_read = usage.cache_read, cache_write = usage.cache_write, cost_usd = cost.total_usd, estimated = cost.estimated, "answer billed");
        out.send(AnswerEvent::Finished(Box::new(Finished {
            answer_id,
            finish_reason: streamed.finish,
            text: streamed.text,
            citations,
            usage,
            cost,
            saved,
        })))
        .await;
    }

    /// Relays the provider's text until it ends, the client leaves or a stop is requested;
    /// keep-alives fill silences, including the wait for the first token.
    async fn stream(
        &self,
        mut stream: LlmStream,
        out: &mut Outbox,
        user_id: UserId,
        stop_key: &str,
    ) -> Streamed {
        let mut s = Streamed::default();
        let mut finish: Option<String> = None;
        let mut poll = interval(STOP_POLL);
        poll.tick().await;
        let mut beat = interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
        let interrupted = inflight::interrupted();
        tokio::pin!(interrupted);
        loop {
            if out.gone {
                finish = Some("stopped".into());
                break;
            }
            tokio::select! {
                event = stream.next() => match event {
                    Some(LlmEvent::TextDelta(delta)) => {
                        s.started = true;
                        s.text.push_str(&delta);
                        out.send(AnswerEvent::Delta(delta)).await;
                        beat.reset();
                    }
                    Some(LlmEvent::Usage(u)) => s.usage = Some(u),
                    Some(LlmEvent::Finish { reason }) => finish = Some(reason.as_str().to_owned()),
                    Some(LlmEvent::Error(e)) => {
                        // The provider's own text stays in the logs; the user sees the kind of failure.
                        tracing::warn!(error = %e, "model provider failed");
                        s.error = Some(e.user_message());
                        finish = Some("error".into());
                    }
                    Some(LlmEvent::Start { .. }) => s.started = true,
                    None => break,
                },
                _ = beat.tick() => out.send(AnswerEvent::KeepAlive).await,
                _ = poll.tick() => {
                    if self.stop_requested(user_id, stop_key).await {
                        finish = Some("stopped".into());
                        break;
                    }
                }
                _ = out.tx.closed() => out.gone = true,
                () = &mut interrupted => {
                    s.error = Some(inflight::INTERRUPTED_BY_SHUTDOWN.into());
                    finish = Some(inflight::INTERRUPTED.into());
                    break;
                }
            }
        }
        // Dropping the stream here closes the provider connection: generation stops.
        drop(stream);
        s.finish = finish.unwrap_or_else(|| {
            if s.error.is_some() {
                "error".into()
            } else {
                "stop".into()
            }
        });
        s
    }

    /// Appends the answer to the conversation as it is now (it may have changed meanwhile),
    /// trying again when the store fails for a moment: nobody will send this answer again.
    async fn save(
        &self,
        user_id: UserId,
        conv_id: &str,
        message: &Message,
    ) -> ConversationResult<Conversation> {
        let current =
            ragenie_common::storage::retry_transient(|| self.store.get_raw(user_id, conv_id))
                .await?
                .ok_or(ConversationError::NotFound("conversation"))?;
        let done = inflight::done(user_id, conv_id, &message.id);
        self.store
            .append(user_id, &current, message, None, vec![done])
            .await
    }
}

/// The events' sender; remembers when the client has gone.
struct Outbox {
    tx: mpsc::Sender<AnswerEvent>,
    gone: bool,
}

impl Outbox {
    async fn send(&mut self, event: AnswerEvent) {
        if !self.gone && self.tx.send(event).await.is_err() {
            self.gone = true;
        }
    }
}

/// A stored answer's events, in the order the pipeline sends them.
fn replayed(started: Started, error: Option<String>, finished: Finished) -> Vec<AnswerEvent> {
    let mut events = vec![AnswerEvent::Started(Box::new(started))];
    if !finished.text.is_empty() {
        events.push(AnswerEvent::Delta(finished.text.clone()));
    }
    events.extend(error.map(AnswerEvent::Error));
    events.push(AnswerEvent::Finished(Box::new(finished)));
    events
}

/// What came back from the provider.
#[derive(Default)]
struct Streamed {
    /// The provider accepted the request (a refusal before it started costs nothing).
    started: bool,
    text: String,
    usage: Option<Usage>,
    finish: String,
    error: Option<String>,
}

/// The provider request for a job: the assembled context, the profile's settings, and the
/// prompt-cache hint when there are instructions to cache.
pub fn provider_request(job: &AnswerJob) -> ChatRequest {
    let a = &job.assembled;
    let mut request = ChatRequest::new(job.spec.id.clone(), a.messages.clone());
    request.system = a.system.clone();
    request.temperature = job.temperature;
    request.max_output_tokens = job.max_output_tokens;
    request.supports_system_role = job.spec.supports_system_role;
    // The instructions and sources repeat on every turn of a conversation: let providers that
    // support it cache them (Anthropic prompt caching; others ignore the hint).
    if !a.messages.is_empty() && a.system.is_some() {
        request = request.with_cached_system();
    }
    request
}

/// The provider's stream, connected lazily so that the wait for the first byte is watched
/// like the rest (keep-alives, stop, departure); a refusal becomes the stream's error event.
fn connecting(gateway: Arc<Gateway>, spec: ModelSpec, request: ChatRequest) -> LlmStream {
    Box::pin(
        futures::stream::once(async move {
            match gateway.stream_model(&spec, &request).await {
                Ok(stream) => stream,
                Err(e) => Box::pin(futures::stream::iter([LlmEvent::Error(e)])) as LlmStream,
            }
        })
        .flatten(),
    )
}

/// The bill: the provider's reported usage priced by the catalog (cache reads and writes at
/// their own prices, counted in the input), or, when the provider reported none (a client that
/// left, a stop, a cut connection), the tokenizer's count of what was sent and received,
/// marked as an estimate. The offline model, and a request the provider refused before it
/// started, cost nothing.
fn bill(
    spec: &ModelSpec,
    request: &ChatRequest,
    streamed: &Streamed,
    offline: bool,
) -> (TokenUsage, MessageCost) {
    if offline || (!streamed.started && streamed.usage.is_none()) {
        return (TokenUsage::default(), MessageCost::default());
    }
    let answer = ragenie_gateway::Answer {
        text: streamed.text.clone(),
        usage: streamed.usage,
        ..Default::default()
    };
    let (u, c) = Gateway::bill(spec, request, &answer);
    (
        TokenUsage {
            input: u.input,
            output: u.output,
            cache_read: u.cache_read,
            cache_write: u.cache_write,
        },
        MessageCost {
            total_usd: c.total_usd,
            input_usd: c.input_usd + c.cache_read_usd + c.cache_write_usd,
            output_usd: c.output_usd,
            estimated: c.estimated,
            unpriced: !c.priced,
        },
    )
}

/// The offline answer: the best passages, quoted with their citations.
fn retrieval_only_answer(sources: &[Source]) -> String {
    if sources.is_empty() {
        return "RaGenie is in offline mode (no language model is configured), and this profile has no documents that match. \
                Add a provider key to get written answers, or add datasets to the profile."
            .to_owned();
    }
    let mut out = String::from(
        "RaGenie is in offline mode (no language model is configured). These passages of your documents match best:\n\n",
    );
    for Source { citation: s, text } in sources.iter().take(5) {
        let heading = s.heading_trail();
        let excerpt: String = text.chars().take(400).collect();
        let more = if text.chars().count() > 400 {
            "…"
        } else {
            ""
        };
        out.push_str(&format!(
            "**{}{heading}** [{}]\n\n> {}{more}\n\n",
            s.document_name,
            s.n,
            excerpt.trim().replace('\n', "\n> ")
        ));
    }
    out.trim_end().to_owned()
}

fn offline_stream(text: String) -> LlmStream {
    let mut events = vec![LlmEvent::Start {
        model: RETRIEVAL_ONLY_MODEL.into(),
        request_id: None,
    }];
    let mut piece = String::new();
    for word in text.split_inclusive(' ') {
        piece.push_str(word);
        if piece.len() > 24 {
            events.push(LlmEvent::TextDelta(std::mem::take(&mut piece)));
        }
    }
    if !piece.is_empty() {
        events.push(LlmEvent::TextDelta(piece));
    }
    events.push(LlmEvent::Usage(Usage::default()));
    events.push(LlmEvent::Finish {
        reason: FinishReason::Stop,
    });
    Box::pin(futures::stream::iter(events))
}
