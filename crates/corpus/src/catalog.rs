//! The user's corpus version and the catalog of their documents a process keeps in memory.
//!
//! Every write that changes a user's documents (create, status, replace, rename, delete) bumps
//! one per-user version item in the same transaction. A search or a chat message reads that one
//! item: when it equals the version of the catalog (and segment set) held in memory, nothing
//! else is read from the table, however many documents the user has. Only after a change is the
//! document list read again, once.

use std::collections::{HashMap, HashSet};
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
        Self {
            version,
            documents,
            by_id,
            ready,
            ready_datasets,
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

    pub(crate) fn ready_count(&self) -> usize {
        self.ready
    }

    /// Ids of the ready datasets (what a search without a profile covers).
    pub(crate) fn ready_datasets(&self) -> &Arc<HashSet<String>> {
        &self.ready_datasets
    }
}
