//! Tracing for the storage ports: wraps any [`Table`] or [`Blobs`] so every call runs in a
//! `storage` span (operation, partition or key prefix — never item contents). The spans are at
//! DEBUG level: with `RUST_LOG=ragenie_common::storage=debug` each call's close line in the
//! logs carries its duration; at the default level they cost next to nothing.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tracing::Instrument;

use super::{
    Blob, BlobMeta, BlobStream, Blobs, Condition, CopyRequest, Item, Page, PresignRequest,
    PresignedUrl, Query, Scan, StoreResult, Table, TxOp, UpdateRequest,
};

/// The entity part of a key (`USER`, `DOC`…), so spans show which kind of item was touched
/// without naming whose.
fn entity(key: &str) -> &str {
    key.split(['#', '/']).next().unwrap_or("")
}

macro_rules! span {
    ($op:literal, $key:expr) => {
        tracing::debug_span!("storage", op = $op, entity = entity($key))
    };
}

/// A [`Table`] whose calls are traced.
pub struct TracedTable(pub Arc<dyn Table>);

#[async_trait]
impl Table for TracedTable {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        self.0.get(pk, sk).instrument(span!("get", pk)).await
    }
    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        let span = span!("put", &item.pk);
        self.0.put(item, condition).instrument(span).await
    }
    async fn update_item(&self, request: UpdateRequest<'_>) -> StoreResult<Item> {
        let span = span!("update", request.pk);
        self.0.update_item(request).instrument(span).await
    }
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        self.0
            .delete(pk, sk, condition)
            .instrument(span!("delete", pk))
            .await
    }
    async fn query(&self, query: Query) -> StoreResult<Page> {
        let span = span!("query", &query.pk);
        self.0.query(query).instrument(span).await
    }
    async fn query_index(&self, query: Query) -> StoreResult<Page> {
        let span = span!("query_index", &query.pk);
        self.0.query_index(query).instrument(span).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        let span = tracing::debug_span!("storage", op = "transact", items = ops.len());
        self.0.transact(ops).instrument(span).await
    }
    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        let span = tracing::debug_span!("storage", op = "scan");
        self.0.scan(scan).instrument(span).await
    }
}

/// A [`Blobs`] whose calls are traced.
pub struct TracedBlobs(pub Arc<dyn Blobs>);

#[async_trait]
impl Blobs for TracedBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> StoreResult<BlobMeta> {
        let span = tracing::debug_span!(
            "storage",
            op = "blob_put",
            entity = entity(key),
            bytes = body.len()
        );
        self.0.put(key, body, content_type).instrument(span).await
    }
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        self.0.get(key).instrument(span!("blob_get", key)).await
    }
    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        self.0.head(key).instrument(span!("blob_head", key)).await
    }
    async fn get_at_most(&self, key: &str, max_bytes: u64) -> StoreResult<Option<Blob>> {
        self.0
            .get_at_most(key, max_bytes)
            .instrument(span!("blob_get", key))
            .await
    }
    /// The span covers opening the object; its bytes are read after it closes.
    async fn get_stream(&self, key: &str, max_bytes: u64) -> StoreResult<Option<BlobStream>> {
        self.0
            .get_stream(key, max_bytes)
            .instrument(span!("blob_get_stream", key))
            .await
    }
    async fn copy_object(&self, request: CopyRequest<'_>) -> StoreResult<bool> {
        let span = span!("blob_copy", request.to);
        self.0.copy_object(request).instrument(span).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.0
            .delete(key)
            .instrument(span!("blob_delete", key))
            .await
    }
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        self.0
            .list(prefix)
            .instrument(span!("blob_list", prefix))
            .await
    }
    async fn presign(&self, request: PresignRequest<'_>) -> StoreResult<PresignedUrl> {
        self.0.presign(request).await
    }
}
