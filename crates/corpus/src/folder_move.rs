//! Renaming or moving a folder with everything below it (`a/b` → `c`: `a/b/x` becomes `c/x`).
//!
//! A folder can hold thousands of documents, so no request and no transaction covers them all:
//! each call moves a bounded batch, one transaction per document (its new name claim, the
//! release of the old one, the corpus version), and says how many remain; repeating the call
//! finishes the move. That is safe because a moved document never lands back under the source
//! (checked up front), so a repeat simply takes the documents still there. Name conflicts at the
//! destination are looked for in the cached catalog before anything moves (409 naming them); one
//! that appears while the move runs (a concurrent upload) stops it with a 409 saying how far it
//! got, and a repeat after resolving it continues.
//!
//! Profiles that reference the folder or a folder below it follow: before the first document
//! moves each such reference gains its new path beside the old one (so the profile sees every
//! document while they move), and once nothing is left under the source the old paths go.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ragenie_common::accounts::profiles::{self, MAX_FOLDERS, Profile, ProfilePatch};
use ragenie_common::accounts::{AccountError, ProfileId};
use ragenie_common::folders::{is_within, normalize_folder};

use super::*;

/// Documents one call moves at most, unless the caller asks for fewer.
pub const DEFAULT_MOVE_BATCH: usize = 200;
/// The largest batch a caller may ask for.
pub const MAX_MOVE_BATCH: usize = 500;
/// A call stops taking new documents after this long (the API answers within its 29 s).
pub const MOVE_TIME_BUDGET: Duration = Duration::from_secs(10);
/// Conflicts a refusal names (the rest are counted).
const CONFLICTS_NAMED: usize = 5;
/// Attempts at saving a profile another request is editing too.
const PROFILE_ATTEMPTS: usize = 4;

/// What one call of a folder move did, and what is left.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FolderMove {
    /// The folder moved (normalised).
    pub from: String,
    /// Its new path (normalised).
    pub to: String,
    /// Documents this call moved.
    pub moved: u64,
    /// Documents still in `from` or below it: repeat the same call to move them.
    pub remaining: u64,
    /// Profiles whose folder references this call changed (each counted once).
    pub profiles_updated: u64,
    /// Everything moved and every profile points at the new paths.
    pub done: bool,
}

/// `path` with its `from` prefix replaced by `to`, when `path` is `from` or below it.
pub fn map_folder(path: &str, from: &str, to: &str) -> Option<String> {
    is_within(path, from).then(|| format!("{to}{}", &path[from.len()..]))
}

/// A profile's folder references after moving `from` to `to`: each reference in or below `from`
/// gets its new path, after the old one while the move runs (`keep_old`; unless that would pass
/// [`MAX_FOLDERS`]) or instead of it. Each path once, in the original order.
pub fn remap_references(folders: &[String], from: &str, to: &str, keep_old: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(folders.len() * 2);
    let mut push = |path: String| {
        if !out.contains(&path) {
            out.push(path);
        }
    };
    for path in folders {
        match map_folder(path, from, to) {
            Some(mapped) => {
                if keep_old {
                    push(path.clone());
                }
                push(mapped);
            }
            None => push(path.clone()),
        }
    }
    if keep_old && out.len() > MAX_FOLDERS {
        return remap_references(folders, from, to, false);
    }
    out
}

fn invalid_to(message: String) -> CorpusError {
    CorpusError::Invalid {
        field: "to",
        message,
    }
}

/// Where a document is, for messages.
fn located(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

impl Corpus {
    /// Moves the folder `from` (with its subfolders) to `to`: at most `limit` documents and
    /// about [`MOVE_TIME_BUDGET`] per call; repeat while `done` is false. See the module doc.
    pub async fn move_folder(
        &self,
        user: UserId,
        from: &str,
        to: &str,
        limit: usize,
    ) -> CorpusResult<FolderMove> {
        let from = normalize_folder(from).map_err(|e| CorpusError::Invalid {
            field: "from",
            message: e.0,
        })?;
        let to = normalize_folder(to).map_err(|e| invalid_to(e.0))?;
        if from.is_empty() {
            return Err(CorpusError::Invalid {
                field: "from",
                message: "the top level cannot be moved; name a folder".into(),
            });
        }
        if to.is_empty() {
            return Err(invalid_to(
                "the top level: give the folder's new path (its name alone moves it to the top)"
                    .into(),
            ));
        }
        if is_within(&to, &from) {
            return Err(invalid_to(format!(
                "`{to}` is `{from}` or inside it: a folder cannot move into itself"
            )));
        }
        let started = Instant::now();
        let catalog = self.catalog(user).await?;
        let pending: Vec<&Document> = catalog.in_folders(std::slice::from_ref(&from));
        let profiles = self.profiles_within(user, &from).await?;
        self.check_destinations(&catalog, &pending, &profiles, &from, &to)?;
        let mut progress = FolderMove {
            from: from.clone(),
            to: to.clone(),
            moved: 0,
            remaining: pending.len() as u64,
            profiles_updated: 0,
            done: false,
        };
        if pending.is_empty() {
            let updated = self
                .remap_profiles(user, profiles, &from, &to, false)
                .await?;
            progress.profiles_updated = updated.len() as u64;
            let arrived = !catalog.in_folders(std::slice::from_ref(&to)).is_empty();
            if updated.is_empty() && !arrived {
                return Err(CorpusError::FolderNotFound);
            }
            // Nothing left to move: a repeat of a finished move, or one whose last call ended
            // before updating the profiles.
            progress.done = true;
            return Ok(progress);
        }
        let mut updated = self
            .remap_profiles(user, profiles, &from, &to, true)
            .await?;
        for doc in pending.iter().take(limit.clamp(1, MAX_MOVE_BATCH)) {
            match self.move_one(user, &doc.id, &from, &to).await {
                Ok(true) => progress.moved += 1,
                Ok(false) => {}
                Err(CorpusError::Conflict(reason)) => {
                    return Err(CorpusError::Conflict(format!(
                        "{} of {} documents moved from `{from}` to `{to}`, then: {reason}. \
                         Resolve it and repeat the move to finish it",
                        progress.moved,
                        pending.len()
                    )));
                }
                Err(e) => return Err(e),
            }
            // Moved, or gone from the folder by another request's hand: either way not left.
            progress.remaining -= 1;
            // Checked after a document, so every call takes at least one out of the folder.
            if started.elapsed() >= MOVE_TIME_BUDGET {
                break;
            }
        }
        if progress.remaining == 0 {
            let profiles = self.profiles_within(user, &from).await?;
            updated.extend(
                self.remap_profiles(user, profiles, &from, &to, false)
                    .await?,
            );
            progress.done = true;
        }
        progress.profiles_updated = updated.len() as u64;
        tracing::info!(
            moved = progress.moved,
            remaining = progress.remaining,
            profiles = progress.profiles_updated,
            "folder moved"
        );
        Ok(progress)
    }

    /// Refuses the move before anything changes when a path it creates would be too long or
    /// deep, would land inside the folder being moved, or when a name is taken at the
    /// destination (409 naming them).
    fn check_destinations(
        &self,
        catalog: &Catalog,
        pending: &[&Document],
        profiles: &[Profile],
        from: &str,
        to: &str,
    ) -> CorpusResult<()> {
        let sources: BTreeSet<&str> = pending
            .iter()
            .map(|d| d.folder.as_str())
            .chain(
                profiles
                    .iter()
                    .flat_map(|p| p.folders.iter().map(String::as_str)),
            )
            .filter(|f| is_within(f, from))
            .collect();
        let mut targets: HashMap<&str, String> = HashMap::new();
        for source in sources {
            let mapped = map_folder(source, from, to).expect("a source is within `from`");
            let normal = normalize_folder(&mapped).map_err(|e| {
                invalid_to(format!(
                    "`{source}` would become `{mapped}`, which is refused: {e}"
                ))
            })?;
            if is_within(&normal, from) {
                return Err(invalid_to(format!(
                    "`{source}` would move to `{normal}`, inside the folder being moved; \
                     move it in two steps (first to another name)"
                )));
            }
            targets.insert(source, normal);
        }
        // Who holds each name in the destination folders now (none of them is under `from`).
        let mut holders: HashMap<(&str, &str), &str> = HashMap::new();
        for target in targets.values() {
            for d in catalog.in_folder(target) {
                holders.insert((target.as_str(), d.name.as_str()), d.id.as_str());
            }
        }
        let mut conflicts = Vec::new();
        let mut arriving: HashMap<(&str, &str), &str> = HashMap::new();
        for doc in pending {
            let target = targets[doc.folder.as_str()].as_str();
            let key = (target, doc.name.as_str());
            let holder = holders
                .get(&key)
                .copied()
                .or_else(|| arriving.insert(key, doc.id.as_str()));
            if let Some(holder) = holder {
                conflicts.push(format!(
                    "`{}` → `{}` (held by {holder})",
                    located(&doc.folder, &doc.name),
                    located(target, &doc.name)
                ));
            }
        }
        if conflicts.is_empty() {
            return Ok(());
        }
        let more = conflicts.len().saturating_sub(CONFLICTS_NAMED);
        conflicts.truncate(CONFLICTS_NAMED);
        let mut detail = format!(
            "nothing moved: {} name{} already taken at the destination (names are unique per \
             folder): {}",
            conflicts.len() + more,
            if conflicts.len() + more == 1 {
                " is"
            } else {
                "s are"
            },
            conflicts.join(", ")
        );
        if more > 0 {
            detail.push_str(&format!(" and {more} more"));
        }
        detail.push_str("; rename or move those documents first");
        Err(CorpusError::Conflict(detail))
    }

    /// Moves one document from under `from` to its place under `to`, read fresh so a change
    /// made since the catalog was read is respected. False when it is no longer under `from`
    /// (deleted or moved meanwhile). A name taken meanwhile is a conflict.
    async fn move_one(&self, user: UserId, id: &str, from: &str, to: &str) -> CorpusResult<bool> {
        for attempt in 0..2 {
            let doc = match self.get(user, id).await {
                Ok(doc) => doc,
                Err(CorpusError::NotFound) => return Ok(false),
                Err(e) => return Err(e),
            };
            let Some(target) = map_folder(&doc.folder, from, to) else {
                return Ok(false);
            };
            match self.relocate(user, &doc, None, Some(target.clone())).await {
                Ok(moved) => return Ok(moved),
                Err(CorpusError::Conflict(_) | CorpusError::NotFound) => {
                    let taken = self
                        .name_holder(user, &target, &doc.name)
                        .await?
                        .is_some_and(|holder| holder != id);
                    if taken {
                        return Err(CorpusError::Conflict(format!(
                            "`{}` met a document of the same name at `{}`",
                            located(&doc.folder, &doc.name),
                            located(&target, &doc.name)
                        )));
                    }
                    // The document changed between the read and the write: read it again, once.
                    if attempt > 0 {
                        break;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(CorpusError::Conflict(format!(
            "document {id} kept changing while it was being moved"
        )))
    }

    /// The user's profiles that reference `from` or a folder below it.
    async fn profiles_within(&self, user: UserId, from: &str) -> CorpusResult<Vec<Profile>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = profiles::list(self.table.as_ref(), user, 100, cursor)
                .await
                .map_err(account_error)?;
            out.extend(
                page.items
                    .into_iter()
                    .filter(|p| p.folders.iter().any(|f| is_within(f, from))),
            );
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Points the profiles' references in or below `from` at `to` (see [`remap_references`]);
    /// returns the profiles changed. A profile edited meanwhile is read again and retried.
    async fn remap_profiles(
        &self,
        user: UserId,
        profiles: Vec<Profile>,
        from: &str,
        to: &str,
        keep_old: bool,
    ) -> CorpusResult<BTreeSet<ProfileId>> {
        let mut changed = BTreeSet::new();
        for mut profile in profiles {
            for attempt in 1..=PROFILE_ATTEMPTS {
                let folders = remap_references(&profile.folders, from, to, keep_old);
                if folders == profile.folders {
                    break;
                }
                let patch = ProfilePatch {
                    folders: Some(folders),
                    version: Some(profile.version),
                    ..Default::default()
                };
                match profiles::update(self.table.as_ref(), user, profile.id, patch).await {
                    Ok(_) => {
                        changed.insert(profile.id);
                        break;
                    }
                    Err(AccountError::NotFound(_)) => break,
                    Err(AccountError::Conflict(_)) if attempt < PROFILE_ATTEMPTS => {
                        profile = match self.profile(user, profile.id).await? {
                            Some(p) => p,
                            None => break,
                        };
                    }
                    Err(e) => return Err(account_error(e)),
                }
            }
        }
        Ok(changed)
    }

    async fn profile(&self, user: UserId, id: ProfileId) -> CorpusResult<Option<Profile>> {
        match profiles::get(self.table.as_ref(), user, id).await {
            Ok(p) => Ok(Some(p)),
            Err(AccountError::NotFound(_)) => Ok(None),
            Err(e) => Err(account_error(e)),
        }
    }
}

/// A profile error met while moving a folder: the store's own, else unexpected (the new paths
/// were checked before anything changed).
fn account_error(e: AccountError) -> CorpusError {
    match e {
        AccountError::Store(e) => CorpusError::Store(e),
        AccountError::Conflict(m) => CorpusError::Conflict(m),
        other => CorpusError::Unexpected(anyhow::anyhow!("updating a profile: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use ragenie_common::accounts::profiles::NewProfile;
    use ragenie_common::testing::{embedded_state, test_user};

    struct Fixture {
        corpus: Corpus,
        table: Arc<dyn Table>,
        _dir: tempfile::TempDir,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
        Fixture {
            corpus: Corpus::new(state.table.clone(), state.blobs.clone()),
            table: state.table.clone(),
            _dir: dir,
        }
    }

    impl Fixture {
        async fn put(&self, user: UserId, folder: &str, name: &str) -> Document {
            let doc = NewDocument {
                name: name.into(),
                folder: folder.into(),
                kind: DocumentKind::Dataset,
                media_type: "text/markdown".into(),
                bytes: Bytes::from(format!("# {name}\n\nin {folder}, about herons")),
            };
            self.corpus.upload(user, doc).await.unwrap().0
        }

        async fn profile(&self, user: UserId, folders: &[&str]) -> ProfileId {
            let new = NewProfile {
                name: format!("uses {folders:?}"),
                folders: folders.iter().map(|f| f.to_string()).collect(),
                ..Default::default()
            };
            profiles::create(self.table.as_ref(), user, new)
                .await
                .unwrap()
                .id
        }

        async fn folders_of(&self, user: UserId, id: ProfileId) -> Vec<String> {
            profiles::get(self.table.as_ref(), user, id)
                .await
                .unwrap()
                .folders
        }

        /// (folder, name) of every document, sorted.
        async fn places(&self, user: UserId) -> Vec<(String, String)> {
            let mut all: Vec<(String, String)> = self
                .corpus
                .all(user)
                .await
                .unwrap()
                .into_iter()
                .map(|d| (d.folder, d.name))
                .collect();
            all.sort();
            all
        }

        /// Ids of the documents a profile's folders bring, as chat and search resolve them.
        async fn in_profile(&self, user: UserId, id: ProfileId) -> BTreeSet<String> {
            let folders = self.folders_of(user, id).await;
            let catalog = self.corpus.catalog(user).await.unwrap();
            catalog
                .in_folders(&folders)
                .into_iter()
                .map(|d| d.id.clone())
                .collect()
        }
    }

    fn place(folder: &str, name: &str) -> (String, String) {
        (folder.to_owned(), name.to_owned())
    }

    #[tokio::test]
    async fn a_folder_moves_with_its_subfolders_in_batches_and_its_profiles_follow() {
        let f = fixture().await;
        let (user, _) = test_user();
        let mut moving = BTreeSet::new();
        for (folder, name) in [
            ("a/b", "one.md"),
            ("a/b", "two.md"),
            ("a/b", "README.md"),
            ("a/b/c", "README.md"),
            ("a/b/c", "four.md"),
        ] {
            moving.insert(f.put(user, folder, name).await.id);
        }
        f.put(user, "a", "README.md").await;
        f.put(user, "a/bc", "README.md").await;
        f.put(user, "z", "other.md").await;
        let deep = f.profile(user, &["a/b/c"]).await;
        let whole = f.profile(user, &["a/b", "x"]).await;
        let parent = f.profile(user, &["a"]).await;
        let version = f.corpus.catalog(user).await.unwrap().version();

        // A bounded batch per call: what is left is said, and the profiles see every document
        // while they move (the old path and the new one).
        let first = f.corpus.move_folder(user, "/a/b/", "z", 2).await.unwrap();
        assert_eq!(
            first,
            FolderMove {
                from: "a/b".into(),
                to: "z".into(),
                moved: 2,
                remaining: 3,
                profiles_updated: 2,
                done: false
            }
        );
        assert_eq!(f.folders_of(user, deep).await, ["a/b/c", "z/c"]);
        assert_eq!(f.folders_of(user, whole).await, ["a/b", "z", "x"]);
        assert_eq!(f.folders_of(user, parent).await, ["a"]);
        assert_eq!(
            f.in_profile(user, whole)
                .await
                .intersection(&moving)
                .count(),
            5
        );
        assert!(f.corpus.catalog(user).await.unwrap().version() > version);

        // Repeating the same call continues where it stopped, then finishes.
        let second = f.corpus.move_folder(user, "a/b", "z", 2).await.unwrap();
        assert_eq!((second.moved, second.remaining, second.done), (2, 1, false));
        assert_eq!(second.profiles_updated, 0, "already pointing at both paths");
        let last = f.corpus.move_folder(user, "a/b", "z", 2).await.unwrap();
        assert_eq!((last.moved, last.remaining, last.done), (1, 0, true));
        assert_eq!(last.profiles_updated, 2);
        assert_eq!(f.folders_of(user, deep).await, ["z/c"]);
        assert_eq!(f.folders_of(user, whole).await, ["z", "x"]);
        assert_eq!(
            f.in_profile(user, whole)
                .await
                .intersection(&moving)
                .count(),
            5
        );
        assert_eq!(f.in_profile(user, deep).await.len(), 2);
        assert_eq!(
            f.places(user).await,
            [
                place("a", "README.md"),
                place("a/bc", "README.md"),
                place("z", "README.md"),
                place("z", "one.md"),
                place("z", "other.md"),
                place("z", "two.md"),
                place("z/c", "README.md"),
                place("z/c", "four.md"),
            ]
        );
        // The folder tree and search see the new paths at once.
        let tree: Vec<(String, u64)> = f
            .corpus
            .folders(user, 100, None)
            .await
            .unwrap()
            .0
            .into_iter()
            .map(|s| (s.path, s.total))
            .collect();
        assert_eq!(
            tree,
            [
                ("".into(), 8),
                ("a".into(), 2),
                ("a/bc".into(), 1),
                ("z".into(), 6),
                ("z/c".into(), 2)
            ]
        );
        assert_eq!(
            f.corpus
                .search_datasets(user, "herons", 20)
                .await
                .unwrap()
                .len(),
            8
        );

        // A repeat of the finished move changes nothing and says it is done; a folder that
        // never held anything is not found.
        let repeat = f.corpus.move_folder(user, "a/b", "z", 2).await.unwrap();
        assert_eq!(
            (
                repeat.moved,
                repeat.remaining,
                repeat.profiles_updated,
                repeat.done
            ),
            (0, 0, 0, true)
        );
        let nowhere = f.corpus.move_folder(user, "nope", "q", 10).await;
        assert!(
            matches!(nowhere, Err(CorpusError::FolderNotFound)),
            "{nowhere:?}"
        );

        // The names went with the documents: free at the old path, taken at the new one.
        let again = NewDocument {
            name: "one.md".into(),
            folder: "z".into(),
            kind: DocumentKind::Dataset,
            media_type: "text/markdown".into(),
            bytes: Bytes::from("# One\n\nanother one"),
        };
        assert!(matches!(
            f.corpus.upload(user, again).await,
            Err(CorpusError::Conflict(_))
        ));
        f.put(user, "a/b", "one.md").await;
    }

    #[tokio::test]
    async fn a_move_that_would_take_a_name_is_refused_before_anything_moves() {
        let f = fixture().await;
        let (user, _) = test_user();
        f.put(user, "src", "a.md").await;
        f.put(user, "src", "README.md").await;
        f.put(user, "src/sub", "README.md").await;
        let held = f.put(user, "dst", "README.md").await;
        let held_below = f.put(user, "dst/sub", "README.md").await;
        f.put(user, "dst", "a-other.md").await;
        let profile = f.profile(user, &["src"]).await;
        let before = f.places(user).await;
        let Err(CorpusError::Conflict(detail)) = f.corpus.move_folder(user, "src", "dst", 10).await
        else {
            panic!("a conflict")
        };
        assert!(detail.starts_with("nothing moved: 2 names are"), "{detail}");
        for named in [
            "`src/README.md` → `dst/README.md`",
            held.id.as_str(),
            "`src/sub/README.md` → `dst/sub/README.md`",
            held_below.id.as_str(),
        ] {
            assert!(detail.contains(named), "{named}: {detail}");
        }
        assert_eq!(f.places(user).await, before);
        assert_eq!(f.folders_of(user, profile).await, ["src"]);

        // Merging into a folder is fine where no name meets another.
        f.corpus
            .update(user, &held.id, Some("OLD.md"), None)
            .await
            .unwrap();
        f.corpus
            .update(user, &held_below.id, Some("OLD.md"), None)
            .await
            .unwrap();
        let done = f.corpus.move_folder(user, "src", "dst", 10).await.unwrap();
        assert_eq!((done.moved, done.done), (3, true));
        assert_eq!(
            done.profiles_updated, 1,
            "changed twice in the call, counted once"
        );
        assert_eq!(f.folders_of(user, profile).await, ["dst"]);
    }

    #[tokio::test]
    async fn a_name_taken_while_a_move_runs_stops_it_with_a_conflict_and_a_repeat_finishes() {
        let f = fixture().await;
        let (user, _) = test_user();
        let doc = f.put(user, "src", "late.md").await;
        f.put(user, "src", "other.md").await;
        // Another request uploads the same name at the destination after the check.
        f.put(user, "dst", "late.md").await;
        let Err(CorpusError::Conflict(reason)) =
            f.corpus.move_one(user, &doc.id, "src", "dst").await
        else {
            panic!("a conflict")
        };
        assert!(
            reason.contains("`src/late.md` met a document of the same name at `dst/late.md`"),
            "{reason}"
        );
        assert_eq!(f.corpus.get(user, &doc.id).await.unwrap().folder, "src");
        // The next call names it up front; once it is out of the way the move completes.
        let refused = f.corpus.move_folder(user, "src", "dst", 10).await;
        assert!(matches!(refused, Err(CorpusError::Conflict(d)) if d.contains("dst/late.md")));
        f.corpus
            .update(user, &doc.id, Some("late-2.md"), None)
            .await
            .unwrap();
        let done = f.corpus.move_folder(user, "src", "dst", 10).await.unwrap();
        assert_eq!((done.moved, done.remaining, done.done), (2, 0, true));
        // A document moved or deleted by someone else meanwhile is skipped, not counted.
        assert!(
            !f.corpus
                .move_one(user, &doc.id, "src", "dst")
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn moves_into_the_folder_itself_or_to_bad_paths_are_refused() {
        let f = fixture().await;
        let (user, _) = test_user();
        f.put(user, "a/b", "x.md").await;
        f.put(user, "a/b/b", "y.md").await;
        let long = "n".repeat(99);
        for (from, to, field) in [
            ("a/b", "a/b", "to"),
            ("a/b", "a/b/c", "to"),
            ("a", "a/b/c", "to"),
            ("", "q", "from"),
            ("/", "q", "from"),
            ("a/b", "", "to"),
            ("a/../b", "q", "from"),
            ("a/b", "q/../r", "to"),
            // `a/b/b` would become `a/b`: inside the folder being moved.
            ("a/b", "a", "to"),
            // `a/b/b` would be 17 levels deep.
            ("a/b", &vec!["d"; 16].join("/"), "to"),
            // Or over 400 characters.
            ("a/b", &[long.as_str(); 4].join("/"), "to"),
        ] {
            match f.corpus.move_folder(user, from, to, 10).await {
                Err(CorpusError::Invalid { field: got, .. }) => {
                    assert_eq!(got, field, "{from} → {to}")
                }
                other => panic!("{from} → {to}: {other:?}"),
            }
        }
        assert_eq!(f.corpus.all(user).await.unwrap().len(), 2, "nothing moved");
        // Into the folder above is fine when nothing lands back inside the moved one.
        f.put(user, "p/q", "z.md").await;
        let up = f.corpus.move_folder(user, "p/q", "p", 10).await.unwrap();
        assert_eq!((up.moved, up.done), (1, true));
        assert!(f.places(user).await.contains(&place("p", "z.md")));
    }

    #[tokio::test]
    async fn another_users_folders_and_profiles_are_out_of_reach() {
        let f = fixture().await;
        let (alice, _) = test_user();
        let (mallory, _) = test_user();
        f.put(alice, "secret", "plans.md").await;
        let profile = f.profile(alice, &["secret"]).await;
        let before = f.places(alice).await;
        let stolen = f.corpus.move_folder(mallory, "secret", "mine", 10).await;
        assert!(
            matches!(stolen, Err(CorpusError::FolderNotFound)),
            "{stolen:?}"
        );
        // Mallory's own folder of the same name moves only mallory's documents.
        f.put(mallory, "secret", "plans.md").await;
        let own = f
            .corpus
            .move_folder(mallory, "secret", "mine", 10)
            .await
            .unwrap();
        assert_eq!((own.moved, own.profiles_updated), (1, 0));
        assert_eq!(f.places(alice).await, before);
        assert_eq!(f.folders_of(alice, profile).await, ["secret"]);
    }

    #[test]
    fn paths_in_or_below_the_folder_take_the_new_prefix() {
        assert_eq!(map_folder("a/b", "a/b", "c").as_deref(), Some("c"));
        assert_eq!(
            map_folder("a/b/x/y", "a/b", "c/d").as_deref(),
            Some("c/d/x/y")
        );
        assert_eq!(map_folder("a/bc", "a/b", "c"), None);
        assert_eq!(map_folder("a", "a/b", "c"), None);
    }

    #[test]
    fn references_gain_the_new_path_while_moving_and_lose_the_old_one_after() {
        let refs: Vec<String> = ["x", "a/b/deep", "a/b", "a"].map(String::from).into();
        assert_eq!(
            remap_references(&refs, "a/b", "c", true),
            ["x", "a/b/deep", "c/deep", "a/b", "c", "a"]
        );
        let during = remap_references(&refs, "a/b", "c", true);
        assert_eq!(
            remap_references(&during, "a/b", "c", false),
            ["x", "c/deep", "c", "a"]
        );
        // A reference already at the new path is not repeated.
        let refs: Vec<String> = ["c", "a/b"].map(String::from).into();
        assert_eq!(remap_references(&refs, "a/b", "c", false), ["c"]);
        // At the cap, the old path is replaced at once rather than kept.
        let full: Vec<String> = (0..MAX_FOLDERS - 1)
            .map(|i| format!("f{i}"))
            .chain(["a/b".to_owned()])
            .collect();
        let moved = remap_references(&full, "a/b", "c", true);
        assert_eq!(moved.len(), MAX_FOLDERS);
        assert_eq!(moved.last().map(String::as_str), Some("c"));
    }
}
