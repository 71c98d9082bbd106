//! The embedded twin of the AWS adapters: items in a redb database, blobs as plain files,
//! secrets as files, presigned URLs signed with HMAC and served by the local server.
//! RaGenie runs on a laptop with this and no AWS account.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use rand::RngCore;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::cursor::Cursor;
use super::{
    Blob, BlobMeta, BlobStream, Blobs, Condition, CopyRequest, Item, Order, Page, PresignMethod,
    PresignRequest, PresignedUrl, Query, Scan, Secrets, SortKey, StoreError, StoreResult, Table,
    TxOp, Update, UpdateRequest, at_most, validate_blob_key, validate_transaction,
};
use crate::clock;
use crate::error::ApiError;

/// The largest object a presigned PUT accepts locally (the product promises at least 50 MB).
pub const MAX_PRESIGNED_PUT_BYTES: usize = 100 * 1024 * 1024;

fn unexpected(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Unexpected(e.into())
}

mod blobs;
mod presign;
mod secrets;
mod table;

pub use blobs::EmbeddedBlobs;
pub use presign::{Grant, UrlSigner, presigned_routes};
pub use secrets::EmbeddedSecrets;
pub use table::EmbeddedTable;
#[cfg(test)]
use table::prefix_successor;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_skips_trailing_max_bytes() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[b'a', 0xff]), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(&[0xff]), None);
    }

    #[test]
    fn a_signature_fails_for_any_changed_field() {
        let s = UrlSigner::new(b"k".to_vec());
        let grant = |method, key, expires, content_type, content_length| Grant {
            method,
            key,
            expires,
            content_type,
            content_length,
        };
        let sig = s.sign(&grant("PUT", "a/b", 10, "text/plain", 5));
        assert!(s.verify(&grant("PUT", "a/b", 10, "text/plain", 5), &sig));
        assert!(!s.verify(&grant("GET", "a/b", 10, "text/plain", 5), &sig));
        assert!(!s.verify(&grant("PUT", "a/c", 10, "text/plain", 5), &sig));
        assert!(!s.verify(&grant("PUT", "a/b", 11, "text/plain", 5), &sig));
        assert!(!s.verify(&grant("PUT", "a/b", 10, "text/html", 5), &sig));
        assert!(!s.verify(&grant("PUT", "a/b", 10, "text/plain", 6), &sig));
        assert!(!s.verify(&grant("PUT", "a/b", 10, "text/plain", 5), "zz"));
    }
}
