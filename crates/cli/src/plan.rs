//! What an import will do, independent of where it came from (a Ragbot data folder, saved
//! sessions, `engines.yaml`, or a RaGenie JSON archive): documents unique by content, profiles
//! in parent-first order, conversations, preferences, and every file that was skipped and why.

use serde::Serialize;

use crate::client::ImportMessage;

/// RaGenie's default limit on a direct upload (`RAGENIE_MAX_UPLOAD_BYTES`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 6 * 1024 * 1024;
/// How many instruction and dataset documents a profile may list (the server refuses more).
pub const MAX_INSTRUCTIONS: usize = 50;
pub const MAX_DATASETS: usize = 500;
/// RaGenie's limit on a document name.
pub const MAX_DOCUMENT_NAME_CHARS: usize = 200;

/// "1 profile", "2 profiles".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// RaGenie's limit on a conversation title.
pub const MAX_TITLE_CHARS: usize = 200;

/// A title RaGenie accepts: control characters become spaces, at most 200 characters.
pub fn clean_title(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    let cut: String = cleaned.chars().take(MAX_TITLE_CHARS).collect();
    let cut = cut.trim().to_owned();
    if cut.is_empty() {
        "Untitled".into()
    } else {
        cut
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    Instructions,
    Dataset,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instructions => "instructions",
            Kind::Dataset => "dataset",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "instructions" => Some(Kind::Instructions),
            "dataset" | "datasets" => Some(Kind::Dataset),
            _ => None,
        }
    }
}

/// A document to upload (once, however many profiles use it).
#[derive(Clone, Debug)]
pub struct PlannedDoc {
    /// The file's name (unique in its folder).
    pub name: String,
    /// Its folder relative to the data folder (`a/b`; `""`: the top).
    pub folder: String,
    /// The kind of its first use; a profile may still list it under the other kind.
    pub kind: Kind,
    pub media_type: String,
    pub bytes: Vec<u8>,
    /// SHA-256 of the bytes, hex: what RaGenie dedupes on.
    pub hash: String,
    /// Where it came from, for the report.
    pub source: String,
}

/// Model settings only a RaGenie archive carries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileSettings {
    pub default_model: Option<String>,
    pub temperature_preset: Option<String>,
    pub temperature: Option<f64>,
    pub max_output_tokens: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct PlannedProfile {
    pub name: String,
    pub description: String,
    /// Indexes into [`Plan::documents`], in order.
    pub instructions: Vec<usize>,
    pub datasets: Vec<usize>,
    /// Names of profiles earlier in [`Plan::profiles`].
    pub parents: Vec<String>,
    pub settings: ProfileSettings,
    pub source: String,
}

#[derive(Clone, Debug)]
pub struct PlannedConversation {
    pub title: String,
    pub created_at: Option<String>,
    pub import_key: String,
    /// A profile name from the plan or the account.
    pub profile: Option<String>,
    pub model: Option<String>,
    pub messages: Vec<ImportMessage>,
    pub source: String,
    /// System messages left out (the context now comes from the profile).
    pub dropped_system: usize,
    /// Leading user turns that only carried Ragbot's `<documents>` block.
    pub dropped_context: usize,
    /// Messages whose role was neither user, assistant nor system, or that were empty.
    pub dropped_other: usize,
    /// From an archive: the conversation's id where it was exported (already there when the
    /// archive goes back into the same account).
    pub existing_id: Option<String>,
}

/// `engines.yaml`: what may become preferences.
#[derive(Clone, Debug, Default)]
pub struct EnginesPlan {
    pub source: String,
    pub default_engine: Option<String>,
    pub default_model: Option<String>,
    /// Every model id listed, with its engine.
    pub models: Vec<(String, String)>,
    pub temperature_settings: Vec<(String, f64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// What was read: `workspaces`, `profiles.yaml`, `sessions`, `engines.yaml`, `archive`…
    pub layouts: Vec<String>,
    pub documents: Vec<PlannedDoc>,
    pub profiles: Vec<PlannedProfile>,
    pub conversations: Vec<PlannedConversation>,
    pub engines: Option<EnginesPlan>,
    /// A profile name to make the default (Ragbot's `default_workspace`, an archive's).
    pub default_profile: Option<String>,
    /// An archive's preferred model (checked against the catalog like `engines.yaml`'s).
    pub default_model: Option<String>,
    pub theme: Option<String>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

impl Plan {
    pub fn skip(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            path: path.into(),
            reason: reason.into(),
        });
    }

    /// The documents no profile lists.
    pub fn unlinked_documents(&self) -> Vec<usize> {
        (0..self.documents.len())
            .filter(|i| {
                !self
                    .profiles
                    .iter()
                    .any(|p| p.instructions.contains(i) || p.datasets.contains(i))
            })
            .collect()
    }

    /// Orders profiles so parents come first and drops inheritance that would loop (Ragbot
    /// ignored such loops; RaGenie refuses them). Unknown parents are dropped with a note.
    pub fn order_profiles(&mut self) {
        let names: Vec<String> = self.profiles.iter().map(|p| p.name.clone()).collect();
        for p in &mut self.profiles {
            let before = std::mem::take(&mut p.parents);
            for parent in before {
                if parent == p.name {
                    self.notes
                        .push(format!("{}: inherits from itself; ignored", p.name));
                } else if !names.contains(&parent) {
                    self.notes.push(format!(
                        "{}: inherits from `{parent}`, which is not being imported; it must already exist in RaGenie",
                        p.name
                    ));
                    p.parents.push(parent);
                } else if !p.parents.contains(&parent) {
                    p.parents.push(parent);
                }
            }
        }
        // Depth-first from each profile in file order; an edge back to a profile on the current
        // path closes a loop and is dropped.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let mut marks = vec![Mark::New; self.profiles.len()];
        let mut order = Vec::new();
        let mut dropped = Vec::new();
        fn visit(
            i: usize,
            profiles: &[PlannedProfile],
            names: &[String],
            marks: &mut [Mark],
            order: &mut Vec<usize>,
            dropped: &mut Vec<(usize, String)>,
        ) {
            marks[i] = Mark::Open;
            for parent in &profiles[i].parents {
                let Some(j) = names.iter().position(|n| n == parent) else {
                    continue;
                };
                match marks[j] {
                    Mark::New => visit(j, profiles, names, marks, order, dropped),
                    Mark::Open => dropped.push((i, parent.clone())),
                    Mark::Done => {}
                }
            }
            marks[i] = Mark::Done;
            order.push(i);
        }
        for i in 0..self.profiles.len() {
            if marks[i] == Mark::New {
                visit(
                    i,
                    &self.profiles,
                    &names,
                    &mut marks,
                    &mut order,
                    &mut dropped,
                );
            }
        }
        for (i, parent) in dropped {
            let p = &mut self.profiles[i];
            p.parents.retain(|x| x != &parent);
            self.notes.push(format!(
                "{}: inheriting from `{parent}` would loop; that link is ignored",
                p.name
            ));
        }
        let mut slots: Vec<Option<PlannedProfile>> = std::mem::take(&mut self.profiles)
            .into_iter()
            .map(Some)
            .collect();
        self.profiles = order.into_iter().filter_map(|i| slots[i].take()).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, parents: &[&str]) -> PlannedProfile {
        PlannedProfile {
            name: name.into(),
            description: String::new(),
            instructions: vec![],
            datasets: vec![],
            parents: parents.iter().map(|p| p.to_string()).collect(),
            settings: ProfileSettings::default(),
            source: name.into(),
        }
    }

    #[test]
    fn parents_come_first_and_loops_are_cut() {
        let mut plan = Plan {
            profiles: vec![
                profile("child", &["mid"]),
                profile("mid", &["root", "child"]),
                profile("root", &["root"]),
            ],
            ..Plan::default()
        };
        plan.order_profiles();
        let order: Vec<&str> = plan.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(order, ["root", "mid", "child"]);
        assert_eq!(plan.profiles[0].parents, Vec::<String>::new());
        assert_eq!(plan.profiles[1].parents, ["root"]);
        assert_eq!(plan.profiles[2].parents, ["mid"]);
        assert_eq!(plan.notes.len(), 2, "{:?}", plan.notes);
    }
}
