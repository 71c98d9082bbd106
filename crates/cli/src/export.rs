//! Export of an account: a snapshot of its profiles, documents (original bytes), conversations
//! and preferences, written as one JSON archive or as a Ragbot workspace folder; and the reading
//! of an archive back into an import [`Plan`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use ragenie_common::clock::Timestamp;
use serde::{Deserialize, Serialize};

use crate::client::{
    Client, Conversation, ConversationDetail, Document, Message, Preferences, Profile,
};
use crate::plan::{
    Kind, Plan, PlannedConversation, PlannedDoc, PlannedProfile, ProfileSettings, clean_title,
    count,
};
use crate::ragbot::sha256_hex;

pub const ARCHIVE_FORMAT: &str = "ragenie-archive";
pub const ARCHIVE_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArchivedDocument {
    #[serde(flatten)]
    pub document: Document,
    /// `utf8` or `base64`.
    pub encoding: String,
    pub content: String,
}

impl ArchivedDocument {
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        match self.encoding.as_str() {
            "utf8" => Ok(self.content.as_bytes().to_vec()),
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(&self.content)
                .map_err(|e| format!("content is not valid base64: {e}")),
            other => Err(format!("unknown encoding `{other}`")),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArchivedConversation {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

/// One file holding everything an account has.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Archive {
    pub format: String,
    pub version: u32,
    pub exported_at: Timestamp,
    pub server: String,
    pub preferences: Preferences,
    pub profiles: Vec<Profile>,
    pub documents: Vec<ArchivedDocument>,
    pub conversations: Vec<ArchivedConversation>,
    /// The provider of each model the preferences and profiles name (for `engines.yaml`).
    #[serde(default)]
    pub model_providers: BTreeMap<String, String>,
}

/// What an export wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ExportSummary {
    pub profiles: usize,
    pub documents: usize,
    pub conversations: usize,
    pub messages: usize,
    pub files: usize,
    pub notes: Vec<String>,
}

impl ExportSummary {
    pub fn render(&self, target: &Path) -> String {
        let mut out = format!(
            "Exported to {}: {}, {}, {} ({}), {}\n",
            target.display(),
            count(self.profiles, "profile"),
            count(self.documents, "document"),
            count(self.conversations, "conversation"),
            count(self.messages, "message"),
            count(self.files, "file"),
        );
        for n in &self.notes {
            out.push_str(&format!("  {n}\n"));
        }
        out
    }
}

/// Reads everything the account has.
pub async fn snapshot(client: &Client) -> anyhow::Result<Archive> {
    let preferences = client.preferences().await?;
    let profiles = client.profiles().await?;
    let mut documents = Vec::new();
    for document in client.documents().await? {
        let bytes = match client.document_bytes(&document.id).await {
            Ok(b) => b,
            // The download URL may point at an origin this machine cannot reach; the extracted
            // text is the next best thing for text documents.
            Err(_) => client
                .document_text(&document.id)
                .await
                .with_context(|| format!("reading document {}", document.name))?
                .into_bytes(),
        };
        let (encoding, content) = match String::from_utf8(bytes) {
            Ok(text) => ("utf8".to_owned(), text),
            Err(e) => (
                "base64".to_owned(),
                base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            ),
        };
        documents.push(ArchivedDocument {
            document,
            encoding,
            content,
        });
    }
    let mut conversations = Vec::new();
    for c in client.conversations().await? {
        let ConversationDetail {
            conversation,
            messages,
        } = client.conversation(&c.id).await?;
        conversations.push(ArchivedConversation {
            conversation,
            messages,
        });
    }
    conversations.sort_by(|a, b| a.conversation.created_at.cmp(&b.conversation.created_at));
    let mut model_providers = BTreeMap::new();
    if let Ok(models) = client.models().await {
        let wanted: HashSet<&str> = preferences
            .default_model
            .iter()
            .map(String::as_str)
            .chain(profiles.iter().filter_map(|p| p.default_model.as_deref()))
            .collect();
        for m in models.items {
            if wanted.contains(m.id.as_str()) {
                model_providers.insert(m.id, m.provider);
            }
        }
    }
    Ok(Archive {
        format: ARCHIVE_FORMAT.into(),
        version: ARCHIVE_VERSION,
        exported_at: ragenie_common::clock::now(),
        server: client.base().to_owned(),
        preferences,
        profiles,
        documents,
        conversations,
        model_providers,
    })
}

impl Archive {
    fn summary(&self) -> ExportSummary {
        ExportSummary {
            profiles: self.profiles.len(),
            documents: self.documents.len(),
            conversations: self.conversations.len(),
            messages: self.conversations.iter().map(|c| c.messages.len()).sum(),
            ..ExportSummary::default()
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<ExportSummary> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        let mut summary = self.summary();
        summary.files = 1;
        Ok(summary)
    }

    /// Writes the Ragbot workspace layout under `root`:
    /// `workspaces/<profile>/{workspace.yaml,instructions/,datasets/}`, datasets shared by
    /// several profiles once under `shared/datasets/` (linked by `include_from_root`), documents no
    /// profile uses under `unlinked/`, conversations (their current branch) as Ragbot sessions
    /// in `sessions/` dated by their creation time, and the default model as `engines.yaml`.
    pub fn write_workspace(&self, root: &Path) -> anyhow::Result<ExportSummary> {
        let mut summary = self.summary();
        let mut writer = Writer {
            root: root.to_path_buf(),
            files: 0,
        };
        let docs: HashMap<&str, &ArchivedDocument> = self
            .documents
            .iter()
            .map(|d| (d.document.id.as_str(), d))
            .collect();
        // Who uses each (document, kind).
        let mut users: HashMap<(&str, Kind), Vec<&str>> = HashMap::new();
        for p in &self.profiles {
            for id in &p.instruction_ids {
                users
                    .entry((id.as_str(), Kind::Instructions))
                    .or_default()
                    .push(&p.id);
            }
            for id in &p.dataset_ids {
                users
                    .entry((id.as_str(), Kind::Dataset))
                    .or_default()
                    .push(&p.id);
            }
        }
        let mut slugs: HashMap<&str, String> = HashMap::new();
        let mut taken = HashSet::new();
        for p in &self.profiles {
            slugs.insert(&p.id, unique(slug(&p.name), &mut taken));
        }
        // Shared documents, written once.
        let mut shared_paths: HashMap<(&str, Kind), String> = HashMap::new();
        let mut shared_taken: HashMap<Kind, HashSet<String>> = HashMap::new();
        for ((id, kind), profiles) in sorted(&users) {
            // Instructions stay in each workspace (their order is the file order there; the
            // import uploads identical files once).
            if profiles.len() < 2 || kind == Kind::Instructions {
                continue;
            }
            let Some(doc) = docs.get(id) else { continue };
            let folder = match kind {
                Kind::Instructions => "instructions",
                Kind::Dataset => "datasets",
            };
            let file = unique(file_name(doc), shared_taken.entry(kind).or_default());
            let rel = format!("shared/{folder}/{file}");
            writer.write(&rel, &doc.bytes().map_err(anyhow::Error::msg)?)?;
            shared_paths.insert((id, kind), rel);
        }
        for p in &self.profiles {
            let slug = &slugs[p.id.as_str()];
            let base = format!("workspaces/{slug}");
            let mut includes = Vec::new();
            for (kind, ids, folder) in [
                (Kind::Instructions, &p.instruction_ids, "instructions"),
                (Kind::Dataset, &p.dataset_ids, "datasets"),
            ] {
                let own: Vec<&ArchivedDocument> = ids
                    .iter()
                    .filter(|id| !shared_paths.contains_key(&(id.as_str(), kind)))
                    .filter_map(|id| docs.get(id.as_str()).copied())
                    .collect();
                let mut names: Vec<String> = Vec::new();
                let mut taken = HashSet::new();
                for doc in &own {
                    names.push(unique(file_name(doc), &mut taken));
                }
                // Instructions are read back in file-name order: number them when that order
                // is not already theirs.
                let mut sorted_names = names.clone();
                sorted_names.sort();
                let number = kind == Kind::Instructions && sorted_names != names;
                for (n, (doc, name)) in own.iter().zip(&names).enumerate() {
                    let name = if number {
                        format!("{:02}-{name}", n + 1)
                    } else {
                        name.clone()
                    };
                    writer.write(
                        &format!("{base}/{folder}/{name}"),
                        &doc.bytes().map_err(anyhow::Error::msg)?,
                    )?;
                }
                for id in ids {
                    if let Some(rel) = shared_paths.get(&(id.as_str(), kind)) {
                        includes.push(rel.clone());
                    }
                }
                let missing = ids
                    .iter()
                    .filter(|id| !docs.contains_key(id.as_str()))
                    .count();
                if missing > 0 {
                    summary.notes.push(format!(
                        "{}: {missing} linked documents no longer exist; left out",
                        p.name
                    ));
                }
            }
            let mut manifest = serde_yaml::Mapping::new();
            manifest.insert("name".into(), p.name.clone().into());
            if !p.description.is_empty() {
                manifest.insert("description".into(), p.description.clone().into());
            }
            let parents: Vec<serde_yaml::Value> = p
                .parent_ids
                .iter()
                .filter_map(|id| slugs.get(id.as_str()))
                .map(|s| s.clone().into())
                .collect();
            if !parents.is_empty() {
                manifest.insert("inherits_from".into(), parents.into());
            }
            if !includes.is_empty() {
                manifest.insert(
                    "include_from_root".into(),
                    includes
                        .into_iter()
                        .map(serde_yaml::Value::from)
                        .collect::<Vec<_>>()
                        .into(),
                );
            }
            writer.write(
                &format!("{base}/workspace.yaml"),
                serde_yaml::to_string(&manifest)?.as_bytes(),
            )?;
            if p.default_model.is_some()
                || p.temperature_preset
                    .as_deref()
                    .is_some_and(|t| t != "balanced")
                || p.max_output_tokens.is_some()
            {
                summary.notes.push(format!(
                    "{}: model settings (default model, temperature, output limit) have no place in a Ragbot workspace; the JSON archive keeps them",
                    p.name
                ));
            }
        }
        // Documents no profile uses.
        let mut unlinked_taken: HashMap<Kind, HashSet<String>> = HashMap::new();
        for doc in &self.documents {
            let used = users.keys().any(|(id, _)| *id == doc.document.id.as_str());
            if used {
                continue;
            }
            let kind = Kind::parse(&doc.document.kind).unwrap_or(Kind::Dataset);
            let folder = match kind {
                Kind::Instructions => "instructions",
                Kind::Dataset => "datasets",
            };
            let name = unique(file_name(doc), unlinked_taken.entry(kind).or_default());
            writer.write(
                &format!("unlinked/{folder}/{name}"),
                &doc.bytes().map_err(anyhow::Error::msg)?,
            )?;
        }
        if let Some(default) = &self.preferences.default_profile
            && let Some(slug) = slugs.get(default.as_str())
        {
            writer.write(
                "workspaces/config.yaml",
                format!("default_workspace: {slug}\n").as_bytes(),
            )?;
        }
        // Conversations: Ragbot sessions hold one line of turns.
        let mut session_names = HashSet::new();
        let mut branches_left = 0;
        let mut empty = 0;
        for c in &self.conversations {
            let detail = ConversationDetail {
                conversation: c.conversation.clone(),
                messages: c.messages.clone(),
            };
            let branch = detail.current_branch();
            branches_left += c.messages.len().saturating_sub(branch.len());
            if !branch
                .iter()
                .any(|m| m.role == "user" || m.role == "assistant")
            {
                empty += 1;
                continue;
            }
            let turns: Vec<serde_json::Value> = branch
                .iter()
                .map(|m| serde_json::json!({"role": m.role, "content": m.content}))
                .collect();
            let name = unique(
                format!("{}.json", sanitize(&c.conversation.title, "conversation")),
                &mut session_names,
            );
            let rel = format!("sessions/{name}");
            writer.write(&rel, serde_json::to_string_pretty(&turns)?.as_bytes())?;
            if let Ok(t) = Timestamp::parse(&c.conversation.created_at) {
                let file = std::fs::File::options().write(true).open(root.join(&rel))?;
                file.set_modified(t.datetime().into())?;
            }
        }
        if empty > 0 {
            summary.notes.push(format!(
                "{} without messages: no Ragbot session to write",
                count(empty, "conversation")
            ));
        }
        if branches_left > 0 {
            summary.notes.push(format!(
                "{branches_left} messages on other branches (edits, regenerated answers) are not in the Ragbot sessions; the JSON archive keeps them"
            ));
        }
        if let Some(model) = &self.preferences.default_model {
            let provider = self
                .model_providers
                .get(model)
                .cloned()
                .unwrap_or_else(|| "openai".into());
            let engines = serde_json::json!({
                "default": provider,
                "engines": [{
                    "name": provider,
                    "default_model": model,
                    "models": [{"name": model}],
                }],
            });
            writer.write("engines.yaml", serde_yaml::to_string(&engines)?.as_bytes())?;
        }
        summary.files = writer.files;
        Ok(summary)
    }
}

fn sorted<'a>(
    users: &'a HashMap<(&'a str, Kind), Vec<&'a str>>,
) -> Vec<((&'a str, Kind), &'a Vec<&'a str>)> {
    let mut all: Vec<_> = users.iter().map(|(k, v)| (*k, v)).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

struct Writer {
    root: PathBuf,
    files: usize,
}

impl Writer {
    fn write(&mut self, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        self.files += 1;
        Ok(())
    }
}

/// A folder name from a profile name.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        "profile".into()
    } else {
        out
    }
}

/// Characters a file name cannot hold here (Windows refuses a few more than Unix).
fn forbidden_in_file_names(c: char) -> bool {
    c.is_control()
        || matches!(c, '/' | '\\')
        || (cfg!(windows) && matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|'))
}

/// A file name safe on this file system (no separators, no leading dot, no control
/// characters), so titles like "Why?" keep their punctuation where they can.
fn sanitize(raw: &str, fallback: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if forbidden_in_file_names(c) { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_owned();
    let cleaned: String = cleaned.chars().take(150).collect();
    if cleaned.is_empty() {
        fallback.into()
    } else {
        cleaned
    }
}

fn unique(name: String, taken: &mut HashSet<String>) -> String {
    if taken.insert(name.clone()) {
        return name;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_owned(), format!(".{e}")),
        _ => (name.clone(), String::new()),
    };
    for n in 2.. {
        let candidate = format!("{stem} ({n}){ext}");
        if taken.insert(candidate.clone()) {
            return candidate;
        }
    }
    unreachable!("an unbounded counter always finds a free name")
}

/// The relative path a document is written under: its folder, then its name's last component
/// with an extension that makes it read back as the same media type — so same-named files of
/// different folders stay apart.
fn file_name(doc: &ArchivedDocument) -> String {
    let name = leaf_name(doc);
    let folders: Vec<String> = doc
        .document
        .folder
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| sanitize(p, "folder"))
        .collect();
    if folders.is_empty() {
        name
    } else {
        format!("{}/{name}", folders.join("/"))
    }
}

fn leaf_name(doc: &ArchivedDocument) -> String {
    let last = doc
        .document
        .name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let mut name = sanitize(last, "document");
    let ext = match doc.document.media_type.as_str() {
        "text/markdown" => Some(["md", "markdown", "mdown", "mkd", "mdx"].as_slice()),
        "text/html" => Some(["html", "htm", "xhtml"].as_slice()),
        "application/pdf" => Some(["pdf"].as_slice()),
        _ => None,
    };
    if let Some(exts) = ext {
        let has = name
            .rsplit_once('.')
            .is_some_and(|(_, e)| exts.contains(&e.to_ascii_lowercase().as_str()));
        if !has {
            name = format!("{name}.{}", exts[0]);
        }
    } else if doc.document.media_type == "text/plain"
        && name.rsplit_once('.').is_some_and(|(_, e)| {
            ["md", "html", "htm", "pdf"].contains(&e.to_ascii_lowercase().as_str())
        })
    {
        name.push_str(".txt");
    }
    name
}

/// Reads a JSON archive into an import plan. Documents whose bytes do not match their hash,
/// or that cannot be decoded, are skipped.
pub fn archive_plan(path: &Path, max_file_bytes: u64) -> Plan {
    let mut plan = Plan {
        layouts: vec!["archive".into()],
        ..Plan::default()
    };
    let shown = path.display().to_string();
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) => {
            plan.skip(shown, format!("unreadable: {e}"));
            return plan;
        }
    };
    let archive: Archive = match serde_json::from_slice(&text) {
        Ok(a) => a,
        Err(e) => {
            plan.skip(shown, format!("not a RaGenie archive: {e}"));
            return plan;
        }
    };
    if archive.format != ARCHIVE_FORMAT || archive.version > ARCHIVE_VERSION {
        plan.skip(
            shown,
            format!(
                "not a RaGenie archive this client reads (format {} version {})",
                archive.format, archive.version
            ),
        );
        return plan;
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut by_hash: HashMap<String, usize> = HashMap::new();
    for doc in &archive.documents {
        let source = format!("{shown}: document {}", doc.document.name);
        let bytes = match doc.bytes() {
            Ok(b) => b,
            Err(reason) => {
                plan.skip(source, reason);
                continue;
            }
        };
        if bytes.len() as u64 > max_file_bytes {
            plan.skip(
                source,
                format!(
                    "oversize: {} bytes; RaGenie takes files up to {max_file_bytes} bytes",
                    bytes.len()
                ),
            );
            continue;
        }
        let hash = sha256_hex(&bytes);
        if hash != doc.document.content_hash {
            plan.skip(source, "its content does not match its recorded hash");
            continue;
        }
        if let Some(&i) = by_hash.get(&hash) {
            index.insert(&doc.document.id, i);
            continue;
        }
        // Archives from before folders may carry a path in the name (`a/b/c.md`).
        let (name, folder) = match doc.document.name.rsplit_once(['/', '\\']) {
            Some((dir, leaf)) if !leaf.trim().is_empty() => (
                leaf.to_owned(),
                ragenie_common::folders::normalize_folder(&format!(
                    "{}/{dir}",
                    doc.document.folder
                ))
                .unwrap_or_else(|_| doc.document.folder.clone()),
            ),
            _ => (doc.document.name.clone(), doc.document.folder.clone()),
        };
        plan.documents.push(PlannedDoc {
            name,
            folder,
            kind: Kind::parse(&doc.document.kind).unwrap_or(Kind::Dataset),
            media_type: doc.document.media_type.clone(),
            bytes,
            hash: hash.clone(),
            source,
        });
        by_hash.insert(hash, plan.documents.len() - 1);
        index.insert(&doc.document.id, plan.documents.len() - 1);
    }
    let names: HashMap<&str, &str> = archive
        .profiles
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    for p in &archive.profiles {
        let pick = |ids: &[String]| -> Vec<usize> {
            ids.iter()
                .filter_map(|id| index.get(id.as_str()).copied())
                .collect()
        };
        plan.profiles.push(PlannedProfile {
            name: p.name.clone(),
            description: p.description.clone(),
            instructions: pick(&p.instruction_ids),
            datasets: pick(&p.dataset_ids),
            parents: p
                .parent_ids
                .iter()
                .filter_map(|id| names.get(id.as_str()).map(|n| n.to_string()))
                .collect(),
            settings: ProfileSettings {
                default_model: p.default_model.clone(),
                temperature_preset: p.temperature_preset.clone(),
                temperature: p.temperature,
                max_output_tokens: p.max_output_tokens,
            },
            source: format!("{shown}: profile {}", p.name),
        });
    }
    for c in &archive.conversations {
        let detail = ConversationDetail {
            conversation: c.conversation.clone(),
            messages: c.messages.clone(),
        };
        let branch = detail.current_branch();
        let off_branch = c.messages.len().saturating_sub(branch.len());
        let source = format!("{shown}: conversation {}", c.conversation.title);
        if off_branch > 0 {
            plan.notes.push(format!(
                "{source}: {off_branch} messages on other branches are not imported (an import holds one line of turns)"
            ));
        }
        let messages: Vec<crate::client::ImportMessage> = branch
            .iter()
            .filter(|m| m.role == "user" || m.role == "assistant")
            .map(|m| crate::client::ImportMessage {
                role: m.role.clone(),
                content: m.content.clone(),
            })
            .collect();
        if messages.is_empty() {
            plan.skip(source, "no messages");
            continue;
        }
        let key_material = serde_json::json!({
            "title": c.conversation.title,
            "created_at": c.conversation.created_at,
            "messages": messages,
        });
        plan.conversations.push(PlannedConversation {
            title: clean_title(&c.conversation.title),
            created_at: Some(c.conversation.created_at.clone()).filter(|s| !s.is_empty()),
            import_key: format!(
                "ragenie-archive:{}",
                sha256_hex(key_material.to_string().as_bytes())
            ),
            profile: c
                .conversation
                .profile_id
                .as_deref()
                .and_then(|id| names.get(id).map(|n| n.to_string())),
            model: Some(c.conversation.model.clone()).filter(|m| !m.is_empty()),
            messages,
            source,
            dropped_system: 0,
            dropped_context: 0,
            dropped_other: 0,
            existing_id: Some(c.conversation.id.clone()),
        });
    }
    plan.default_profile = archive
        .preferences
        .default_profile
        .as_deref()
        .and_then(|id| names.get(id).map(|n| n.to_string()));
    plan.default_model = archive.preferences.default_model.clone();
    plan.theme = Some(archive.preferences.theme.clone());
    plan.order_profiles();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_unique_files() {
        assert_eq!(slug("Client X / Legal!"), "client-x-legal");
        assert_eq!(slug("***"), "profile");
        assert_eq!(sanitize("../a/b\u{7}", "x"), "_a_b_");
        #[cfg(unix)]
        assert_eq!(sanitize("Why? Because: yes", "x"), "Why? Because: yes");
        let mut taken = HashSet::new();
        assert_eq!(unique("a.md".into(), &mut taken), "a.md");
        assert_eq!(unique("a.md".into(), &mut taken), "a (2).md");
        assert_eq!(unique("a.md".into(), &mut taken), "a (3).md");
    }

    #[test]
    fn a_file_name_keeps_the_media_type() {
        let doc = |name: &str, media: &str| ArchivedDocument {
            document: Document {
                id: "d".into(),
                name: name.into(),
                folder: String::new(),
                kind: "dataset".into(),
                media_type: media.into(),
                size: 1,
                content_hash: String::new(),
                status: String::new(),
                token_count: None,
            },
            encoding: "utf8".into(),
            content: "x".into(),
        };
        assert_eq!(
            file_name(&doc("workspaces/a/datasets/n.md", "text/markdown")),
            "n.md"
        );
        assert_eq!(file_name(&doc("Notes", "text/markdown")), "Notes.md");
        assert_eq!(file_name(&doc("x.py", "text/plain")), "x.py");
        assert_eq!(file_name(&doc("x.md", "text/plain")), "x.md.txt");
        // The folder comes along: same-named files of two folders do not collide.
        let mut in_folder = doc("README.md", "text/markdown");
        in_folder.document.folder = "a/b".into();
        assert_eq!(file_name(&in_folder), "a/b/README.md");
    }
}
