//! The document records as stored and as the API returns them.

use ragenie_common::clock::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    /// Always sent whole, in profile order (custom instructions).
    Instructions,
    /// Knowledge: sent whole when it fits, else the best chunks (curated datasets).
    Dataset,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Instructions => "instructions",
            DocumentKind::Dataset => "dataset",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "instructions" => Some(Self::Instructions),
            "dataset" | "datasets" => Some(Self::Dataset),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    /// Stored, waiting to be ingested.
    Pending,
    /// Being extracted, chunked, embedded and indexed.
    Processing,
    /// Searchable.
    Ready,
    /// Not ingested; `failure_reason` says why. Can be retried.
    Failed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Pending => "pending",
            DocumentStatus::Processing => "processing",
            DocumentStatus::Ready => "ready",
            DocumentStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Document {
    pub id: String,
    pub name: String,
    /// The folder path the document is in (`a/b`, normalised); `""` is the root (documents
    /// uploaded before folders existed are there). Names are unique per folder.
    #[serde(default)]
    pub folder: String,
    pub kind: DocumentKind,
    pub media_type: String,
    /// Bytes of the current version.
    pub size: u64,
    /// SHA-256 of the current version's bytes.
    pub content_hash: String,
    /// Tokens of the extracted text (what sending it whole costs), once ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_count: Option<u64>,
    pub version: u64,
    pub status: DocumentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The embedding model the current version's chunks carry vectors of; absent: the document
    /// ranks by BM25 alone (uploaded before a model was set, or the provider failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    /// The document's place in a background re-index (`POST /documents/reindex`); absent when
    /// none is under way for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reindex: Option<ReindexState>,
}

/// Where a document is in a background re-index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReindexState {
    /// Waiting for its turn.
    Queued,
    /// Being embedded now.
    Embedding,
    /// Its chunks could not be embedded (the document still ranks by BM25); a new re-index
    /// tries again.
    Failed,
}

impl ReindexState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReindexState::Queued => "queued",
            ReindexState::Embedding => "embedding",
            ReindexState::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DocumentVersion {
    pub version: u64,
    pub media_type: String,
    pub size: u64,
    pub content_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_count: Option<u64>,
    pub status: DocumentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub created_at: Timestamp,
}

impl DocumentVersion {
    pub fn of(doc: &Document) -> Self {
        Self {
            version: doc.version,
            media_type: doc.media_type.clone(),
            size: doc.size,
            content_hash: doc.content_hash.clone(),
            token_count: doc.token_count,
            status: doc.status,
            failure_reason: doc.failure_reason.clone(),
            created_at: doc.updated_at,
        }
    }
}
