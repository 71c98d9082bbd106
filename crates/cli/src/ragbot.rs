//! Reads what a Ragbot user has into a [`Plan`]: the workspace layout (`workspaces/*/
//! workspace.yaml` with inheritance and `include_from_root`), `profiles.yaml` (both spellings of
//! the lists, files and folders, absolute paths from another machine), the flat
//! `custom-instructions/` + `curated-datasets/` layout, saved sessions and `engines.yaml`.
//! Nothing here talks to the server; a bad file becomes a [`crate::plan::Skipped`] entry.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use ragenie_common::clock::Timestamp;
use serde_yaml::Value as Yaml;
use sha2::{Digest, Sha256};

use crate::client::ImportMessage;
use crate::plan::{
    EnginesPlan, Kind, MAX_DOCUMENT_NAME_CHARS, Plan, PlannedConversation, PlannedDoc,
    PlannedProfile, ProfileSettings, clean_title,
};

/// Folder names whose files are custom instructions when a path names them.
const INSTRUCTION_FOLDERS: [&str; 5] = [
    "instructions",
    "runbooks",
    "custom-instructions",
    "custom_instructions",
    "custom instructions",
];

/// Largest session file read (a guard against reading something that is not a session).
const MAX_SESSION_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Files above this are skipped as oversize (RaGenie's direct-upload limit by default).
    pub max_file_bytes: u64,
    /// Read documents that resolve outside the data folder (an absolute path, `~/…`, `..`, or a
    /// link leading out). Off by default: a `profiles.yaml` from elsewhere must not be able to
    /// upload `~/.ssh/id_rsa` into the account.
    pub allow_outside: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: crate::plan::DEFAULT_MAX_FILE_BYTES,
            allow_outside: false,
        }
    }
}

/// Why a document outside the data folder was skipped.
pub const OUTSIDE_REASON: &str =
    "outside the data folder; pass --allow-outside to import files from elsewhere";

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The media type RaGenie should read a file as, or why it cannot.
pub fn classify(name: &str, bytes: &[u8]) -> Result<&'static str, String> {
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Ok("application/pdf");
    }
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if body.contains(&0) {
        return Err("binary file (not text)".into());
    }
    if std::str::from_utf8(body).is_err() {
        return Err("not UTF-8 text (save it as UTF-8 and import again)".into());
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "md" | "markdown" | "mdown" | "mkd" | "mdx" => "text/markdown",
        "html" | "htm" | "xhtml" => "text/html",
        _ => "text/plain",
    })
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// `created_at` for a file: its modification time, in the stored timestamp form.
pub fn mtime_timestamp(meta: &std::fs::Metadata) -> Option<String> {
    let modified = meta.modified().ok()?;
    Some(Timestamp::from(time::OffsetDateTime::from(modified)).to_string())
}

/// Strings of a YAML value that may be one string or a list of them.
fn strings(v: Option<&Yaml>) -> Vec<String> {
    match v {
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Sequence(items)) => items
            .iter()
            .filter_map(|i| match i {
                Yaml::String(s) => Some(s.clone()),
                Yaml::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn text(v: Option<&Yaml>) -> Option<String> {
    match v {
        Some(Yaml::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(Yaml::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Builds a plan from files, keeping every document once.
pub struct Reader {
    root: PathBuf,
    /// `root` with links resolved: what every document's resolved path must start with.
    canonical_root: PathBuf,
    options: ReadOptions,
    pub plan: Plan,
    by_hash: HashMap<String, usize>,
    /// Canonical path → document index (`None`: skipped, already reported).
    seen: HashMap<PathBuf, Option<usize>>,
}

impl Reader {
    pub fn new(root: &Path, options: ReadOptions) -> Self {
        Self {
            root: root.to_path_buf(),
            canonical_root: std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            options,
            plan: Plan::default(),
            by_hash: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    /// A path as the report shows it: relative to the data root when under it.
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_string_lossy().into_owned())
    }

    /// (folder, name) of a file: its folder relative to the data folder (`""` for a file at the
    /// top or outside it, links resolved) and its file name, so `a/README.md` and
    /// `b/README.md` stay two documents with their paths.
    fn doc_place(&self, path: &Path, canonical: &Path) -> Result<(String, String), String> {
        let folder = canonical
            .strip_prefix(&self.canonical_root)
            .ok()
            .and_then(Path::parent)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let folder = ragenie_common::folders::normalize_folder(&folder)
            .map_err(|e| format!("its folder path cannot be kept: {e}"))?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.display(path));
        Ok((folder, Self::doc_name(&file)))
    }

    fn doc_name(name: &str) -> String {
        let name = name.to_owned();
        let count = name.chars().count();
        if count <= MAX_DOCUMENT_NAME_CHARS {
            return name;
        }
        // Keep the end: the file name says more than the folders above it.
        let tail: String = name
            .chars()
            .skip(count - (MAX_DOCUMENT_NAME_CHARS - 1))
            .collect();
        format!("…{tail}")
    }

    /// Reads one file as a document of `kind`; `None` when it was skipped (and reported).
    pub fn document(&mut self, path: &Path, kind: Kind) -> Option<usize> {
        let shown = self.display(path);
        let canonical = match std::fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) => {
                self.plan.skip(shown, format!("unreadable: {e}"));
                return None;
            }
        };
        if let Some(known) = self.seen.get(&canonical) {
            return *known;
        }
        // The resolved path decides: `..`, `~`, absolute paths and links leaving the folder all
        // end up outside it.
        if !self.options.allow_outside && !canonical.starts_with(&self.canonical_root) {
            self.plan
                .skip(canonical.to_string_lossy().into_owned(), OUTSIDE_REASON);
            self.seen.insert(canonical, None);
            return None;
        }
        let result = self.read_document(path, &canonical, &shown, kind);
        self.seen.insert(canonical, result);
        result
    }

    fn read_document(
        &mut self,
        path: &Path,
        canonical: &Path,
        shown: &str,
        kind: Kind,
    ) -> Option<usize> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.plan.skip(shown, format!("unreadable: {e}"));
                return None;
            }
        };
        if !meta.is_file() {
            self.plan.skip(shown, "not a regular file");
            return None;
        }
        if meta.len() > self.options.max_file_bytes {
            self.plan.skip(
                shown,
                format!(
                    "oversize: {} bytes; RaGenie takes files up to {} bytes",
                    meta.len(),
                    self.options.max_file_bytes
                ),
            );
            return None;
        }
        if meta.len() == 0 {
            self.plan.skip(shown, "empty file");
            return None;
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.plan.skip(shown, format!("unreadable: {e}"));
                return None;
            }
        };
        let (folder, name) = match self.doc_place(path, canonical) {
            Ok(place) => place,
            Err(reason) => {
                self.plan.skip(shown, reason);
                return None;
            }
        };
        let media_type = match classify(&name, &bytes) {
            Ok(m) => m,
            Err(reason) => {
                self.plan.skip(shown, reason);
                return None;
            }
        };
        if std::str::from_utf8(&bytes).is_ok_and(|t| t.trim().is_empty()) {
            self.plan.skip(shown, "only whitespace: nothing to import");
            return None;
        }
        let hash = sha256_hex(&bytes);
        if let Some(&i) = self.by_hash.get(&hash) {
            self.plan.notes.push(format!(
                "{shown}: same content as {}; uploaded once",
                self.plan.documents[i].source
            ));
            return Some(i);
        }
        self.plan.documents.push(PlannedDoc {
            name,
            folder,
            kind,
            media_type: media_type.into(),
            bytes,
            hash: hash.clone(),
            source: shown.to_owned(),
        });
        let i = self.plan.documents.len() - 1;
        self.by_hash.insert(hash, i);
        Some(i)
    }

    /// Every non-hidden file under `path` (itself when it is a file), sorted, as `kind`.
    pub fn collect(&mut self, path: &Path, kind: Kind) -> Vec<usize> {
        let mut out = Vec::new();
        for file in self.files(path) {
            if let Some(i) = self.document(&file, kind)
                && !out.contains(&i)
            {
                out.push(i);
            }
        }
        out
    }

    /// Non-hidden files under `path`, sorted; unreadable entries are reported.
    fn files(&mut self, path: &Path) -> Vec<PathBuf> {
        if !path.is_dir() {
            return vec![path.to_path_buf()];
        }
        let mut files = Vec::new();
        let walk = walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.path()));
        for entry in walk {
            match entry {
                Ok(e) if e.file_type().is_dir() => {}
                Ok(e) => files.push(e.path().to_path_buf()),
                Err(e) => {
                    let shown = e
                        .path()
                        .map(|p| self.display(p))
                        .unwrap_or_else(|| self.display(path));
                    let reason = match e.io_error() {
                        Some(io) => format!("unreadable: {io}"),
                        None => format!("unreadable: {e}"),
                    };
                    self.plan.skip(shown, reason);
                }
            }
        }
        files
    }

    fn read_yaml(&mut self, path: &Path) -> Option<Yaml> {
        let shown = self.display(path);
        let text = match std::fs::read(path) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(_) => {
                    self.plan.skip(shown, "not UTF-8 text");
                    return None;
                }
            },
            Err(e) => {
                self.plan.skip(shown, format!("unreadable: {e}"));
                return None;
            }
        };
        match serde_yaml::from_str::<Yaml>(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.plan.skip(shown, format!("invalid YAML: {e}"));
                None
            }
        }
    }

    /// Resolves a path written in a Ragbot file: `~/`, relative to the data root, or absolute.
    /// An absolute path from another machine is looked for under the data root by its
    /// trailing components (`/Users/me/ragbot-data/curated-datasets/x` → `curated-datasets/x`).
    fn resolve(&mut self, raw: &str, context: &str) -> Option<PathBuf> {
        let raw = raw.trim();
        let expanded = match raw.strip_prefix("~/") {
            Some(rest) => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(rest))
                .unwrap_or_else(|| PathBuf::from(raw)),
            None => PathBuf::from(raw),
        };
        let candidate = if expanded.is_absolute() {
            expanded.clone()
        } else {
            self.root.join(&expanded)
        };
        if candidate.exists() {
            return Some(candidate);
        }
        if expanded.is_absolute() {
            let parts: Vec<Component> = expanded
                .components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .collect();
            for start in 1..parts.len() {
                let rel: PathBuf = parts[start..].iter().collect();
                let here = self.root.join(&rel);
                if here.exists() {
                    self.plan.notes.push(format!(
                        "{context}: `{raw}` does not exist here; used {}",
                        self.display(&here)
                    ));
                    return Some(here);
                }
            }
        }
        if candidate.is_symlink() {
            self.plan.skip(
                self.display(&candidate),
                "unreadable: a link to a file that does not exist",
            );
        } else {
            self.plan.skip(
                raw,
                format!("{context} refers to it, but it does not exist"),
            );
        }
        None
    }

    /// `<root>/workspaces/`: one profile per folder.
    pub fn read_workspaces(&mut self) {
        let ws_root = self.root.join("workspaces");
        self.plan.layouts.push("workspaces".into());
        let config = ws_root.join("config.yaml");
        let mut default_workspace = None;
        if config.is_file()
            && let Some(v) = self.read_yaml(&config)
        {
            default_workspace = text(v.get("default_workspace"));
        }
        let mut dirs: Vec<PathBuf> = match std::fs::read_dir(&ws_root) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !is_hidden(p))
                .collect(),
            Err(e) => {
                self.plan
                    .skip(self.display(&ws_root), format!("unreadable: {e}"));
                return;
            }
        };
        dirs.sort();
        struct Ws {
            dir: String,
            name: String,
            parents: Vec<String>,
        }
        let mut spaces: Vec<Ws> = Vec::new();
        let first = self.plan.profiles.len();
        for dir in &dirs {
            let dir_name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let manifest = dir.join("workspace.yaml");
            let meta = if manifest.is_file() {
                self.read_yaml(&manifest)
            } else {
                None
            };
            let meta = meta.as_ref();
            let mut name = text(meta.and_then(|m| m.get("name"))).unwrap_or(dir_name.clone());
            if spaces.iter().any(|s| s.name == name)
                || self.plan.profiles.iter().any(|p| p.name == name)
            {
                let renamed = format!("{name} ({dir_name})");
                self.plan.notes.push(format!(
                    "workspaces/{dir_name}: another workspace is also named `{name}`; imported as `{renamed}`"
                ));
                name = renamed;
            }
            let description = text(meta.and_then(|m| m.get("description"))).unwrap_or_default();
            let parents = strings(meta.and_then(|m| m.get("inherits_from")));
            let includes = strings(meta.and_then(|m| m.get("include_from_root")));
            for field in ["status", "type"] {
                if let Some(v) = text(meta.and_then(|m| m.get(field))) {
                    self.plan.notes.push(format!(
                        "workspaces/{dir_name}: `{field}: {v}` has no RaGenie counterpart; not kept"
                    ));
                }
            }
            let mut instructions = Vec::new();
            let mut datasets = Vec::new();
            for sub in ["instructions", "runbooks"] {
                let folder = dir.join(sub);
                if folder.is_dir() {
                    instructions.extend(self.collect(&folder, Kind::Instructions));
                }
            }
            let mut loose: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| !is_hidden(p))
                        .collect()
                })
                .unwrap_or_default();
            loose.sort();
            let datasets_dir = dir.join("datasets");
            if datasets_dir.is_dir() {
                datasets.extend(self.collect(&datasets_dir, Kind::Dataset));
            }
            for path in loose {
                let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if ["instructions", "runbooks", "datasets", "workspace.yaml"].contains(&file) {
                    continue;
                }
                datasets.extend(self.collect(&path, Kind::Dataset));
            }
            for include in &includes {
                let context = format!("workspaces/{dir_name}/workspace.yaml include_from_root");
                let Some(path) = self.resolve(include, &context) else {
                    continue;
                };
                let rel = path.strip_prefix(&self.root).unwrap_or(&path);
                let kind = if rel.components().any(|c| {
                    INSTRUCTION_FOLDERS.contains(&c.as_os_str().to_string_lossy().as_ref())
                }) {
                    Kind::Instructions
                } else {
                    Kind::Dataset
                };
                let found = self.collect(&path, kind);
                match kind {
                    Kind::Instructions => instructions.extend(found),
                    Kind::Dataset => datasets.extend(found),
                }
            }
            dedup(&mut instructions);
            dedup(&mut datasets);
            spaces.push(Ws {
                dir: dir_name.clone(),
                name: name.clone(),
                parents,
            });
            self.plan.profiles.push(PlannedProfile {
                name,
                description,
                instructions,
                datasets,
                parents: Vec::new(),
                settings: ProfileSettings::default(),
                source: format!("workspaces/{dir_name}"),
            });
        }
        // `inherits_from` names folders (or, failing that, workspace names).
        for (k, ws) in spaces.iter().enumerate() {
            let mut parents = Vec::new();
            for parent in &ws.parents {
                let found = spaces
                    .iter()
                    .find(|s| &s.dir == parent)
                    .or_else(|| spaces.iter().find(|s| &s.name == parent));
                match found {
                    Some(p) => parents.push(p.name.clone()),
                    None => self.plan.notes.push(format!(
                        "workspaces/{}: inherits from `{parent}`, which is not a workspace here; ignored",
                        ws.dir
                    )),
                }
            }
            self.plan.profiles[first + k].parents = parents;
        }
        if let Some(default) = default_workspace {
            match spaces
                .iter()
                .find(|s| s.dir == default || s.name == default)
            {
                Some(ws) => self.plan.default_profile = Some(ws.name.clone()),
                None => self.plan.notes.push(format!(
                    "workspaces/config.yaml: default_workspace `{default}` is not a workspace here"
                )),
            }
        }
    }

    /// `<root>/profiles.yaml` (the older layout, and the flat one it refers to).
    pub fn read_profiles_yaml(&mut self, path: &Path) {
        self.plan.layouts.push("profiles.yaml".into());
        let Some(doc) = self.read_yaml(path) else {
            return;
        };
        let shown = self.display(path);
        let entries = match doc.get("profiles").unwrap_or(&doc) {
            Yaml::Sequence(items) => items.clone(),
            _ => {
                self.plan
                    .skip(shown, "no `profiles:` list (not a Ragbot profiles.yaml)");
                return;
            }
        };
        for (n, entry) in entries.iter().enumerate() {
            let Some(name) = text(entry.get("name")) else {
                self.plan.skip(
                    format!("{shown} (profile #{})", n + 1),
                    "a profile without a name",
                );
                continue;
            };
            if name.to_lowercase().starts_with("(none") {
                self.plan.skip(
                    format!("{shown}: profile `{name}`"),
                    "the \"no profile\" choice, not a profile",
                );
                continue;
            }
            let earlier = self.plan.profiles.iter().position(|p| p.name == name);
            if let Some(i) = earlier
                && !self.plan.profiles[i].source.starts_with("workspaces/")
            {
                self.plan.skip(
                    format!("{shown}: profile `{name}`"),
                    "a second profile of this name in the same file",
                );
                continue;
            }
            let context = format!("{shown} profile `{name}`");
            let mut instructions = Vec::new();
            let mut datasets = Vec::new();
            for key in ["custom_instructions", "instructions"] {
                for raw in strings(entry.get(key)) {
                    if let Some(p) = self.resolve(&raw, &context) {
                        instructions.extend(self.collect(&p, Kind::Instructions));
                    }
                }
            }
            for key in ["curated_datasets", "datasets"] {
                for raw in strings(entry.get(key)) {
                    if let Some(p) = self.resolve(&raw, &context) {
                        datasets.extend(self.collect(&p, Kind::Dataset));
                    }
                }
            }
            dedup(&mut instructions);
            dedup(&mut datasets);
            if let Some(i) = earlier {
                // A workspace of the same name: one profile with the documents of both.
                let p = &mut self.plan.profiles[i];
                p.instructions.extend(instructions);
                p.datasets.extend(datasets);
                dedup(&mut p.instructions);
                dedup(&mut p.datasets);
                self.plan.notes.push(format!(
                    "{context}: merged into the workspace of the same name"
                ));
                continue;
            }
            self.plan.profiles.push(PlannedProfile {
                name,
                description: text(entry.get("description")).unwrap_or_default(),
                instructions,
                datasets,
                parents: strings(entry.get("inherits_from")),
                settings: ProfileSettings::default(),
                source: context,
            });
        }
    }

    /// Files in the flat layout's folders that no profile refers to are reported, not lost
    /// silently.
    fn report_unreferenced(&mut self) {
        for folder in ["custom-instructions", "curated-datasets"] {
            let dir = self.root.join(folder);
            if !dir.is_dir() {
                continue;
            }
            for file in self.files(&dir) {
                let Ok(canonical) = std::fs::canonicalize(&file) else {
                    continue;
                };
                if !self.seen.contains_key(&canonical) {
                    let shown = self.display(&file);
                    self.plan
                        .skip(shown, "not referenced by any profile in profiles.yaml");
                }
            }
        }
    }

    /// `<root>/unlinked/{instructions,datasets}/`: documents without a profile (what `ragenie
    /// export` writes for them).
    pub fn read_unlinked(&mut self) {
        for (sub, kind) in [
            ("instructions", Kind::Instructions),
            ("datasets", Kind::Dataset),
        ] {
            let dir = self.root.join("unlinked").join(sub);
            if dir.is_dir() {
                self.collect(&dir, kind);
            }
        }
    }

    /// A folder of session files, or one file.
    pub fn read_sessions(&mut self, path: &Path) {
        if !self.plan.layouts.iter().any(|l| l == "sessions") {
            self.plan.layouts.push("sessions".into());
        }
        let files: Vec<PathBuf> = if path.is_dir() {
            let mut files: Vec<PathBuf> = self
                .files(path)
                .into_iter()
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
                })
                .collect();
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        for file in files {
            self.read_session(&file);
        }
    }

    fn read_session(&mut self, path: &Path) {
        let shown = self.display(path);
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return self.plan.skip(shown, format!("unreadable: {e}")),
        };
        if !meta.is_file() {
            return self.plan.skip(shown, "not a regular file");
        }
        if meta.len() > MAX_SESSION_BYTES {
            return self
                .plan
                .skip(shown, format!("oversize: {} bytes", meta.len()));
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return self.plan.skip(shown, format!("unreadable: {e}")),
        };
        let value: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => return self.plan.skip(shown, format!("invalid JSON: {e}")),
        };
        let title = path
            .file_stem()
            .map(|s| clean_title(&s.to_string_lossy()))
            .unwrap_or_else(|| "Ragbot session".into());
        match session_messages(&value) {
            Ok(parsed) if parsed.messages.is_empty() => self.plan.skip(
                shown,
                format!(
                    "no user or assistant messages ({} system messages only)",
                    parsed.dropped_system
                ),
            ),
            Ok(parsed) => self.plan.conversations.push(PlannedConversation {
                title,
                created_at: mtime_timestamp(&meta),
                import_key: sha256_hex(&bytes),
                profile: None,
                model: None,
                messages: parsed.messages,
                source: shown,
                dropped_system: parsed.dropped_system,
                dropped_context: parsed.dropped_context,
                dropped_other: parsed.dropped_other,
                existing_id: None,
            }),
            Err(reason) => self.plan.skip(shown, reason),
        }
    }

    /// Ragbot's `engines.yaml`.
    pub fn read_engines(&mut self, path: &Path) {
        self.plan.layouts.push("engines.yaml".into());
        let Some(doc) = self.read_yaml(path) else {
            return;
        };
        let shown = self.display(path);
        let mut plan = EnginesPlan {
            source: shown.clone(),
            default_engine: text(doc.get("default")),
            ..EnginesPlan::default()
        };
        if let Some(Yaml::Mapping(temps)) = doc.get("temperature_settings") {
            for (k, v) in temps {
                if let (Some(k), Some(v)) = (k.as_str(), v.as_f64()) {
                    plan.temperature_settings.push((k.to_owned(), v));
                }
            }
        }
        let Some(Yaml::Sequence(engines)) = doc.get("engines") else {
            self.plan.skip(shown, "no `engines:` list");
            return;
        };
        for engine in engines {
            let Some(name) = text(engine.get("name")) else {
                continue;
            };
            let models: Vec<String> = match engine.get("models") {
                Some(Yaml::Sequence(models)) => models
                    .iter()
                    .filter_map(|m| text(m.get("name")).or_else(|| text(Some(m))))
                    .collect(),
                _ => Vec::new(),
            };
            if plan.default_engine.as_deref() == Some(name.as_str()) {
                plan.default_model =
                    text(engine.get("default_model")).or_else(|| models.first().cloned());
            }
            plan.models
                .extend(models.into_iter().map(|m| (m, name.clone())));
        }
        self.plan.engines = Some(plan);
    }

    /// Reads everything under a Ragbot data root.
    pub fn read_data_root(&mut self) {
        let mut found = false;
        if self.root.join("workspaces").is_dir() {
            self.read_workspaces();
            found = true;
        }
        let profiles = self.root.join("profiles.yaml");
        if profiles.is_file() {
            self.read_profiles_yaml(&profiles);
            self.report_unreferenced();
            found = true;
        } else {
            let flat: Vec<&str> = ["custom-instructions", "curated-datasets"]
                .into_iter()
                .filter(|f| self.root.join(f).is_dir())
                .collect();
            if !flat.is_empty() {
                // The flat layout without its profiles.yaml: one profile holds everything.
                self.plan.layouts.push("flat folders".into());
                let name = self
                    .root
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "Ragbot".into());
                let instructions =
                    self.collect(&self.root.join("custom-instructions"), Kind::Instructions);
                let datasets = self.collect(&self.root.join("curated-datasets"), Kind::Dataset);
                self.plan.notes.push(format!(
                    "no profiles.yaml: everything in {} went into one profile, `{name}`",
                    flat.join(" and ")
                ));
                self.plan.profiles.push(PlannedProfile {
                    name,
                    description: "Imported from Ragbot".into(),
                    instructions,
                    datasets,
                    parents: vec![],
                    settings: ProfileSettings::default(),
                    source: "flat layout".into(),
                });
                found = true;
            }
        }
        if self.root.join("unlinked").is_dir() {
            self.read_unlinked();
            found = true;
        }
        let sessions = self.root.join("sessions");
        if sessions.is_dir() {
            self.read_sessions(&sessions);
            found = true;
        }
        let engines = self.root.join("engines.yaml");
        if engines.is_file() {
            self.read_engines(&engines);
            found = true;
        }
        if !found {
            self.plan.notes.push(format!(
                "{}: no workspaces/, profiles.yaml, custom-instructions/, curated-datasets/, sessions/ or engines.yaml found",
                self.root.display()
            ));
        }
    }

    pub fn finish(mut self) -> Plan {
        self.plan.order_profiles();
        self.plan
    }
}

fn dedup(ids: &mut Vec<usize>) {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|i| seen.insert(*i));
}

pub struct SessionMessages {
    pub messages: Vec<ImportMessage>,
    pub dropped_system: usize,
    pub dropped_context: usize,
    pub dropped_other: usize,
}

/// The user and assistant turns of a saved Ragbot session. System messages are dropped (also
/// the thousands of one-character ones some builds saved); so are leading user turns that only
/// carry Ragbot's `<documents>` block (models without a system role got the context that way).
pub fn session_messages(value: &serde_json::Value) -> Result<SessionMessages, String> {
    let items = value.as_array().ok_or_else(|| {
        format!(
            "not a Ragbot session: expected a JSON array of messages, found {}",
            match value {
                serde_json::Value::Object(_) => "an object",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Null => "null",
                serde_json::Value::Array(_) => "an array",
            }
        )
    })?;
    let mut out = SessionMessages {
        messages: Vec::new(),
        dropped_system: 0,
        dropped_context: 0,
        dropped_other: 0,
    };
    for item in items {
        let role = item["role"].as_str().unwrap_or_default();
        let content = match &item["content"] {
            serde_json::Value::String(s) => s.clone(),
            // Content as a list of parts: keep the text parts.
            serde_json::Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str().or_else(|| p.as_str()))
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        };
        match role {
            "system" => out.dropped_system += 1,
            "user" | "assistant" if !content.trim().is_empty() => {
                let is_context = role == "user"
                    && out.messages.is_empty()
                    && content.trim_start().starts_with("<documents>")
                    && content.trim_end().ends_with("</documents>");
                if is_context {
                    out.dropped_context += 1;
                } else {
                    out.messages.push(ImportMessage {
                        role: role.into(),
                        content,
                    });
                }
            }
            _ => out.dropped_other += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_profiles_yaml_profile_named_like_a_workspace_joins_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("workspaces/home/datasets")).unwrap();
        std::fs::write(root.join("workspaces/home/workspace.yaml"), "name: Home\n").unwrap();
        std::fs::write(root.join("workspaces/home/datasets/a.md"), "# A\n").unwrap();
        std::fs::write(root.join("b.md"), "# B\n").unwrap();
        std::fs::write(
            root.join("profiles.yaml"),
            "profiles:\n  - name: Home\n    datasets: [b.md, workspaces/home/datasets/a.md]\n",
        )
        .unwrap();
        let mut reader = Reader::new(root, ReadOptions::default());
        reader.read_data_root();
        let plan = reader.finish();
        assert_eq!(plan.profiles.len(), 1);
        assert_eq!(plan.profiles[0].datasets, [0, 1], "a.md once, then b.md");
        assert_eq!(plan.documents[1].name, "b.md");
        assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
    }

    #[test]
    fn media_types_come_from_content_then_extension() {
        assert_eq!(classify("a.md", b"# hi"), Ok("text/markdown"));
        assert_eq!(classify("a.py", b"print(1)"), Ok("text/plain"));
        assert_eq!(classify("a.htm", b"<p>x</p>"), Ok("text/html"));
        assert_eq!(classify("a.txt", b"%PDF-1.4 ..."), Ok("application/pdf"));
        assert!(classify("a.png", b"\x89PNG\r\n\x1a\n\0\0").is_err());
        assert!(classify("a.txt", b"caf\xe9").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn one_character_system_messages_and_document_turns_are_dropped() {
        let mut items: Vec<serde_json::Value> = "You are helpful"
            .chars()
            .map(|c| json!({"role": "system", "content": c.to_string()}))
            .collect();
        items.push(json!({"role": "user", "content": "<documents>\n<document index=\"1\">x</document>\n</documents>"}));
        items.push(json!({"role": "user", "content": "Hi"}));
        items.push(json!({"role": "tool", "content": "?"}));
        items.push(json!({"role": "assistant", "content": [{"type": "text", "text": "Hello"}]}));
        let parsed = session_messages(&serde_json::Value::Array(items)).unwrap();
        assert_eq!(parsed.dropped_system, 15);
        assert_eq!(parsed.dropped_context, 1);
        assert_eq!(parsed.dropped_other, 1);
        let turns: Vec<(&str, &str)> = parsed
            .messages
            .iter()
            .map(|m| (m.role.as_str(), m.content.as_str()))
            .collect();
        assert_eq!(turns, [("user", "Hi"), ("assistant", "Hello")]);
        assert!(session_messages(&json!({"messages": []})).is_err());
    }
}
