//! The chat service: what the web chat and the OpenAI-compatible API ask for, turned into
//! answer jobs for the one pipeline. Sending stores what the user typed first (it is never
//! lost), regenerating answers the same question again, the estimate counts tokens by source
//! before sending. Every model choice goes through [`ModelChoice`].

use std::sync::Arc;

use ragenie_common::accounts::UserId;
use ragenie_common::accounts::operator::OperatorDefaults;
use ragenie_common::accounts::profiles::ProfileChain;
use ragenie_common::idempotency::Claim;
use ragenie_common::storage::{Condition, Table};
use ragenie_corpus::Corpus;
use ragenie_gateway::{Cost, Gateway, ModelSpec, Usage};
use serde::Serialize;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::answer::{
    Admission, Admitted, AnswerEvent, AnswerGuard, AnswerJob, AnswerPipeline, Begin, Destination,
    Once,
};
use crate::context::{ContextInputs, WithoutProfile, assemble, reserved_output};
use crate::error::{ConversationError, ConversationResult};
use crate::inflight::InFlight;
use crate::limits::OperatorGuard;
use crate::model::{Attachment, ContextRecord, Conversation, Message, MessageRole};
use crate::models::{ModelChoice, RETRIEVAL_ONLY_MODEL, requested_model};
use crate::profiles::{preferences_of, scoped_profile_opt};
use crate::registry::ModelRegistry;
use crate::store::{
    ConversationStore, DEFAULT_TITLE, branch_to, new_message_id, now_stamp, title_from,
};

pub const MAX_MESSAGE_CHARS: usize = 100_000;
/// Documents one message may attach.
pub const MAX_ATTACHMENTS: usize = 20;

/// What to answer: a new user message (possibly on a new branch) or a regenerated answer.
#[derive(Clone, Debug)]
pub enum Turn {
    Send {
        content: String,
        parent_id: Option<String>,
        /// Ids of the caller's documents to attach (at most [`MAX_ATTACHMENTS`], ready).
        attachments: Vec<String>,
    },
    Regenerate {
        message_id: String,
    },
}

/// Tokens by source before sending, with the estimated cost.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Estimate {
    pub model: String,
    pub context_window: u32,
    pub reserved_output_tokens: u64,
    pub context: ContextRecord,
    pub total_input_tokens: u64,
    pub estimated_cost_usd: f64,
    /// Prices are known for this model.
    pub priced: bool,
}

/// What an estimate is for: the message being typed, where it would go.
#[derive(Clone, Debug, Default)]
pub struct EstimateAsk<'a> {
    pub conversation_id: Option<&'a str>,
    pub profile_id: Option<&'a str>,
    pub model: Option<String>,
    pub content: &'a str,
    pub parent_id: Option<&'a str>,
    /// Documents the message would attach.
    pub attachments: &'a [String],
}

/// A stateless completion (the OpenAI-compatible API), in domain terms.
#[derive(Clone, Debug, Default)]
pub struct Completion {
    /// The model the client named (blank: the rule's default).
    pub model: Option<String>,
    pub profile_id: Option<String>,
    /// The client's own instructions (system messages), added after the profile's.
    pub instructions: String,
    /// Earlier turns, oldest first.
    pub history: Vec<(MessageRole, String)>,
    pub prompt: String,
    pub temperature: Option<f32>,
    pub max_output_tokens: Option<u32>,
}

pub struct ChatService {
    pub store: ConversationStore,
    pub corpus: Arc<Corpus>,
    pub gateway: Arc<Gateway>,
    /// The models users may pick, with admins' rules and allow-lists.
    pub models: ModelRegistry,
    pub pipeline: AnswerPipeline,
    table: Arc<dyn Table>,
}

fn check_content(content: &str) -> ConversationResult<()> {
    if content.trim().is_empty() {
        return Err(ConversationError::invalid("content", "say something"));
    }
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ConversationError::invalid(
            "content",
            format!("at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// What an answer is made of besides the model: who asks, with which profile, what came
/// before and the question.
struct Ask<'a> {
    user_id: UserId,
    profile_id: Option<String>,
    chain: Option<&'a ProfileChain>,
    history: &'a [Message],
    prompt: &'a str,
    /// The client's own instructions (the OpenAI-compatible API's system messages).
    instructions: Option<&'a str>,
    /// Documents attached to the question.
    attachments: &'a [String],
    temperature: Option<f32>,
    max_output_tokens: Option<u32>,
}

impl ChatService {
    /// The attachments as stored on the question: each one of the caller's ready documents,
    /// listed once; 422 naming the entry otherwise. Read from the cached catalog.
    pub async fn check_attachments(
        &self,
        user_id: UserId,
        ids: &[String],
    ) -> ConversationResult<Vec<Attachment>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_ATTACHMENTS {
            return Err(ConversationError::invalid(
                "attachments",
                format!("at most {MAX_ATTACHMENTS} documents"),
            ));
        }
        let catalog = self.corpus.catalog(user_id).await?;
        let mut out: Vec<Attachment> = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let field = format!("attachments[{i}]");
            let doc = catalog
                .get(id)
                .ok_or_else(|| ConversationError::invalid(field.clone(), "no such document"))?;
            if doc.status != ragenie_corpus::DocumentStatus::Ready {
                return Err(ConversationError::invalid(
                    field,
                    format!("the document is {}", doc.status.as_str()),
                ));
            }
            if out.iter().any(|a| a.document_id == *id) {
                return Err(ConversationError::invalid(field, "is listed twice"));
            }
            out.push(Attachment {
                document_id: id.clone(),
                name: doc.name.clone(),
            });
        }
        Ok(out)
    }

    /// The service with the default guard: the operator's limits (`operator`: what
    /// configuration says until an admin changes it), the user's budgets and the usage ledger.
    pub fn new(
        table: Arc<dyn Table>,
        corpus: Arc<Corpus>,
        gateway: Arc<Gateway>,
        operator: OperatorDefaults,
    ) -> Self {
        let guard = Arc::new(OperatorGuard::new(table.clone(), operator));
        Self::with_guard(table, corpus, gateway, guard)
    }

    pub fn with_guard(
        table: Arc<dyn Table>,
        corpus: Arc<Corpus>,
        gateway: Arc<Gateway>,
        guard: Arc<dyn AnswerGuard>,
    ) -> Self {
        Self {
            store: ConversationStore::new(table.clone()),
            pipeline: AnswerPipeline::new(gateway.clone(), table.clone(), guard),
            models: ModelRegistry::new(table.clone(), gateway.clone()),
            corpus,
            gateway,
            table,
        }
    }

    /// The model that answers by the rule, with what is known here.
    async fn choose(
        &self,
        user_id: UserId,
        explicit: Option<String>,
        conversation: Option<&Conversation>,
        chain: Option<&ProfileChain>,
    ) -> ConversationResult<ModelSpec> {
        let explicit = requested_model(explicit)?;
        let prefs = preferences_of(self.table.as_ref(), user_id).await?;
        let named = ModelChoice {
            explicit: explicit.as_deref(),
            conversation: conversation.map(|c| c.model.as_str()),
            profile: chain.and_then(|c| c.profile.default_model.as_deref()),
            preferences: prefs.default_model.as_deref(),
        }
        .named()
        .map(str::to_owned);
        let model = match named {
            Some(m) => m,
            None => ModelRegistry::default_of(&self.models.for_user(user_id).await?),
        };
        self.models.spec(user_id, &model).await
    }

    /// Asks the guard, once the answer's worst case is known: the whole assembled prompt plus
    /// the most output it may produce, at the model's prices.
    async fn admit(&self, job: &AnswerJob) -> ConversationResult<Admitted> {
        let r = &job.assembled.record;
        let counted =
            r.instructions_tokens + r.datasets_tokens + r.history_tokens + r.prompt_tokens;
        // The tokenizer's count is an estimate and the request adds framing: a margin keeps
        // the reservation above what the provider will bill.
        let input = counted + counted / 10 + 64;
        let worst = Cost::estimate(
            &job.spec,
            &Usage {
                input,
                output: reserved_output(&job.spec, job.max_output_tokens),
                ..Usage::default()
            },
        );
        self.pipeline
            .admit(&Admission {
                user_id: job.user_id,
                profile_id: job.profile_id.as_deref(),
                model: &job.spec.id,
                worst_case_usd: worst.total_usd,
                priced: worst.priced || job.spec.id == RETRIEVAL_ONLY_MODEL,
            })
            .await
    }

    /// Token counts by source and the estimated cost of sending `content` now.
    pub async fn estimate(
        &self,
        user_id: UserId,
        ask: EstimateAsk<'_>,
    ) -> ConversationResult<Estimate> {
        let EstimateAsk {
            conversation_id,
            profile_id,
            model,
            content,
            parent_id,
            attachments,
        } = ask;
        if content.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ConversationError::invalid("content", "too long"));
        }
        self.check_attachments(user_id, attachments).await?;
        let (conv, history) = match conversation_id {
            Some(id) => {
                let conv = self.store.get(user_id, id).await?;
                let messages = self.store.messages(user_id, id).await?;
                let leaf = parent_id
                    .map(str::to_owned)
                    .or_else(|| conv.head_id.clone());
                let history = branch_to(&messages, leaf.as_deref());
                (Some(conv), history)
            }
            None => (None, Vec::new()),
        };
        let profile_id = profile_id.or_else(|| conv.as_ref().and_then(|c| c.profile_id.as_deref()));
        let chain =
            scoped_profile_opt(self.table.as_ref(), user_id, profile_id, "profile_id").await?;
        let spec = self
            .choose(user_id, model, conv.as_ref(), chain.as_ref())
            .await?;
        let max_output = chain.as_ref().and_then(|c| c.profile.max_output_tokens);
        let assembled = assemble(
            &self.corpus,
            ContextInputs {
                user_id,
                chain: chain.as_ref(),
                // The estimate is for the web chat's next message.
                without_profile: WithoutProfile::AllDatasets,
                history: &history,
                prompt: content,
                model: &spec,
                max_output_tokens: max_output,
                extra_instructions: None,
                attachments,
            },
        )
        .await?;
        let r = &assembled.record;
        let total = r.instructions_tokens + r.datasets_tokens + r.history_tokens + r.prompt_tokens;
        let cost = Cost::estimate(
            &spec,
            &Usage {
                input: total,
                ..Usage::default()
            },
        );
        Ok(Estimate {
            model: spec.id.clone(),
            context_window: spec.context_window,
            reserved_output_tokens: reserved_output(&spec, max_output),
            context: assembled.record,
            total_input_tokens: total,
            estimated_cost_usd: cost.total_usd,
            priced: cost.priced,
        })
    }

    /// Starts answering in a conversation. Errors before the answer starts (unknown
    /// conversation, spent budget, unusable model) come back as `Err`; after that everything
    /// arrives as events, and the answer is saved and billed whatever becomes of the receiver.
    ///
    /// With `once` (a send's `Idempotency-Key`), a retry of a send whose answer was saved
    /// replays that answer, from the conversation, instead of storing the question again.
    pub async fn start(
        &self,
        user_id: UserId,
        conv_id: &str,
        turn: Turn,
        model: Option<String>,
        once: Option<Once>,
    ) -> ConversationResult<mpsc::Receiver<AnswerEvent>> {
        self.once(user_id, "chat.send", once, |claim| {
            self.start_fresh(user_id, conv_id, turn, model, claim)
        })
        .await
    }

    /// Runs `fresh` holding the key's claim (given back if it fails before the answer starts),
    /// or replays the answer an earlier request with the key produced.
    async fn once<F, Fut>(
        &self,
        user_id: UserId,
        operation: &str,
        once: Option<Once>,
        fresh: F,
    ) -> ConversationResult<mpsc::Receiver<AnswerEvent>>
    where
        F: FnOnce(Option<Claim>) -> Fut,
        Fut: Future<Output = ConversationResult<mpsc::Receiver<AnswerEvent>>>,
    {
        let claim = match self
            .pipeline
            .begin(user_id, operation, once.as_ref())
            .await?
        {
            Begin::Replay(rx) => return Ok(rx),
            Begin::Fresh(claim) => claim,
        };
        match fresh(claim.clone()).await {
            Ok(rx) => Ok(rx),
            Err(e) => {
                self.pipeline.give_back(claim).await;
                Err(e)
            }
        }
    }

    async fn start_fresh(
        &self,
        user_id: UserId,
        conv_id: &str,
        turn: Turn,
        model: Option<String>,
        once: Option<Claim>,
    ) -> ConversationResult<mpsc::Receiver<AnswerEvent>> {
        let conv = self.store.get(user_id, conv_id).await?;
        let messages = self.store.messages(user_id, conv_id).await?;
        let chain = scoped_profile_opt(
            self.table.as_ref(),
            user_id,
            conv.profile_id.as_deref(),
            "profile_id",
        )
        .await?;
        let spec = self
            .choose(user_id, model, Some(&conv), chain.as_ref())
            .await?;

        // The question to answer, and for a new message the title it gives the conversation
        // (stored only once the answer is admitted).
        let (question, history, new_message) = match turn {
            Turn::Send {
                content,
                parent_id,
                attachments,
            } => {
                check_content(&content)?;
                let attachments = self.check_attachments(user_id, &attachments).await?;
                let parent = match parent_id {
                    // An empty parent starts a new branch at the root (editing the first question).
                    Some(p) if p.is_empty() => None,
                    Some(p) => {
                        let found = messages.iter().find(|m| m.id == p).ok_or_else(|| {
                            ConversationError::invalid(
                                "parent_id",
                                "no such message in this conversation",
                            )
                        })?;
                        if found.role != MessageRole::Assistant {
                            return Err(ConversationError::invalid(
                                "parent_id",
                                "a new message follows an answer (or starts the conversation)",
                            ));
                        }
                        Some(p)
                    }
                    None => conv.head_id.clone(),
                };
                let history = branch_to(&messages, parent.as_deref());
                let message = Message {
                    tokens: Some(ragenie_gateway::estimate_tokens(&spec, &content) as u64),
                    id: new_message_id(),
                    conversation_id: conv.id.clone(),
                    parent_id: parent,
                    created_at: now_stamp(),
                    attachments,
                    ..Message::plain(MessageRole::User, content)
                };
                let title = (conv.title == DEFAULT_TITLE && messages.is_empty())
                    .then(|| title_from(&message.content));
                (message, history, Some(title))
            }
            Turn::Regenerate { message_id } => {
                let answer = messages
                    .iter()
                    .find(|m| m.id == message_id)
                    .ok_or(ConversationError::NotFound("message"))?;
                if answer.role != MessageRole::Assistant {
                    return Err(ConversationError::invalid(
                        "message_id",
                        "only answers can be regenerated",
                    ));
                }
                let question_id = answer.parent_id.clone().ok_or_else(|| {
                    ConversationError::invalid("message_id", "this answer has no question")
                })?;
                let question = messages
                    .iter()
                    .find(|m| m.id == question_id)
                    .cloned()
                    .ok_or(ConversationError::NotFound("message"))?;
                let history = branch_to(&messages, question.parent_id.as_deref());
                (question, history, None)
            }
        };

        let attached: Vec<String> = question
            .attachments
            .iter()
            .map(|a| a.document_id.clone())
            .collect();
        let ask = Ask {
            user_id,
            profile_id: conv.profile_id.clone(),
            chain: chain.as_ref(),
            history: &history,
            prompt: &question.content,
            instructions: None,
            attachments: &attached,
            temperature: None,
            max_output_tokens: None,
        };
        let destination = Destination::Conversation {
            conversation: Box::new(conv.clone()),
            question: Box::new(question.clone()),
        };
        let mut job = self.job(ask, spec, destination).await?;
        job.once = once;
        let admitted = self.admit(&job).await?;
        // Marks the answer in flight until it is saved (see `inflight`).
        let marker = InFlight::new(
            user_id,
            &conv.id,
            &question.id,
            &job.answer_id,
            &job.spec.id,
            admitted.hold(),
        );
        let stored = match new_message {
            // Stored once admitted, before the answer starts: what the user typed is never lost.
            Some(title) => match marker.put() {
                Ok(put) => {
                    self.store
                        .append(user_id, &conv, &question, title, vec![put])
                        .await
                }
                Err(e) => Err(e),
            },
            None => match marker.item() {
                Ok(item) => self
                    .table
                    .put(item, Condition::NotExists)
                    .await
                    .map(|()| conv)
                    .map_err(Into::into),
                Err(e) => Err(e),
            },
        };
        let conv = match stored {
            Ok(conv) => conv,
            Err(e) => {
                self.pipeline.abandon(admitted).await;
                return Err(e);
            }
        };
        job.destination = Destination::Conversation {
            conversation: Box::new(conv),
            question: Box::new(question),
        };
        Ok(self.pipeline.start(job, admitted))
    }

    /// Starts a stateless completion grounded in a profile (nothing is stored but usage and,
    /// with `once`, the answer for a retry to replay).
    pub async fn complete(
        &self,
        user_id: UserId,
        completion: Completion,
        once: Option<Once>,
    ) -> ConversationResult<mpsc::Receiver<AnswerEvent>> {
        self.once(user_id, "openai.completion", once, |claim| {
            self.complete_fresh(user_id, completion, claim)
        })
        .await
    }

    async fn complete_fresh(
        &self,
        user_id: UserId,
        completion: Completion,
        once: Option<Claim>,
    ) -> ConversationResult<mpsc::Receiver<AnswerEvent>> {
        check_content(&completion.prompt)?;
        let chain = scoped_profile_opt(
            self.table.as_ref(),
            user_id,
            completion.profile_id.as_deref(),
            "profile",
        )
        .await?;
        let spec = self
            .choose(user_id, completion.model, None, chain.as_ref())
            .await?;
        if spec.id == RETRIEVAL_ONLY_MODEL {
            return Err(ConversationError::invalid(
                "model",
                "the OpenAI-compatible API needs a language model; see GET /v1/models",
            ));
        }
        let history: Vec<Message> = completion
            .history
            .into_iter()
            .map(|(role, content)| Message::plain(role, content))
            .collect();
        let ask = Ask {
            user_id,
            profile_id: completion.profile_id.clone(),
            chain: chain.as_ref(),
            history: &history,
            prompt: &completion.prompt,
            instructions: Some(&completion.instructions),
            attachments: &[],
            temperature: completion.temperature,
            max_output_tokens: completion.max_output_tokens,
        };
        let job = AnswerJob {
            once,
            ..self.job(ask, spec, Destination::UsageOnly).await?
        };
        let admitted = self.admit(&job).await?;
        Ok(self.pipeline.start(job, admitted))
    }

    /// The answer job: the context assembled for the model, the profile's temperature and
    /// output limit unless the request set its own.
    async fn job(
        &self,
        ask: Ask<'_>,
        spec: ModelSpec,
        destination: Destination,
    ) -> ConversationResult<AnswerJob> {
        let max_output = ask
            .max_output_tokens
            .or(ask.chain.and_then(|c| c.profile.max_output_tokens));
        let without_profile = match destination {
            Destination::Conversation { .. } => WithoutProfile::AllDatasets,
            Destination::UsageOnly => WithoutProfile::Nothing,
        };
        let assembled = assemble(
            &self.corpus,
            ContextInputs {
                user_id: ask.user_id,
                chain: ask.chain,
                without_profile,
                history: ask.history,
                prompt: ask.prompt,
                model: &spec,
                max_output_tokens: max_output,
                extra_instructions: ask.instructions,
                attachments: ask.attachments,
            },
        )
        .await?;
        Ok(AnswerJob {
            answer_id: new_message_id(),
            asked_at: now_stamp(),
            user_id: ask.user_id.to_owned(),
            profile_id: ask.profile_id,
            temperature: ask
                .temperature
                .or(ask.chain.map(|c| c.profile.temperature as f32)),
            max_output_tokens: max_output,
            spec,
            assembled,
            destination,
            once: None,
        })
    }

    /// Asks a streaming answer of this conversation to stop (seen within half a second).
    pub async fn request_stop(&self, user_id: UserId, conv_id: &str) -> ConversationResult<()> {
        self.store.get(user_id, conv_id).await?;
        self.pipeline.request_stop(user_id, conv_id).await
    }

    /// Asks a streaming stateless completion (see [`Self::complete`]) to stop, by its answer id
    /// (the `Started` event's); seen within half a second. Nothing records which completions
    /// are running, so any well-formed id is accepted: the flag is under the caller's own key
    /// and expires unread when no answer has that id.
    pub async fn request_completion_stop(
        &self,
        user_id: UserId,
        answer_id: &str,
    ) -> ConversationResult<()> {
        let answer = ulid::Ulid::from_string(answer_id)
            .map_err(|_| ConversationError::NotFound("completion"))?;
        self.pipeline
            .request_stop(user_id, &answer.to_string())
            .await
    }
}
