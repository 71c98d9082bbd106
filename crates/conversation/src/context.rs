//! Context assembly: what goes to the model for one answer, within its window.
//!
//! Instructions always, whole, in profile order (inherited profiles first). Datasets whole when
//! everything fits the window minus the reserved output (as Ragbot did); otherwise the best
//! retrieved chunks. A web chat without a profile draws on all of the user's datasets (and no
//! instructions); the stateless OpenAI-compatible API without one, on nothing. History trimmed oldest first. Every passage sent is a numbered source the
//! answer cites as `[n]`.

use std::collections::{HashMap, HashSet};

use crate::error::{ConversationError, ConversationResult};
use ragenie_common::accounts::UserId;
use ragenie_common::accounts::profiles::ProfileChain;
use ragenie_corpus::{Corpus, Document, DocumentKind, DocumentStatus};
use ragenie_gateway::{ChatMessage, ModelSpec, estimate_tokens};

use crate::model::{Citation, ContextDocument, ContextRecord, Message, MessageRole};

/// Tokens kept free for the prompt's framing (source headers, the citation rule).
const FRAMING_TOKENS: u64 = 400;
/// When retrieving, the share of the free window given to dataset chunks (history gets the rest).
const RETRIEVED_SHARE: f64 = 0.6;
/// Chunks asked of the search when retrieving.
const RETRIEVE_K: usize = 40;

/// A numbered passage the answer may cite: where it comes from, and its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub citation: Citation,
    pub text: String,
}

/// The assembled request content.
#[derive(Clone, Debug)]
pub struct Assembled {
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub record: ContextRecord,
    pub sources: Vec<Source>,
}

/// The output tokens to keep free: the profile's limit, else the model's default, capped.
pub fn reserved_output(model: &ModelSpec, max_output_tokens: Option<u32>) -> u64 {
    let wanted = max_output_tokens
        .or(model.default_max_tokens)
        .unwrap_or(4096);
    u64::from(wanted.min(model.max_output_tokens.max(1)))
}

fn count(model: &ModelSpec, text: &str) -> u64 {
    estimate_tokens(model, text) as u64
}

/// What an answer without a profile draws on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithoutProfile {
    /// Every ready dataset of the user (a web chat: documents serve any chat).
    AllDatasets,
    /// Nothing but what the caller sends (the stateless OpenAI-compatible API).
    Nothing,
}

/// Loads the profile's ready documents in profile order: (instructions, datasets); without a
/// profile, what `without` says.
async fn profile_documents(
    corpus: &Corpus,
    user: UserId,
    chain: Option<&ProfileChain>,
    without: WithoutProfile,
) -> ConversationResult<(Vec<Document>, Vec<Document>)> {
    if chain.is_none() && without == WithoutProfile::Nothing {
        return Ok((Vec::new(), Vec::new()));
    }
    // The cached catalog: one read when the user's documents have not changed.
    let catalog = corpus.catalog(user).await?;
    let Some(chain) = chain else {
        let datasets = catalog
            .ready()
            .filter(|d| d.kind == DocumentKind::Dataset)
            .cloned()
            .collect();
        return Ok((Vec::new(), datasets));
    };
    let pick = |ids: Vec<String>, kind: DocumentKind| -> Vec<Document> {
        ids.iter()
            .filter_map(|id| catalog.get(id))
            .filter(|d| d.status == DocumentStatus::Ready && d.kind == kind)
            .cloned()
            .collect()
    };
    // A document listed under the other kind in a profile still counts as what it is.
    let mut instructions = pick(chain.instruction_ids(), DocumentKind::Instructions);
    let mut datasets = pick(chain.dataset_ids(), DocumentKind::Dataset);
    instructions.extend(pick(chain.dataset_ids(), DocumentKind::Instructions));
    datasets.extend(pick(chain.instruction_ids(), DocumentKind::Dataset));
    // The datasets of the profile's folders (subfolders included), from the catalog's folder
    // index: however many there are, no further read.
    datasets.extend(
        catalog
            .in_folders(&chain.folders())
            .into_iter()
            .filter(|d| d.status == DocumentStatus::Ready && d.kind == DocumentKind::Dataset)
            .cloned(),
    );
    let mut seen = HashSet::new();
    instructions.retain(|d| seen.insert(d.id.clone()));
    datasets.retain(|d| seen.insert(d.id.clone()));
    Ok((instructions, datasets))
}

/// The attached documents that are ready, in the order given (each once).
async fn attached_documents(
    corpus: &Corpus,
    user: UserId,
    ids: &[String],
) -> ConversationResult<Vec<Document>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let catalog = corpus.catalog(user).await?;
    let mut seen = HashSet::new();
    Ok(ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .filter_map(|id| catalog.get(id))
        .filter(|d| d.status == DocumentStatus::Ready)
        .cloned()
        .collect())
}

pub struct ContextInputs<'a> {
    pub user_id: UserId,
    pub chain: Option<&'a ProfileChain>,
    /// What to draw on when `chain` is None.
    pub without_profile: WithoutProfile,
    /// Earlier messages of the branch, oldest first (not including the prompt).
    pub history: &'a [Message],
    pub prompt: &'a str,
    pub model: &'a ModelSpec,
    pub max_output_tokens: Option<u32>,
    /// Extra instructions from the caller (an OpenAI client's system messages).
    pub extra_instructions: Option<&'a str>,
    /// Documents attached to the question (ids): sent whole when they fit, else retrieved.
    pub attachments: &'a [String],
}

pub async fn assemble(corpus: &Corpus, input: ContextInputs<'_>) -> ConversationResult<Assembled> {
    let model = input.model;
    let window = u64::from(model.context_window.max(1));
    let reserve = reserved_output(model, input.max_output_tokens);
    let user = input.user_id;
    let (instruction_docs, mut dataset_docs) =
        profile_documents(corpus, user, input.chain, input.without_profile).await?;
    let attached_docs = attached_documents(corpus, user, input.attachments).await?;
    // An attached document is sent once, as an attachment.
    dataset_docs.retain(|d| !attached_docs.iter().any(|a| a.id == d.id));

    let mut record = ContextRecord {
        datasets_mode: "none".into(),
        ..ContextRecord::default()
    };
    let mut instructions = Vec::new();
    for doc in &instruction_docs {
        let Ok((_, text)) = corpus.text(user, &doc.id).await else {
            continue;
        };
        let tokens = doc.token_count.unwrap_or_else(|| count(model, &text));
        record.instructions_tokens += tokens;
        record.documents.push(ContextDocument {
            document_id: doc.id.clone(),
            name: doc.name.clone(),
            version: doc.version,
            kind: "instructions".into(),
            mode: "whole".into(),
            tokens,
            attached: false,
        });
        instructions.push(text);
    }
    if let Some(extra) = input.extra_instructions.filter(|e| !e.trim().is_empty()) {
        record.instructions_tokens += count(model, extra);
        instructions.push(extra.to_owned());
    }
    record.prompt_tokens = count(model, input.prompt);
    let history_tokens: Vec<u64> = input
        .history
        .iter()
        .map(|m| count(model, &m.content) + 4)
        .collect();
    let history_total: u64 = history_tokens.iter().sum();
    let datasets_total: u64 = dataset_docs
        .iter()
        .map(|d| d.token_count.unwrap_or(0))
        .sum();

    let fixed = record.instructions_tokens + record.prompt_tokens + reserve + FRAMING_TOKENS;
    if fixed > window {
        return Err(ConversationError::invalid(
            "content",
            format!(
                "the instructions ({}) and the message ({}) plus reserved output ({reserve}) exceed {}'s {window}-token window",
                record.instructions_tokens, record.prompt_tokens, model.id
            ),
        ));
    }
    let mut free = window - fixed;
    let mut sources = Vec::new();
    // The question plus the previous user turn: follow-ups ("and the second one?") need it.
    let previous_user = input
        .history
        .iter()
        .rev()
        .find(|m| m.role == MessageRole::User)
        .map(|m| m.content.as_str())
        .unwrap_or("");
    let query = format!("{} {previous_user}", input.prompt);
    let mut place = Placement {
        corpus,
        user,
        model,
        query: &query,
        record: &mut record,
        sources: &mut sources,
    };
    // Attachments first: the user pointed at them for this question.
    if !attached_docs.is_empty() {
        let total: u64 = attached_docs
            .iter()
            .map(|d| d.token_count.unwrap_or(0))
            .sum();
        let whole = total + history_total <= free;
        let used = place.include(&attached_docs, whole, free, true).await?;
        place.record.datasets_mode = if whole { "whole" } else { "retrieved" }.into();
        free -= used;
    }
    if !dataset_docs.is_empty() {
        let whole = datasets_total + history_total <= free;
        let used = place.include(&dataset_docs, whole, free, false).await?;
        place.record.datasets_mode = if whole { "whole" } else { "retrieved" }.into();
        free -= used;
    }
    let history_budget = free;

    // Newest history first until the budget is spent; what does not fit is dropped oldest first.
    let mut kept = 0usize;
    let mut spent = 0u64;
    for tokens in history_tokens.iter().rev() {
        if spent + tokens > history_budget {
            break;
        }
        spent += tokens;
        kept += 1;
    }
    let first_kept = input.history.len() - kept;
    record.history_tokens = spent;
    record.history_messages_sent = kept as u64;
    record.history_messages_dropped = first_kept as u64;

    let mut messages: Vec<ChatMessage> = input.history[first_kept..]
        .iter()
        .map(|m| match m.role {
            MessageRole::User => ChatMessage::user(m.content.clone()),
            MessageRole::Assistant => ChatMessage::assistant(m.content.clone()),
        })
        .collect();
    messages.push(ChatMessage::user(input.prompt.to_owned()));

    Ok(Assembled {
        system: system_prompt(&instructions, &sources),
        messages,
        record,
        sources,
    })
}

/// Puts documents into the context as numbered sources, recording each.
struct Placement<'a> {
    corpus: &'a Corpus,
    user: UserId,
    model: &'a ModelSpec,
    query: &'a str,
    record: &'a mut ContextRecord,
    sources: &'a mut Vec<Source>,
}

impl Placement<'_> {
    /// Sends `docs` whole, or (not `whole`) their best chunks within a share of `free`; returns
    /// the tokens used.
    async fn include(
        &mut self,
        docs: &[Document],
        whole: bool,
        free: u64,
        attached: bool,
    ) -> ConversationResult<u64> {
        let mut used = 0u64;
        let entry = |doc: &Document, mode: &str, tokens: u64| ContextDocument {
            document_id: doc.id.clone(),
            name: doc.name.clone(),
            version: doc.version,
            kind: doc.kind.as_str().into(),
            mode: mode.into(),
            tokens,
            attached,
        };
        if whole {
            for doc in docs {
                let Ok((_, text)) = self.corpus.text(self.user, &doc.id).await else {
                    continue;
                };
                let tokens = doc.token_count.unwrap_or_else(|| count(self.model, &text));
                used += tokens;
                self.record.documents.push(entry(doc, "whole", tokens));
                self.sources.push(Source {
                    citation: Citation {
                        n: self.sources.len() as u32 + 1,
                        document_id: doc.id.clone(),
                        document_name: doc.name.clone(),
                        version: doc.version,
                        heading_path: Vec::new(),
                        start: 0,
                        end: text.chars().count() as u64,
                    },
                    text,
                });
            }
        } else {
            let chunk_budget = ((free as f64) * RETRIEVED_SHARE) as u64;
            let scope: HashSet<String> = docs.iter().map(|d| d.id.clone()).collect();
            let hits = self
                .corpus
                .search(self.user, Some(&scope), self.query, RETRIEVE_K)
                .await?;
            let mut per_doc: HashMap<String, u64> = HashMap::new();
            for hit in hits {
                let tokens = u64::from(hit.token_count).max(1);
                if used + tokens > chunk_budget {
                    continue;
                }
                used += tokens;
                *per_doc.entry(hit.document_id.clone()).or_default() += tokens;
                self.sources.push(Source {
                    citation: Citation {
                        n: self.sources.len() as u32 + 1,
                        document_id: hit.document_id,
                        document_name: hit.document_name,
                        version: hit.version,
                        heading_path: hit.heading_path,
                        start: hit.start,
                        end: hit.end,
                    },
                    text: hit.text,
                });
            }
            for doc in docs {
                if let Some(tokens) = per_doc.get(&doc.id) {
                    self.record.documents.push(entry(doc, "retrieved", *tokens));
                }
            }
        }
        self.record.datasets_tokens += used;
        Ok(used)
    }
}

/// Instructions first, then the numbered sources with the rule for citing them.
pub fn system_prompt(instructions: &[String], sources: &[Source]) -> Option<String> {
    let mut out = String::new();
    for text in instructions {
        out.push_str(text.trim());
        out.push_str("\n\n");
    }
    if !sources.is_empty() {
        out.push_str(
            "You have the user's documents below as numbered sources. Ground your answer in them when they are relevant, \
             and cite each claim that uses a source right after it as [n] (for example [1] or [2][3]). \
             Do not invent sources; if the sources do not answer the question, say so.\n\n",
        );
        for Source { citation: s, text } in sources {
            let heading = s.heading_trail();
            out.push_str(&format!(
                "[{}] {}{heading}\n{}\n\n",
                s.n,
                s.document_name,
                text.trim()
            ));
        }
    }
    let trimmed = out.trim_end();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The sources an answer cites (`[n]`, `[n][m]`, `[n, m]`), in order of first citation.
pub fn cited(answer: &str, sources: &[Source]) -> Vec<Citation> {
    let mut seen = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inner = &rest[..close];
        if inner.len() <= 20 {
            for part in inner.split(',') {
                if let Ok(n) = part.trim().parse::<u32>()
                    && !seen.contains(&n)
                    && sources.iter().any(|s| s.citation.n == n)
                {
                    seen.push(n);
                }
            }
        }
    }
    seen.iter()
        .filter_map(|n| sources.iter().find(|s| s.citation.n == *n))
        .map(|s| s.citation.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(n: u32) -> Source {
        Source {
            citation: Citation {
                n,
                document_id: format!("d{n}"),
                document_name: format!("doc {n}"),
                version: 1,
                heading_path: vec![],
                start: 0,
                end: 1,
            },
            text: "t".into(),
        }
    }

    #[test]
    fn citations_are_found_in_every_common_form_and_unknown_numbers_ignored() {
        let sources = vec![source(1), source(2), source(3)];
        let found: Vec<u32> = cited(
            "A [2]. B [1][3], again [2, 1] and [9] and [link](x) [ 3 ]",
            &sources,
        )
        .iter()
        .map(|c| c.n)
        .collect();
        assert_eq!(found, [2, 1, 3]);
        assert!(cited("no citations here [", &sources).is_empty());
    }

    #[test]
    fn the_system_prompt_numbers_sources_after_the_instructions() {
        let prompt = system_prompt(&["Be brief.".into()], &[source(1)]).unwrap();
        assert!(prompt.starts_with("Be brief."));
        assert!(prompt.contains("[1] doc 1\nt"));
        assert_eq!(system_prompt(&[], &[]), None);
    }
}
