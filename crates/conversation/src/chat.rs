//! Sending a message: store what the user typed, assemble the context, stream the answer from
//! the model (or the built-in retrieval-only model when offline), and save the answer with its
//! tokens, cost, context record, citations and finish reason — also when the client goes away,
//! the user presses stop or the provider fails mid-answer.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use ragenie_common::ApiError;
use ragenie_common::accounts::profiles::{ProfileChain, resolve_profile_chain};
use ragenie_common::accounts::{ProfileId, UserId};
use ragenie_common::storage::{Condition, Item, Table};
use ragenie_corpus::Corpus;
use ragenie_gateway::{
    ChatRequest, Cost, FinishReason, Gateway, GatewayError, LlmEvent, LlmStream, ModelKind,
    ModelSpec, ProviderKind, Usage,
};
use serde::Serialize;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::context::{Assembled, ContextInputs, Source, assemble, cited};
use crate::keys;
use crate::model::{ContextRecord, Conversation, Message, MessageCost, MessageRole, TokenUsage};
use crate::store::{
    ConversationStore, DEFAULT_TITLE, branch_to, new_message_id, now_stamp, title_from,
};
use crate::usage::UsageLedger;

/// The model that answers from the documents alone, when no provider is configured.
pub const RETRIEVAL_ONLY_MODEL: &str = "ragenie-retrieval-only";
pub const MAX_MESSAGE_CHARS: usize = 100_000;
/// How often a streaming answer checks for an explicit stop request.
const STOP_POLL: Duration = Duration::from_millis(500);

/// What a streamed answer sends, in order: one `Meta`, `Delta`s, one `Usage`, one `Done`
/// (an `Error` may come before `Usage` when the provider fails).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChatEvent {
    Meta {
        conversation_id: String,
        user_message_id: String,
        assistant_message_id: String,
        parent_id: String,
        model: String,
        context: ContextRecord,
    },
    Delta {
        text: String,
    },
    Error {
        message: String,
    },
    Usage {
        usage: TokenUsage,
        cost: MessageCost,
    },
    Done {
        finish_reason: String,
        message: Box<Message>,
        conversation: Box<Conversation>,
    },
}

impl ChatEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ChatEvent::Meta { .. } => "meta",
            ChatEvent::Delta { .. } => "delta",
            ChatEvent::Error { .. } => "error",
            ChatEvent::Usage { .. } => "usage",
            ChatEvent::Done { .. } => "done",
        }
    }
}

/// What to answer: a new user message (possibly on a new branch) or a regenerated answer.
#[derive(Clone, Debug)]
pub enum Turn {
    Send {
        content: String,
        parent_id: Option<String>,
    },
    Regenerate {
        message_id: String,
    },
}

pub struct ChatService {
    pub store: ConversationStore,
    pub corpus: Arc<Corpus>,
    pub gateway: Arc<Gateway>,
    pub usage: UsageLedger,
    table: Arc<dyn Table>,
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

fn retrieval_only_spec() -> ModelSpec {
    let mut spec = ModelSpec::unknown(RETRIEVAL_ONLY_MODEL, ProviderKind::OpenAiCompatible);
    spec.display_name = "Retrieval only (offline)".into();
    spec.context_window = 32_000;
    spec.max_output_tokens = 2_000;
    spec.default_max_tokens = Some(1_000);
    spec
}

/// Maps gateway failures before an answer starts to HTTP problems.
pub fn gateway_error(e: GatewayError) -> ApiError {
    match e {
        GatewayError::UnknownModel(m) => {
            ApiError::validation("model", format!("unknown model `{m}`; see GET /models"))
        }
        GatewayError::MissingKey { provider } => ApiError::validation(
            "model",
            format!("no API key is configured for {provider}; pick another model"),
        ),
        GatewayError::InvalidRequest(m) => ApiError::BadRequest(m),
        other => ApiError::BadGateway(other.to_string()),
    }
}

impl ChatService {
    pub fn new(table: Arc<dyn Table>, corpus: Arc<Corpus>, gateway: Arc<Gateway>) -> Self {
        Self {
            store: ConversationStore::new(table.clone()),
            usage: UsageLedger::new(table.clone()),
            corpus,
            gateway,
            table,
        }
    }

    /// The model to use when none is named: the first available chat model, else offline.
    pub fn default_model(&self) -> String {
        self.gateway
            .models()
            .into_iter()
            .find(|m| m.available && m.model.kind == ModelKind::Chat && m.model.flagship)
            .or_else(|| {
                self.gateway
                    .models()
                    .into_iter()
                    .find(|m| m.available && m.model.kind == ModelKind::Chat)
            })
            .map(|m| m.model.id)
            .unwrap_or_else(|| RETRIEVAL_ONLY_MODEL.to_owned())
    }

    /// The catalog entry of a usable chat model, or a 422 naming the problem.
    pub fn model_spec(&self, model: &str) -> Result<ModelSpec, ApiError> {
        if model == RETRIEVAL_ONLY_MODEL {
            return Ok(retrieval_only_spec());
        }
        let spec = self
            .gateway
            .catalog()
            .get(model)
            .filter(|m| m.kind == ModelKind::Chat)
            .ok_or_else(|| {
                ApiError::validation("model", format!("unknown model `{model}`; see GET /models"))
            })?;
        if !self.gateway.is_available(spec.provider) {
            return Err(ApiError::validation(
                "model",
                format!(
                    "no API key is configured for {}; pick another model",
                    spec.provider
                ),
            ));
        }
        Ok(spec.clone())
    }

    pub async fn profile_chain(
        &self,
        user_id: &str,
        profile_id: Option<&str>,
    ) -> Result<Option<ProfileChain>, ApiError> {
        let Some(profile_id) = profile_id else {
            return Ok(None);
        };
        let user = UserId::parse(user_id)
            .ok_or_else(|| ApiError::Unauthorized("invalid principal".into()))?;
        let profile = ProfileId::parse(profile_id).ok_or_else(|| ApiError::not_found("profile"))?;
        Ok(Some(
            resolve_profile_chain(self.table.as_ref(), user, profile).await?,
        ))
    }

    /// Token counts by source and the estimated cost of sending `content` now.
    pub async fn estimate(
        &self,
        user_id: &str,
        conversation_id: Option<&str>,
        profile_id: Option<&str>,
        model: Option<&str>,
        content: &str,
        parent_id: Option<&str>,
    ) -> Result<Estimate, ApiError> {
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
        let profile_id = profile_id
            .map(str::to_owned)
            .or_else(|| conv.as_ref().and_then(|c| c.profile_id.clone()));
        let model = model
            .map(str::to_owned)
            .or_else(|| {
                conv.as_ref()
                    .map(|c| c.model.clone())
                    .filter(|m| !m.is_empty())
            })
            .unwrap_or_else(|| self.default_model());
        let spec = self.model_spec(&model)?;
        let chain = self.profile_chain(user_id, profile_id.as_deref()).await?;
        let max_output = chain.as_ref().and_then(|c| c.profile.max_output_tokens);
        let assembled = assemble(
            &self.corpus,
            ContextInputs {
                user_id,
                chain: chain.as_ref(),
                history: &history,
                prompt: content,
                model: &spec,
                max_output_tokens: max_output,
                extra_instructions: None,
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
            reserved_output_tokens: crate::context::reserved_output(&spec, max_output),
            context: assembled.record,
            total_input_tokens: total,
            estimated_cost_usd: cost.total_usd,
            priced: cost.priced,
        })
    }

    /// Starts answering. Errors that happen before the answer starts (unknown conversation,
    /// spent budget, unusable model) come back as `Err`; after that everything arrives as
    /// events, and the answer is saved whatever becomes of the receiver.
    pub async fn start(
        &self,
        user_id: &str,
        conv_id: &str,
        turn: Turn,
        model: Option<String>,
    ) -> Result<mpsc::Receiver<ChatEvent>, ApiError> {
        let conv = self.store.get(user_id, conv_id).await?;
        let messages = self.store.messages(user_id, conv_id).await?;
        // An empty conversation model means "the default at send time".
        let model = model
            .or_else(|| Some(conv.model.clone()).filter(|m| !m.is_empty()))
            .unwrap_or_else(|| self.default_model());
        let spec = self.model_spec(&model)?;
        self.usage
            .check_budget(user_id, conv.profile_id.as_deref())
            .await?;
        let chain = self
            .profile_chain(user_id, conv.profile_id.as_deref())
            .await?;

        let (user_message, history, conv) = match turn {
            Turn::Send { content, parent_id } => {
                if content.trim().is_empty() {
                    return Err(ApiError::validation("content", "say something"));
                }
                if content.chars().count() > MAX_MESSAGE_CHARS {
                    return Err(ApiError::validation(
                        "content",
                        format!("at most {MAX_MESSAGE_CHARS} characters"),
                    ));
                }
                let parent = match parent_id {
                    // An empty parent starts a new branch at the root (editing the first question).
                    Some(p) if p.is_empty() => None,
                    Some(p) => {
                        let found = messages.iter().find(|m| m.id == p).ok_or_else(|| {
                            ApiError::validation(
                                "parent_id",
                                "no such message in this conversation",
                            )
                        })?;
                        if found.role != MessageRole::Assistant {
                            return Err(ApiError::validation(
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
                    id: new_message_id(),
                    conversation_id: conv.id.clone(),
                    parent_id: parent,
                    role: MessageRole::User,
                    tokens: Some(ragenie_gateway::estimate_tokens(&spec, &content) as u64),
                    content,
                    created_at: now_stamp(),
                    model: None,
                    finish_reason: None,
                    error: None,
                    usage: None,
                    cost: None,
                    context: None,
                    citations: Vec::new(),
                };
                let title = (conv.title == DEFAULT_TITLE && messages.is_empty())
                    .then(|| title_from(&message.content));
                // Stored before anything else can fail: what the user typed is never lost.
                let conv = self.store.append(user_id, &conv, &message, title).await?;
                (message, history, conv)
            }
            Turn::Regenerate { message_id } => {
                let answer = messages
                    .iter()
                    .find(|m| m.id == message_id)
                    .ok_or_else(|| ApiError::not_found("message"))?;
                if answer.role != MessageRole::Assistant {
                    return Err(ApiError::validation(
                        "message_id",
                        "only answers can be regenerated",
                    ));
                }
                let user_id_of_parent = answer.parent_id.clone().ok_or_else(|| {
                    ApiError::validation("message_id", "this answer has no question")
                })?;
                let question = messages
                    .iter()
                    .find(|m| m.id == user_id_of_parent)
                    .cloned()
                    .ok_or_else(|| ApiError::not_found("message"))?;
                let history = branch_to(&messages, question.parent_id.as_deref());
                (question, history, conv)
            }
        };

        let max_output = chain.as_ref().and_then(|c| c.profile.max_output_tokens);
        let temperature = chain.as_ref().map(|c| c.profile.temperature as f32);
        let assembled = assemble(
            &self.corpus,
            ContextInputs {
                user_id,
                chain: chain.as_ref(),
                history: &history,
                prompt: &user_message.content,
                model: &spec,
                max_output_tokens: max_output,
                extra_instructions: None,
            },
        )
        .await?;

        let (tx, rx) = mpsc::channel(64);
        let job = AnswerJob {
            service: self.clone_handles(),
            user_id: user_id.to_owned(),
            conv: conv.clone(),
            question: user_message,
            spec,
            assembled,
            temperature,
            max_output,
        };
        tokio::spawn(job.run(tx));
        Ok(rx)
    }

    fn clone_handles(&self) -> Handles {
        Handles {
            store: self.store.clone(),
            usage: self.usage.clone(),
            corpus: self.corpus.clone(),
            gateway: self.gateway.clone(),
            table: self.table.clone(),
        }
    }

    /// Asks a streaming answer of this conversation to stop (seen within half a second).
    pub async fn request_stop(&self, user_id: &str, conv_id: &str) -> Result<(), ApiError> {
        self.store.get(user_id, conv_id).await?;
        let expires = ragenie_common::clock::unix_now() + 300;
        let item = Item::new(keys::user_pk(user_id), keys::stop_sk(conv_id))
            .with("requested_at", now_stamp())
            .expires_at(expires);
        self.table.put(item, Condition::None).await?;
        Ok(())
    }
}

#[derive(Clone)]
struct Handles {
    store: ConversationStore,
    usage: UsageLedger,
    #[allow(dead_code)]
    corpus: Arc<Corpus>,
    gateway: Arc<Gateway>,
    table: Arc<dyn Table>,
}

struct AnswerJob {
    service: Handles,
    user_id: String,
    conv: Conversation,
    question: Message,
    spec: ModelSpec,
    assembled: Assembled,
    temperature: Option<f32>,
    max_output: Option<u32>,
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
    for s in sources.iter().take(5) {
        let heading = if s.heading_path.is_empty() {
            String::new()
        } else {
            format!(" › {}", s.heading_path.join(" › "))
        };
        let excerpt: String = s.text.chars().take(400).collect();
        let more = if s.text.chars().count() > 400 {
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

impl AnswerJob {
    async fn stop_requested(&self) -> bool {
        let key = keys::stop_sk(&self.conv.id);
        matches!(
            self.service
                .table
                .get(&keys::user_pk(&self.user_id), &key)
                .await,
            Ok(Some(_))
        )
    }

    async fn run(self, tx: mpsc::Sender<ChatEvent>) {
        let answer_id = new_message_id();
        // A stale stop request must not cut the new answer short (checked first: a read is
        // far cheaper than a write, and there is rarely anything to delete).
        if self.stop_requested().await {
            let _ = self
                .service
                .table
                .delete(
                    &keys::user_pk(&self.user_id),
                    &keys::stop_sk(&self.conv.id),
                    Condition::None,
                )
                .await;
        }
        let meta = ChatEvent::Meta {
            conversation_id: self.conv.id.clone(),
            user_message_id: self.question.id.clone(),
            assistant_message_id: answer_id.clone(),
            parent_id: self.question.id.clone(),
            model: self.spec.id.clone(),
            context: self.assembled.record.clone(),
        };
        let mut client_gone = tx.send(meta).await.is_err();

        let mut request = ChatRequest::new(self.spec.id.clone(), self.assembled.messages.clone());
        request.system = self.assembled.system.clone();
        request.temperature = self.temperature;
        request.max_output_tokens = self.max_output;
        request.supports_system_role = self.spec.supports_system_role;
        // The instructions and sources repeat on every turn of a conversation: let providers
        // that support it cache them (Anthropic prompt caching; others ignore the hint).
        if !self.assembled.messages.is_empty() && self.assembled.system.is_some() {
            request = request.with_cached_system();
        }

        let offline = self.spec.id == RETRIEVAL_ONLY_MODEL;
        let stream = if offline {
            Ok(offline_stream(retrieval_only_answer(
                &self.assembled.sources,
            )))
        } else {
            self.service.gateway.stream(&request).await
        };

        let mut text = String::new();
        let mut usage: Option<Usage> = None;
        let mut finish: Option<String> = None;
        let mut error: Option<String> = None;
        match stream {
            Err(e) => {
                error = Some(e.to_string());
                finish = Some("error".into());
            }
            Ok(mut stream) => {
                let mut poll = tokio::time::interval(STOP_POLL);
                poll.tick().await;
                loop {
                    if client_gone {
                        finish = Some("stopped".into());
                        break;
                    }
                    tokio::select! {
                        event = stream.next() => match event {
                            Some(LlmEvent::TextDelta(delta)) => {
                                text.push_str(&delta);
                                client_gone = tx.send(ChatEvent::Delta { text: delta }).await.is_err();
                            }
                            Some(LlmEvent::Usage(u)) => usage = Some(u),
                            Some(LlmEvent::Finish { reason }) => finish = Some(reason.as_str().to_owned()),
                            Some(LlmEvent::Error(e)) => {
                                error = Some(e.to_string());
                                finish = Some("error".into());
                            }
                            Some(LlmEvent::Start { .. }) => {}
                            None => break,
                        },
                        _ = poll.tick() => {
                            if self.stop_requested().await {
                                finish = Some("stopped".into());
                                break;
                            }
                        }
                        _ = tx.closed() => {
                            client_gone = true;
                        }
                    }
                }
                // Dropping the stream here closes the provider connection: generation stops.
            }
        }
        let finish = finish.unwrap_or_else(|| {
            if error.is_some() {
                "error".into()
            } else {
                "stop".into()
            }
        });
        if let Some(message) = &error {
            let _ = tx
                .send(ChatEvent::Error {
                    message: message.clone(),
                })
                .await;
        }

        let (usage, cost) = self.bill(&request, &text, usage, offline);
        let citations = cited(&text, &self.assembled.sources);
        let message = Message {
            id: answer_id,
            conversation_id: self.conv.id.clone(),
            parent_id: Some(self.question.id.clone()),
            role: MessageRole::Assistant,
            content: text,
            created_at: now_stamp(),
            model: Some(self.spec.id.clone()),
            finish_reason: Some(finish.clone()),
            error,
            usage: Some(usage),
            cost: Some(cost.clone()),
            context: Some(self.assembled.record.clone()),
            citations,
            tokens: None,
        };
        let conv = match self.service.store.get(&self.user_id, &self.conv.id).await {
            Ok(current) => {
                self.service
                    .store
                    .append(&self.user_id, &current, &message, None)
                    .await
            }
            Err(e) => Err(e),
        };
        let conv = match conv {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, conversation = %self.conv.id, "could not save the answer");
                let _ = tx
                    .send(ChatEvent::Error {
                        message: "the answer could not be saved".into(),
                    })
                    .await;
                return;
            }
        };
        if let Err(e) = self
            .service
            .usage
            .record(
                &self.user_id,
                self.conv.profile_id.as_deref(),
                &self.spec.id,
                &usage,
                &cost,
            )
            .await
        {
            tracing::error!(error = %e, "could not record usage");
        }
        if finish == "stopped" {
            let _ = self
                .service
                .table
                .delete(
                    &keys::user_pk(&self.user_id),
                    &keys::stop_sk(&self.conv.id),
                    Condition::None,
                )
                .await;
        }
        tracing::info!(model = %self.spec.id, finish = %finish, input = usage.input, output = usage.output, cost_usd = cost.total_usd, "answer saved");
        let _ = tx.send(ChatEvent::Usage { usage, cost }).await;
        let _ = tx
            .send(ChatEvent::Done {
                finish_reason: finish,
                message: Box::new(message),
                conversation: Box::new(conv),
            })
            .await;
    }

    fn bill(
        &self,
        request: &ChatRequest,
        text: &str,
        usage: Option<Usage>,
        offline: bool,
    ) -> (TokenUsage, MessageCost) {
        if offline {
            return (TokenUsage::default(), MessageCost::default());
        }
        let answer = ragenie_gateway::Answer {
            text: text.to_owned(),
            usage,
            ..Default::default()
        };
        match self.service.gateway.cost(request, &answer) {
            Ok((u, c)) => (
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
                },
            ),
            Err(_) => (
                TokenUsage::default(),
                MessageCost {
                    estimated: true,
                    ..MessageCost::default()
                },
            ),
        }
    }
}
