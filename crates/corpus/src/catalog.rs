//! The user's corpus version and the catalog of their documents a process keeps in memory.
//!
//! Every write that changes a user's documents (create, status, replace, rename, delete) bumps
//! one per-user version item in the same transaction. A search or a chat message reads that one
//! item: when it equals the version of the catalog (and segment set) held in memory, nothing
//! else is read from the table, however many documents the user has. Only after a change is the
//! document list read again, once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use ragenie_common::storage::{Condition, Table, TxOp, Update};

use crate::keys;
use crate::model::{Document, DocumentKind, DocumentStatus};

const VERSION_ATTR: &str = "version";

/// The write that bumps the user's corpus version; part of every transaction that changes a
/// document, so the version moves exactly when the documents do.
pub(crate) fn bump(user_pk: &str) -> TxOp {
    TxOp::Update {
        pk: user_pk.to_owned(),
        sk: keys::CORPUS_VERSION_SK.to_owned(),
        update: Update::new().add(VERSION_ATTR, 1),
        condition: Condition::None,
    }
}

/// The user's current corpus version (0 before their first document): one read.
pub(crate) async fn current_version(
    table: &dyn Table,
    user_pk: &str,
) -> Result<i64, ragenie_common::storage::StoreError> {
    Ok(table
        .get(user_pk, keys::CORPUS_VERSION_SK)
        .await?
        .and_then(|item| item.i64(VERSION_ATTR))
        .unwrap_or(0))
}

/// Every document of a user as of one corpus version.
#[derive(Debug)]
pub struct Catalog {
    version: i64,
    documents: Vec<Document>,
    by_id: HashMap<String, usize>,
    /// Ready documents, and the ready datasets among them.
    ready: usize,
    ready_datasets: Arc<HashSet<String>>,
    /// Folder path → the documents directly in it (indexes into `documents`, oldest first).
    /// Sorted, so a folder and everything below it is one contiguous range.
    folders: BTreeMap<String, Vec<usize>>,
}

/// Tree order: by path segments, so every folder is followed by its subfolders (`a`, `a/b`,
/// `a-x`; plain string order would put `a-x` between `a` and `a/b`).
pub fn tree_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// A folder of the user's documents with how many it holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FolderSummary {
    /// Normalised path (`a/b`); `""` is the root.
    pub path: String,
    /// Documents directly in this folder.
    pub documents: u64,
    /// Documents in this folder and every folder below it.
    pub total: u64,
}

impl Catalog {
    pub(crate) fn new(version: i64, documents: Vec<Document>) -> Self {
        let by_id = documents
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), i))
            .collect();
        let ready = documents
            .iter()
            .filter(|d| d.status == DocumentStatus::Ready)
            .count();
        let ready_datasets = Arc::new(
            documents
                .iter()
                .filter(|d| d.status == DocumentStatus::Ready && d.kind == DocumentKind::Dataset)
                .map(|d| d.id.clone())
                .collect(),
        );
        let mut folders: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, d) in documents.iter().enumerate() {
            folders.entry(d.folder.clone()).or_default().push(i);
        }
        Self {
            version,
            documents,
            by_id,
            ready,
            ready_datasets,
            folders,
        }
    }

    /// The corpus version this catalog reflects.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Every document, oldest first.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    pub fn get(&self, id: &str) -> Option<&Document> {
        self.by_id.get(id).map(|&i| &self.documents[i])
    }

    /// The ready documents, oldest first.
    pub fn ready(&self) -> impl Iterator<Item = &Document> {
        self.documents
            .iter()
            .filter(|d| d.status == DocumentStatus::Ready)
    }

    /// The documents in `roots` or any folder below them, each once, by folder path then age.
    /// Looks up each root's range of the sorted folder index: no scan of the whole catalog.
    pub fn in_folders<'a>(&'a self, roots: &[String]) -> Vec<&'a Document> {
        let mut sorted: Vec<&str> = roots.iter().map(String::as_str).collect();
        // Sorted, a folder comes before everything inside it; a root inside another adds nothing.
        sorted.sort_unstable();
        let mut kept: Vec<&str> = Vec::with_capacity(sorted.len());
        for root in sorted {
            if !kept
                .iter()
                .any(|outer| ragenie_common::folders::is_within(root, outer))
            {
                kept.push(root);
            }
        }
        let mut out = Vec::new();
        for root in kept {
            if root.is_empty() {
                return self.documents.iter().collect();
            }
            let exact = self.folders.get(root).into_iter();
            // Every path below `root` starts with `root/`: from `root/` up to `root0`
            // (`0` follows `/`).
            let below = self
                .folders
                .range(format!("{root}/")..format!("{root}0"))
                .map(|(_, v)| v);
            for idxs in exact.chain(below) {
                out.extend(idxs.iter().map(|&i| &self.documents[i]));
            }
        }
        out
    }

    /// Documents directly in `folder`, oldest first.
    pub fn in_folder(&self, folder: &str) -> impl Iterator<Item = &Document> {
        self.folders
            .get(folder)
            .into_iter()
            .flatten()
            .map(|&i| &self.documents[i])
    }

    /// Every folder that holds documents, and each of its ancestors, in tree order, with
    /// direct and total counts (the root `""` first, when there are documents).
    pub fn folder_summaries(&self) -> Vec<FolderSummary> {
        let mut all: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (path, idxs) in &self.folders {
            let n = idxs.len() as u64;
            all.entry(path.clone()).or_default().0 += n;
            all.entry(String::new()).or_default().1 += n;
            let mut at = 0;
            while let Some(slash) = path[at..].find('/') {
                all.entry(path[..at + slash].to_owned()).or_default().1 += n;
                at += slash + 1;
            }
            if !path.is_empty() {
                all.entry(path.clone()).or_default().1 += n;
            }
        }
        let mut rows: Vec<FolderSummary> = all
            .into_iter()
            .map(|(path, (documents, total))| FolderSummary {
                path,
                documents,
                total,
            })
            .collect();
        rows.sort_by(|a, b| tree_order(&a.path, &b.path));
        rows
    }

    pub(crate) fn ready_count(&self) -> usize {
        self.ready
    }

    /// Ids of the ready datasets (what a search without a profile covers).
    pub(crate) fn ready_datasets(&self) -> &Arc<HashSet<String>> {
        &self.ready_datasets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DocumentStatus;

    fn doc(id: &str, folder: &str) -> Document {
        let stamp = ragenie_common::clock::now();
        Document {
            id: id.into(),
            name: format!("{id}.md"),
            folder: folder.into(),
            kind: DocumentKind::Dataset,
            media_type: "text/markdown".into(),
            size: 1,
            content_hash: id.into(),
            token_count: None,
            version: 1,
            status: DocumentStatus::Ready,
            failure_reason: None,
            created_at: stamp,
            updated_at: stamp,
            embedding_model: None,
            reindex: None,
        }
    }

    #[test]
    fn folder_scopes_take_a_folder_and_everything_below_it_once() {
        let catalog = Catalog::new(
            1,
            vec![
                doc("1", "a"),
                doc("2", "a/b"),
                doc("3", "a-x"),
                doc("4", "ab"),
                doc("5", ""),
                doc("6", "a/b/c"),
            ],
        );
        let ids = |roots: &[&str]| -> Vec<String> {
            let roots: Vec<String> = roots.iter().map(|r| r.to_string()).collect();
            catalog
                .in_folders(&roots)
                .iter()
                .map(|d| d.id.clone())
                .collect()
        };
        assert_eq!(ids(&["a"]), ["1", "2", "6"]);
        assert_eq!(ids(&["a/b", "a-x", "a"]), ["1", "2", "6", "3"]);
        assert_eq!(ids(&["a/b"]), ["2", "6"]);
        assert_eq!(ids(&["nowhere"]), Vec::<String>::new());
        assert_eq!(ids(&[""]).len(), 6);
        let rows: Vec<(String, u64, u64)> = catalog
            .folder_summaries()
            .into_iter()
            .map(|f| (f.path, f.documents, f.total))
            .collect();
        assert_eq!(
            rows,
            [
                ("".into(), 1, 6),
                ("a".into(), 1, 3),
                ("a/b".into(), 1, 2),
                ("a/b/c".into(), 1, 1),
                ("a-x".into(), 1, 1),
                ("ab".into(), 1, 1),
            ]
        );
    }
}
