//! Carries out a [`Plan`] against the API, safely: documents are matched by content hash,
//! profiles by name, conversations by import key, so running it twice creates nothing new.
//! With `dry_run` it reads the account and says what it would do, writing nothing.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{ApiError, Client, ImportConversation, ModelInfo, Preferences, Profile};
use crate::plan::{MAX_DATASETS, MAX_INSTRUCTIONS, Plan, Skipped, count};

/// RaGenie's limit on a profile description.
const MAX_DESCRIPTION_CHARS: usize = 2000;

/// What an import did (or, in a dry run, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub layouts: Vec<String>,
    pub documents_created: usize,
    /// Already in RaGenie with the same content: linked, not uploaded again.
    pub documents_existing: usize,
    pub profiles_created: usize,
    /// A profile of the same name existed: matched, links added where missing.
    pub profiles_matched: usize,
    pub profiles_updated: usize,
    /// Document links (instructions + datasets) put on profiles.
    pub document_links: usize,
    /// Inheritance links put on profiles.
    pub parent_links: usize,
    pub conversations_created: usize,
    /// Imported before (same import key) or already in this account.
    pub conversations_existing: usize,
    pub messages_imported: usize,
    pub system_messages_dropped: usize,
    pub context_messages_dropped: usize,
    pub other_messages_dropped: usize,
    /// Preferences set.
    pub applied: Vec<String>,
    /// What the files asked for that RaGenie could not take.
    pub not_applied: Vec<String>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn created(&self) -> usize {
        self.documents_created + self.profiles_created + self.conversations_created
    }

    /// Readable lines for the terminal.
    pub fn render(&self) -> String {
        let would = |now: &'static str, then: &'static str| if self.dry_run { then } else { now };
        let mut out = String::new();
        if self.dry_run {
            out.push_str("Dry run: nothing was written. The plan:\n");
        }
        out.push_str(&format!("Read: {}\n", self.layouts.join(", ")));
        out.push_str(&format!(
            "{}: {}, {}, {} ({})\n",
            would("Created", "Would create"),
            count(self.documents_created, "document"),
            count(self.profiles_created, "profile"),
            count(self.conversations_created, "conversation"),
            count(self.messages_imported, "message"),
        ));
        out.push_str(&format!(
            "{}: {} already in RaGenie (same content), {} matched by name ({} {}), {} already imported\n",
            would("Linked", "Would link"),
            count(self.documents_existing, "document"),
            count(self.profiles_matched, "profile"),
            self.profiles_updated,
            would("updated", "to update"),
            count(self.conversations_existing, "conversation"),
        ));
        out.push_str(&format!(
            "Links on profiles: {}, {}\n",
            count(self.document_links, "document"),
            count(self.parent_links, "parent"),
        ));
        if self.system_messages_dropped
            + self.context_messages_dropped
            + self.other_messages_dropped
            > 0
        {
            out.push_str(&format!(
                "Sessions: dropped {}, {} holding only Ragbot's <documents> block, {}\n",
                count(self.system_messages_dropped, "system message"),
                count(self.context_messages_dropped, "user turn"),
                count(self.other_messages_dropped, "other message"),
            ));
        }
        for line in &self.applied {
            out.push_str(&format!("{}: {line}\n", would("Set", "Would set")));
        }
        out.push_str(&format!("Skipped: {}\n", count(self.skipped.len(), "file")));
        for s in &self.skipped {
            out.push_str(&format!("  {} — {}\n", s.path, s.reason));
        }
        if !self.not_applied.is_empty() {
            out.push_str("Not applied:\n");
            for line in &self.not_applied {
                out.push_str(&format!("  {line}\n"));
            }
        }
        if !self.notes.is_empty() {
            out.push_str("Notes:\n");
            for line in &self.notes {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out
    }
}

/// Candidate catalog ids for a model name from Ragbot (`gemini/x` → `x`, `openai/x` → `x`).
fn model_candidates(name: &str) -> Vec<String> {
    let mut out = vec![name.to_owned()];
    if let Some((_, rest)) = name.split_once('/') {
        out.push(rest.to_owned());
    }
    out
}

fn find_model<'a>(models: &'a [ModelInfo], name: &str) -> Option<&'a ModelInfo> {
    let candidates = model_candidates(name);
    candidates
        .iter()
        .find_map(|c| models.iter().find(|m| &m.id == c))
        .or_else(|| {
            candidates
                .iter()
                .find_map(|c| models.iter().find(|m| m.id.eq_ignore_ascii_case(c)))
        })
}

fn append_missing(existing: &[String], wanted: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|w| !existing.contains(w))
        .cloned()
        .collect()
}

/// Runs `plan` against the account behind `client`.
pub async fn execute(client: &Client, plan: &Plan, dry_run: bool) -> anyhow::Result<Report> {
    execute_with_progress(client, plan, dry_run, &mut |_| {}).await
}

/// [`execute`], telling `progress` what it is doing (a large folder takes a while).
pub async fn execute_with_progress(
    client: &Client,
    plan: &Plan,
    dry_run: bool,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Report> {
    let mut report = Report {
        dry_run,
        layouts: plan.layouts.clone(),
        skipped: plan.skipped.clone(),
        notes: plan.notes.clone(),
        ..Report::default()
    };

    // Documents: one upload per distinct content.
    let existing_docs: HashMap<String, String> = client
        .documents()
        .await?
        .into_iter()
        .map(|d| (d.content_hash, d.id))
        .collect();
    let mut doc_ids: Vec<Option<String>> = Vec::with_capacity(plan.documents.len());
    // Uploads RaGenie indexes in the background: (source, id), waited for below.
    let mut indexing: Vec<(String, String)> = Vec::new();
    let total = plan.documents.len();
    if total > 0 {
        progress(&format!("documents: {}", count(total, "distinct file")));
    }
    for (i, doc) in plan.documents.iter().enumerate() {
        if i > 0 && i % 25 == 0 {
            progress(&format!("documents: {i}/{total}"));
        }
        if let Some(id) = existing_docs.get(&doc.hash) {
            report.documents_existing += 1;
            doc_ids.push(Some(id.clone()));
            continue;
        }
        if dry_run {
            report.documents_created += 1;
            doc_ids.push(Some(format!("new-document-{i}")));
            continue;
        }
        match client
            .upload_document(
                &doc.name,
                &doc.folder,
                doc.kind.as_str(),
                &doc.media_type,
                doc.bytes.clone(),
            )
            .await
        {
            Ok(up) => {
                if up.duplicate {
                    report.documents_existing += 1;
                } else {
                    report.documents_created += 1;
                }
                if matches!(up.document.status.as_str(), "pending" | "processing") {
                    indexing.push((doc.source.clone(), up.document.id.clone()));
                } else if up.document.status == "failed" {
                    report.notes.push(not_extracted(&doc.source));
                }
                doc_ids.push(Some(up.document.id));
            }
            Err(e @ (ApiError::Transport { .. } | ApiError::NoCredentials)) => return Err(e.into()),
            Err(e) => {
                report.skipped.push(refused(&doc.source, &e));
                doc_ids.push(None);
            }
        }
    }

    // The server indexes uploads in the background: wait, so the profiles are usable (and
    // a file it cannot read is reported) when the import says it is done.
    if !indexing.is_empty() {
        progress(&format!("indexing: {}", count(indexing.len(), "document")));
        for (source, id) in &indexing {
            if wait_for_ingestion(client, id).await? == "failed" {
                report.notes.push(not_extracted(source));
            }
        }
    }

    // Profiles, parents first.
    let mut by_name: HashMap<String, Profile> = client
        .profiles()
        .await?
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    if !plan.profiles.is_empty() {
        progress(&format!(
            "profiles: {}",
            count(plan.profiles.len(), "profile")
        ));
    }
    for planned in &plan.profiles {
        let ids = |list: &[usize]| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for &i in list {
                if let Some(Some(id)) = doc_ids.get(i)
                    && !out.contains(id)
                {
                    out.push(id.clone());
                }
            }
            out
        };
        let mut instructions = ids(&planned.instructions);
        let mut datasets = ids(&planned.datasets);
        let mut parents = Vec::new();
        for parent in &planned.parents {
            match by_name.get(parent) {
                Some(p) => parents.push(p.id.clone()),
                None => report.notes.push(format!(
                    "{}: parent profile `{parent}` does not exist; inheritance not set",
                    planned.name
                )),
            }
        }
        match by_name.get(&planned.name) {
            Some(existing) => {
                report.profiles_matched += 1;
                let mut patch = serde_json::Map::new();
                let add_i = append_missing(&existing.instruction_ids, &instructions);
                let add_d = append_missing(&existing.dataset_ids, &datasets);
                let add_p = append_missing(&existing.parent_ids, &parents);
                let mut fits = true;
                if !add_i.is_empty() {
                    let all: Vec<String> = existing
                        .instruction_ids
                        .iter()
                        .chain(&add_i)
                        .cloned()
                        .collect();
                    fits &= all.len() <= MAX_INSTRUCTIONS;
                    patch.insert("instruction_ids".into(), json!(all));
                }
                if !add_d.is_empty() {
                    let all: Vec<String> =
                        existing.dataset_ids.iter().chain(&add_d).cloned().collect();
                    fits &= all.len() <= MAX_DATASETS;
                    patch.insert("dataset_ids".into(), json!(all));
                }
                if !add_p.is_empty() {
                    let all: Vec<String> =
                        existing.parent_ids.iter().chain(&add_p).cloned().collect();
                    patch.insert("parent_ids".into(), json!(all));
                }
                if patch.is_empty() {
                    continue;
                }
                if !fits {
                    report.skipped.push(Skipped {
                        path: planned.source.clone(),
                        reason: format!(
                            "profile `{}` would list more than {MAX_INSTRUCTIONS} instructions or {MAX_DATASETS} datasets; links not added",
                            planned.name
                        ),
                    });
                    continue;
                }
                if dry_run {
                    report.profiles_updated += 1;
                    report.document_links += add_i.len() + add_d.len();
                    report.parent_links += add_p.len();
                    continue;
                }
                match client
                    .update_profile(&existing.id, &Value::Object(patch))
                    .await
                {
                    Ok(updated) => {
                        report.profiles_updated += 1;
                        report.document_links += add_i.len() + add_d.len();
                        report.parent_links += add_p.len();
                        by_name.insert(updated.name.clone(), updated);
                    }
                    Err(e @ ApiError::Transport { .. }) => return Err(e.into()),
                    Err(e) => report.skipped.push(Skipped {
                        path: planned.source.clone(),
                        reason: format!("profile `{}` not updated: {}", planned.name, e.reason()),
                    }),
                }
            }
            None => {
                for (list, max, what) in [
                    (&mut instructions, MAX_INSTRUCTIONS, "instructions"),
                    (&mut datasets, MAX_DATASETS, "datasets"),
                ] {
                    if list.len() > max {
                        report.skipped.push(Skipped {
                            path: planned.source.clone(),
                            reason: format!(
                                "profile `{}` has {} {what}; RaGenie links up to {max}, the rest are uploaded but not linked",
                                planned.name,
                                list.len()
                            ),
                        });
                        list.truncate(max);
                    }
                }
                let description: String = planned
                    .description
                    .chars()
                    .take(MAX_DESCRIPTION_CHARS)
                    .collect();
                if description.len() < planned.description.len() {
                    report.notes.push(format!(
                        "{}: description cut to RaGenie's {MAX_DESCRIPTION_CHARS} characters",
                        planned.name
                    ));
                }
                let mut body = json!({
                    "name": planned.name,
                    "description": description,
                    "instruction_ids": instructions,
                    "dataset_ids": datasets,
                    "parent_ids": parents,
                });
                let s = &planned.settings;
                if let Some(m) = &s.default_model {
                    body["default_model"] = json!(m);
                }
                if let Some(p) = &s.temperature_preset {
                    body["temperature_preset"] = json!(p);
                    if p == "custom" {
                        body["temperature"] = json!(s.temperature);
                    }
                }
                if let Some(t) = s.max_output_tokens {
                    body["max_output_tokens"] = json!(t);
                }
                let links = instructions.len() + datasets.len();
                let parent_links = parents.len();
                if dry_run {
                    report.profiles_created += 1;
                    report.document_links += links;
                    report.parent_links += parent_links;
                    by_name.insert(
                        planned.name.clone(),
                        Profile {
                            id: format!("new-profile-{}", planned.name),
                            name: planned.name.clone(),
                            description: String::new(),
                            instruction_ids: instructions,
                            dataset_ids: datasets,
                            parent_ids: parents,
                            default_model: None,
                            temperature_preset: None,
                            temperature: None,
                            max_output_tokens: None,
                        },
                    );
                    continue;
                }
                match client.create_profile(&body).await {
                    Ok(created) => {
                        report.profiles_created += 1;
                        report.document_links += links;
                        report.parent_links += parent_links;
                        by_name.insert(created.name.clone(), created);
                    }
                    Err(e @ ApiError::Transport { .. }) => return Err(e.into()),
                    Err(e) => report.skipped.push(Skipped {
                        path: planned.source.clone(),
                        reason: format!("profile `{}` not created: {}", planned.name, e.reason()),
                    }),
                }
            }
        }
    }

    // Conversations.
    if !plan.conversations.is_empty() {
        progress(&format!(
            "conversations: {}",
            count(plan.conversations.len(), "conversation")
        ));
    }
    for (i, conv) in plan.conversations.iter().enumerate() {
        if i > 0 && i % 25 == 0 {
            progress(&format!("conversations: {i}/{}", plan.conversations.len()));
        }
        report.system_messages_dropped += conv.dropped_system;
        report.context_messages_dropped += conv.dropped_context;
        report.other_messages_dropped += conv.dropped_other;
        if let Some(id) = &conv.existing_id {
            match client.conversation(id).await {
                Ok(_) => {
                    report.conversations_existing += 1;
                    continue;
                }
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let profile_id = match &conv.profile {
            Some(name) => match by_name.get(name) {
                Some(p) if !p.id.starts_with("new-profile-") || dry_run => Some(p.id.clone()),
                _ => {
                    report.notes.push(format!(
                        "{}: profile `{name}` is not there; imported without a profile",
                        conv.source
                    ));
                    None
                }
            },
            None => None,
        };
        if dry_run {
            report.conversations_created += 1;
            report.messages_imported += conv.messages.len();
            continue;
        }
        let body = ImportConversation {
            title: conv.title.clone(),
            profile_id,
            model: conv.model.clone(),
            created_at: conv.created_at.clone(),
            import_key: Some(conv.import_key.clone()),
            messages: conv.messages.clone(),
        };
        match client.import_conversation(&body).await {
            Ok((_, true)) => {
                report.conversations_created += 1;
                report.messages_imported += conv.messages.len();
            }
            Ok((_, false)) => report.conversations_existing += 1,
            Err(e @ ApiError::Transport { .. }) => return Err(e.into()),
            Err(e) => report.skipped.push(refused(&conv.source, &e)),
        }
    }
    if dry_run && !plan.conversations.is_empty() {
        report.notes.push(
            "conversations imported before are recognised by the server at import time; the dry run counts them as new".into(),
        );
    }

    apply_preferences(client, plan, dry_run, &by_name, &mut report).await?;
    Ok(report)
}

async fn apply_preferences(
    client: &Client,
    plan: &Plan,
    dry_run: bool,
    profiles: &HashMap<String, Profile>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let wants_model = plan.engines.is_some() || plan.default_model.is_some();
    if !wants_model && plan.default_profile.is_none() && plan.theme.is_none() {
        return Ok(());
    }
    let current = client.preferences().await?;
    let mut next: Preferences = current.clone();
    if wants_model {
        let models = client.models().await?.items;
        let (wanted, origin) = match (&plan.default_model, &plan.engines) {
            (Some(m), _) => (Some(m.clone()), "the archive".to_owned()),
            (None, Some(e)) => (
                e.default_model.clone(),
                format!(
                    "{} (default engine `{}`)",
                    e.source,
                    e.default_engine.as_deref().unwrap_or("?")
                ),
            ),
            (None, None) => (None, String::new()),
        };
        if let Some(wanted) = wanted {
            match find_model(&models, &wanted) {
                Some(found) => match &current.default_model {
                    None => {
                        next.default_model = Some(found.id.clone());
                        let note = if found.available {
                            String::new()
                        } else {
                            format!(
                                " (not usable until its provider key is set: {})",
                                found.unavailable_reason.as_deref().unwrap_or("unavailable")
                            )
                        };
                        report
                            .applied
                            .push(format!("default model {} from {origin}{note}", found.id));
                    }
                    Some(have) if have == &found.id => {}
                    Some(have) => report.not_applied.push(format!(
                        "default model {} from {origin}: you already chose {have}; kept",
                        found.id
                    )),
                },
                None => report.not_applied.push(format!(
                    "default model {wanted} from {origin}: not in RaGenie's model catalog (GET /models)"
                )),
            }
        }
        if let Some(engines) = &plan.engines {
            let missing: Vec<&str> = engines
                .models
                .iter()
                .filter(|(m, _)| find_model(&models, m).is_none())
                .map(|(m, _)| m.as_str())
                .collect();
            if !missing.is_empty() {
                report.not_applied.push(format!(
                    "{}: {} of {} models are not in RaGenie's catalog: {}",
                    engines.source,
                    missing.len(),
                    engines.models.len(),
                    missing.join(", ")
                ));
            }
            let presets = [("precise", 0.25), ("balanced", 0.5), ("creative", 0.75)];
            for (name, value) in &engines.temperature_settings {
                let same = presets
                    .iter()
                    .any(|(p, v)| p == name && (v - value).abs() < 1e-9);
                if !same {
                    report.not_applied.push(format!(
                        "{}: temperature setting {name}: {value} (RaGenie's presets are precise 0.25, balanced 0.5, creative 0.75; a profile can set a custom temperature)",
                        engines.source
                    ));
                }
            }
        }
    }
    if let Some(name) = &plan.default_profile {
        match profiles.get(name) {
            Some(p) => match &current.default_profile {
                None => {
                    next.default_profile = Some(p.id.clone());
                    report.applied.push(format!("default profile {name}"));
                }
                Some(have) if have == &p.id => {}
                Some(_) => report.not_applied.push(format!(
                    "default profile {name}: you already chose another; kept"
                )),
            },
            None => report.not_applied.push(format!(
                "default profile {name}: the profile was not imported"
            )),
        }
    }
    if let Some(theme) = &plan.theme
        && current.theme == "system"
        && theme != "system"
    {
        next.theme = theme.clone();
        report.applied.push(format!("theme {theme}"));
    }
    if next != current && !dry_run {
        if next
            .default_profile
            .as_deref()
            .is_some_and(|p| p.starts_with("new-profile-"))
        {
            next.default_profile = current.default_profile.clone();
        }
        if let Err(e) = client.put_preferences(&next).await {
            report
                .not_applied
                .push(format!("preferences not saved: {}", e.reason()));
            report.applied.clear();
        }
    }
    Ok(())
}

/// A file the server refused (a body too large says `oversize:`).
fn refused(source: &str, e: &ApiError) -> Skipped {
    let reason = if e.status() == Some(413) {
        format!("oversize: {}", e.reason())
    } else {
        e.reason()
    };
    Skipped {
        path: source.to_owned(),
        reason,
    }
}

fn not_extracted(source: &str) -> String {
    format!("{source}: uploaded, but RaGenie could not extract its text")
}

/// How long an import waits for one document to be indexed.
const INGESTION_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Polls a document until its ingestion settles; returns its final status (`ready`, `failed`, or
/// the status it still had when the wait ran out).
async fn wait_for_ingestion(client: &Client, id: &str) -> Result<String, ApiError> {
    let deadline = std::time::Instant::now() + INGESTION_WAIT;
    let mut pause = std::time::Duration::from_millis(50);
    loop {
        let status = client.document(id).await?.status;
        if !matches!(status.as_str(), "pending" | "processing")
            || std::time::Instant::now() >= deadline
        {
            return Ok(status);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            provider: String::new(),
            display_name: String::new(),
            context_window: 0,
            input_price: None,
            output_price: None,
            available: true,
            unavailable_reason: None,
        }
    }

    #[test]
    fn ragbot_model_names_match_catalog_ids() {
        let models = [model("gemini-2.5-pro"), model("gpt-4o")];
        assert_eq!(
            find_model(&models, "gemini/gemini-2.5-pro").map(|m| m.id.as_str()),
            Some("gemini-2.5-pro")
        );
        assert_eq!(
            find_model(&models, "GPT-4o").map(|m| m.id.as_str()),
            Some("gpt-4o")
        );
        assert!(find_model(&models, "claude-2").is_none());
    }
}
