//! Profiles: a named set of instructions (always-on system prompt documents, in order),
//! datasets (knowledge documents) and model settings, optionally inheriting from parent
//! profiles. Other functions load what a conversation uses with [`resolve_profile_chain`].
//!
//! Document ids are checked for shape only: the documents function owns documents and lands in
//! parallel; a profile may name a document that is later deleted, and whoever resolves the
//! profile skips documents that no longer exist.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::http::{not_null, present};
use utoipa::ToSchema;

use super::error::{AccountError, AccountResult};
use super::ids::{ProfileId, UserId};
use super::{ListPage, keys, preferences};
use crate::clock::{self, Timestamp};
use crate::storage::{Condition, Item, Query, StoreError, Table};

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_INSTRUCTIONS: usize = 50;
pub const MAX_DATASETS: usize = 500;
pub const MAX_PARENTS: usize = 10;
/// Folders a profile may reference (each brings every dataset in it and below it).
pub const MAX_FOLDERS: usize = 50;
pub const MAX_DOCUMENT_ID_CHARS: usize = 64;
pub const MAX_MODEL_CHARS: usize = 200;
pub const MAX_OUTPUT_TOKENS: u32 = 1_000_000;
pub const MAX_TEMPERATURE: f64 = 2.0;
/// How many ancestors a chain may have; deeper inheritance is refused when saved.
pub const MAX_CHAIN: usize = 32;

/// Ragbot's presets; `custom` takes `temperature` as given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TemperaturePreset {
    Precise,
    #[default]
    Balanced,
    Creative,
    Custom,
}

impl TemperaturePreset {
    /// The temperature of a preset (`None` for `custom`).
    pub fn temperature(self) -> Option<f64> {
        match self {
            Self::Precise => Some(0.25),
            Self::Balanced => Some(0.5),
            Self::Creative => Some(0.75),
            Self::Custom => None,
        }
    }
}

/// A profile as stored and shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    pub id: ProfileId,
    pub name: String,
    pub description: String,
    /// Instruction documents, always included whole, in this order.
    pub instruction_ids: Vec<String>,
    /// Dataset (knowledge) documents, in this order.
    pub dataset_ids: Vec<String>,
    /// Folders whose datasets the profile uses, subfolders included: a file added to one later
    /// joins the profile. Normalised paths (`a/b`).
    #[serde(default)]
    pub folders: Vec<String>,
    /// Profiles this one inherits instructions and datasets from, in this order.
    pub parent_ids: Vec<ProfileId>,
    pub default_model: Option<String>,
    pub temperature_preset: TemperaturePreset,
    /// The effective temperature: the preset's, or the custom value.
    pub temperature: f64,
    pub max_output_tokens: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Increases with every change.
    pub version: u64,
}

/// `POST /profiles`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProfile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub instruction_ids: Vec<String>,
    #[serde(default)]
    pub dataset_ids: Vec<String>,
    /// Folders whose datasets (subfolders included) the profile uses; at most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub folders: Vec<String>,
    #[serde(default)]
    pub parent_ids: Vec<ProfileId>,
    #[serde(default)]
    pub default_model: Option<String>,
    #[serde(default)]
    pub temperature_preset: TemperaturePreset,
    /// Required with `temperature_preset: custom`, refused otherwise. 0 to 2.
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
}

/// `PATCH /profiles/{id}`: only the fields present change; `null` clears `default_model` and
/// `max_output_tokens`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub instruction_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub dataset_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, max_items = 50)]
    pub folders: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub parent_ids: Option<Vec<ProfileId>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub default_model: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub temperature_preset: Option<TemperaturePreset>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub temperature: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub max_output_tokens: Option<Option<u32>>,
    /// When given, the update applies only if the profile is still at this version (409
    /// otherwise).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub version: Option<u64>,
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> AccountResult<String> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(AccountError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(AccountError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(AccountError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

fn check_document_ids(field: &str, ids: &[String], max: usize) -> AccountResult<()> {
    if ids.len() > max {
        return Err(AccountError::invalid(
            field,
            format!("at most {max} documents"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        let ok = !id.is_empty()
            && id.len() <= MAX_DOCUMENT_ID_CHARS
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(AccountError::invalid(
                format!("{field}[{i}]"),
                format!(
                    "is not a document id (1 to {MAX_DOCUMENT_ID_CHARS} letters, digits, - or _)"
                ),
            ));
        }
        if !seen.insert(id) {
            return Err(AccountError::invalid(
                format!("{field}[{i}]"),
                "is listed twice",
            ));
        }
    }
    Ok(())
}

/// Normalises the folder paths; refuses the root, duplicates and more than [`MAX_FOLDERS`].
fn check_folders(folders: Vec<String>) -> AccountResult<Vec<String>> {
    if folders.len() > MAX_FOLDERS {
        return Err(AccountError::invalid(
            "folders",
            format!("at most {MAX_FOLDERS} folders"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(folders.len());
    for (i, raw) in folders.iter().enumerate() {
        let field = format!("folders[{i}]");
        let path = crate::folders::normalize_folder(raw)
            .map_err(|e| AccountError::invalid(field.clone(), e.0))?;
        if path.is_empty() {
            return Err(AccountError::invalid(
                field,
                "is the root (every document); name a folder",
            ));
        }
        if out.contains(&path) {
            return Err(AccountError::invalid(field, "is listed twice"));
        }
        out.push(path);
    }
    Ok(out)
}

fn check_model(model: Option<String>) -> AccountResult<Option<String>> {
    match model {
        None => Ok(None),
        Some(m) => {
            let m = check_text("default_model", &m, MAX_MODEL_CHARS, true)?;
            Ok(Some(m))
        }
    }
}

fn check_max_output(tokens: Option<u32>) -> AccountResult<Option<u32>> {
    match tokens {
        Some(t) if t == 0 || t > MAX_OUTPUT_TOKENS => Err(AccountError::invalid(
            "max_output_tokens",
            format!("must be between 1 and {MAX_OUTPUT_TOKENS}"),
        )),
        other => Ok(other),
    }
}

/// The effective temperature of a preset and an optional custom value.
fn effective_temperature(preset: TemperaturePreset, custom: Option<f64>) -> AccountResult<f64> {
    match (preset.temperature(), custom) {
        (Some(t), None) => Ok(t),
        (Some(_), Some(_)) => Err(AccountError::invalid(
            "temperature",
            "is only set with temperature_preset \"custom\"",
        )),
        (None, None) => Err(AccountError::invalid(
            "temperature",
            "is required with temperature_preset \"custom\"",
        )),
        (None, Some(t)) if t.is_finite() && (0.0..=MAX_TEMPERATURE).contains(&t) => Ok(t),
        (None, Some(_)) => Err(AccountError::invalid(
            "temperature",
            format!("must be between 0 and {MAX_TEMPERATURE}"),
        )),
    }
}

/// Every profile of the user, by id (profiles per user are few; a cycle check needs them all).
async fn load_all(table: &dyn Table, user: UserId) -> AccountResult<HashMap<ProfileId, Profile>> {
    let mut all = HashMap::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(user.partition())
                    .prefix(keys::PROFILE_PREFIX)
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            let p: Profile = item.decode()?;
            all.insert(p.id, p);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(all),
        }
    }
}

/// Checks that the parents exist and that making them `id`'s parents creates no cycle and no
/// chain deeper than [`MAX_CHAIN`].
async fn check_parents(
    table: &dyn Table,
    user: UserId,
    id: ProfileId,
    parents: &[ProfileId],
) -> AccountResult<()> {
    if parents.is_empty() {
        return Ok(());
    }
    if parents.len() > MAX_PARENTS {
        return Err(AccountError::invalid(
            "parent_ids",
            format!("at most {MAX_PARENTS} parents"),
        ));
    }
    let mut graph: HashMap<ProfileId, Vec<ProfileId>> = load_all(table, user)
        .await?
        .into_iter()
        .map(|(k, p)| (k, p.parent_ids))
        .collect();
    let mut seen = HashSet::new();
    for (i, parent) in parents.iter().enumerate() {
        let field = format!("parent_ids[{i}]");
        if *parent == id {
            return Err(AccountError::invalid(
                field,
                "a profile cannot inherit from itself",
            ));
        }
        if !graph.contains_key(parent) {
            return Err(AccountError::invalid(field, "no such profile"));
        }
        if !seen.insert(parent) {
            return Err(AccountError::invalid(field, "is listed twice"));
        }
    }
    graph.insert(id, parents.to_vec());
    // Depth-first from `id`: reaching `id` again is a cycle.
    let mut stack: Vec<(ProfileId, usize)> = parents.iter().map(|p| (*p, 1)).collect();
    let mut visited = HashSet::new();
    while let Some((node, depth)) = stack.pop() {
        if node == id {
            return Err(AccountError::invalid(
                "parent_ids",
                "would make the profile inherit from itself (a cycle)",
            ));
        }
        if depth > MAX_CHAIN {
            return Err(AccountError::invalid(
                "parent_ids",
                format!("inheritance is limited to {MAX_CHAIN} levels"),
            ));
        }
        if visited.insert((node, depth)) {
            for next in graph.get(&node).into_iter().flatten() {
                stack.push((*next, depth + 1));
            }
        }
    }
    Ok(())
}

async fn save(
    table: &dyn Table,
    user: UserId,
    profile: &Profile,
    condition: Condition,
) -> AccountResult<()> {
    let k = keys::profile(user, profile.id);
    table
        .put(Item::encode(k.pk, k.sk, profile)?, condition)
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed => AccountError::Conflict(
                "the profile was changed concurrently; reload it and retry".into(),
            ),
            other => other.into(),
        })
}

pub async fn create(table: &dyn Table, user: UserId, new: NewProfile) -> AccountResult<Profile> {
    let name = check_text("name", &new.name, MAX_NAME_CHARS, true)?;
    let description = check_text(
        "description",
        &new.description,
        MAX_DESCRIPTION_CHARS,
        false,
    )?;
    check_document_ids("instruction_ids", &new.instruction_ids, MAX_INSTRUCTIONS)?;
    check_document_ids("dataset_ids", &new.dataset_ids, MAX_DATASETS)?;
    let folders = check_folders(new.folders)?;
    let default_model = check_model(new.default_model)?;
    let max_output_tokens = check_max_output(new.max_output_tokens)?;
    let temperature = effective_temperature(new.temperature_preset, new.temperature)?;
    let id = ProfileId::new();
    check_parents(table, user, id, &new.parent_ids).await?;
    let now = clock::now();
    let profile = Profile {
        id,
        name,
        description,
        instruction_ids: new.instruction_ids,
        dataset_ids: new.dataset_ids,
        folders,
        parent_ids: new.parent_ids,
        default_model,
        temperature_preset: new.temperature_preset,
        temperature,
        max_output_tokens,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    save(table, user, &profile, Condition::NotExists).await?;
    Ok(profile)
}

/// One of the user's profiles; `NotFound` for any id the user does not own.
pub async fn get(table: &dyn Table, user: UserId, id: ProfileId) -> AccountResult<Profile> {
    let k = keys::profile(user, id);
    table
        .get(&k.pk, &k.sk)
        .await?
        .ok_or(AccountError::NotFound("profile"))?
        .decode()
        .map_err(Into::into)
}

/// The user's profiles, oldest first.
pub async fn list(
    table: &dyn Table,
    user: UserId,
    limit: usize,
    cursor: Option<String>,
) -> AccountResult<ListPage<Profile>> {
    super::list_page(table, user, keys::PROFILE_PREFIX, limit, cursor).await
}

pub async fn update(
    table: &dyn Table,
    user: UserId,
    id: ProfileId,
    patch: ProfilePatch,
) -> AccountResult<Profile> {
    let current = get(table, user, id).await?;
    if let Some(expected) = patch.version
        && expected != current.version
    {
        return Err(AccountError::Conflict(format!(
            "the profile is at version {}, not {expected}; reload it and retry",
            current.version
        )));
    }
    let mut next = current.clone();
    if let Some(name) = patch.name {
        next.name = check_text("name", &name, MAX_NAME_CHARS, true)?;
    }
    if let Some(description) = patch.description {
        next.description = check_text("description", &description, MAX_DESCRIPTION_CHARS, false)?;
    }
    if let Some(ids) = patch.instruction_ids {
        check_document_ids("instruction_ids", &ids, MAX_INSTRUCTIONS)?;
        next.instruction_ids = ids;
    }
    if let Some(ids) = patch.dataset_ids {
        check_document_ids("dataset_ids", &ids, MAX_DATASETS)?;
        next.dataset_ids = ids;
    }
    if let Some(folders) = patch.folders {
        next.folders = check_folders(folders)?;
    }
    if let Some(model) = patch.default_model {
        next.default_model = check_model(model)?;
    }
    if let Some(tokens) = patch.max_output_tokens {
        next.max_output_tokens = check_max_output(tokens)?;
    }
    match (patch.temperature_preset, patch.temperature) {
        (None, None) => {}
        // Only a custom value: stays (or becomes) custom.
        (None, Some(t)) => {
            next.temperature_preset = TemperaturePreset::Custom;
            next.temperature = effective_temperature(TemperaturePreset::Custom, Some(t))?;
        }
        (Some(preset), custom) => {
            // Switching to custom without a value keeps the current temperature.
            let custom = match (preset, custom) {
                (TemperaturePreset::Custom, None) => Some(current.temperature),
                (_, c) => c,
            };
            next.temperature_preset = preset;
            next.temperature = effective_temperature(preset, custom)?;
        }
    }
    if let Some(parents) = patch.parent_ids {
        check_parents(table, user, id, &parents).await?;
        next.parent_ids = parents;
    }
    if next == current {
        return Ok(current);
    }
    next.version = current.version + 1;
    next.updated_at = clock::now();
    save(
        table,
        user,
        &next,
        Condition::AttrEquals("version".into(), current.version.into()),
    )
    .await?;
    Ok(next)
}

/// Deletes a profile. A profile other profiles inherit from is refused (409, naming them); the
/// user's default profile preference is cleared when it pointed here.
pub async fn delete(table: &dyn Table, user: UserId, id: ProfileId) -> AccountResult<()> {
    let all = load_all(table, user).await?;
    if !all.contains_key(&id) {
        return Err(AccountError::NotFound("profile"));
    }
    let mut children: Vec<&Profile> = all
        .values()
        .filter(|p| p.parent_ids.contains(&id))
        .collect();
    if !children.is_empty() {
        children.sort_by_key(|p| p.id);
        let names: Vec<String> = children
            .iter()
            .map(|p| format!("{} ({})", p.name, p.id))
            .collect();
        return Err(AccountError::Conflict(format!(
            "other profiles inherit from this one: {}; remove it from their parents first",
            names.join(", ")
        )));
    }
    let k = keys::profile(user, id);
    table
        .delete(&k.pk, &k.sk, Condition::Exists)
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed => AccountError::NotFound("profile"),
            other => other.into(),
        })?;
    preferences::forget_profile(table, user, id).await
}

/// A profile with everything it inherits.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileChain {
    /// The profile asked for.
    pub profile: Profile,
    /// Its ancestors, each after its own parents (parents first), each once, in the order the
    /// profiles list them.
    pub ancestors: Vec<Profile>,
}

impl ProfileChain {
    /// Ancestors then the profile: the order in which their documents apply.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.ancestors.iter().chain(std::iter::once(&self.profile))
    }

    /// Every instruction document, ancestors' first, each once.
    pub fn instruction_ids(&self) -> Vec<String> {
        dedup(self.profiles().flat_map(|p| p.instruction_ids.iter()))
    }

    /// Every dataset document, ancestors' first, each once.
    pub fn dataset_ids(&self) -> Vec<String> {
        dedup(self.profiles().flat_map(|p| p.dataset_ids.iter()))
    }

    /// Every folder the profiles reference, ancestors' first, each once.
    pub fn folders(&self) -> Vec<String> {
        dedup(self.profiles().flat_map(|p| p.folders.iter()))
    }
}

fn dedup<'a>(ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(id.as_str())).cloned().collect()
}

/// Loads one of the user's profiles and its ancestors (parents first). `NotFound` when the user
/// has no such profile; a parent that has since disappeared is skipped, and a cycle (only
/// possible through concurrent edits) is cut where it closes.
pub async fn resolve_profile_chain(
    table: &dyn Table,
    user_id: UserId,
    profile_id: ProfileId,
) -> AccountResult<ProfileChain> {
    let profile = get(table, user_id, profile_id).await?;
    let mut ancestors = Vec::new();
    let mut done: HashSet<ProfileId> = HashSet::from([profile_id]);
    let mut loaded: HashMap<ProfileId, Option<Profile>> = HashMap::new();
    // Iterative post-order over the parents: a profile is emitted after all of its parents.
    enum Step {
        Visit(ProfileId),
        Emit(ProfileId),
    }
    let mut stack: Vec<Step> = profile
        .parent_ids
        .iter()
        .rev()
        .map(|p| Step::Visit(*p))
        .collect();
    let mut on_path: HashSet<ProfileId> = HashSet::new();
    while let Some(step) = stack.pop() {
        match step {
            Step::Visit(id) => {
                if done.contains(&id) || on_path.contains(&id) || ancestors.len() >= MAX_CHAIN {
                    continue;
                }
                if let Entry::Vacant(slot) = loaded.entry(id) {
                    slot.insert(match get(table, user_id, id).await {
                        Ok(p) => Some(p),
                        Err(AccountError::NotFound(_)) => None,
                        Err(e) => return Err(e),
                    });
                }
                let Some(p) = loaded.get(&id).and_then(Option::as_ref) else {
                    continue;
                };
                on_path.insert(id);
                stack.push(Step::Emit(id));
                for parent in p.parent_ids.iter().rev() {
                    stack.push(Step::Visit(*parent));
                }
            }
            Step::Emit(id) => {
                on_path.remove(&id);
                if done.insert(id)
                    && let Some(Some(p)) = loaded.remove(&id)
                {
                    ancestors.push(p);
                }
            }
        }
    }
    Ok(ProfileChain { profile, ancestors })
}
