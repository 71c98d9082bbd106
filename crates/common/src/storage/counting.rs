//! A [`Table`] and a [`Blobs`] that count the calls made through them, for tests and
//! benchmarks that must show how many reads an operation costs (DynamoDB bills and throttles
//! per request) or how many bytes it holds at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use super::{
    Blob, BlobMeta, BlobStream, Blobs, Condition, CopyRequest, Item, Page, PresignRequest,
    PresignedUrl, Query, Scan, StoreResult, Table, TxOp, UpdateRequest,
};

/// Calls made through a [`CountingTable`] so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableCalls {
    /// `get`, `query`, `query_index` and `scan` calls (one page is one call).
    pub reads: u64,
    /// `put`, `update`, `delete` and `transact` calls.
    pub writes: u64,
}

impl std::ops::Sub for TableCalls {
    type Output = TableCalls;
    fn sub(self, earlier: TableCalls) -> TableCalls {
        TableCalls {
            reads: self.reads - earlier.reads,
            writes: self.writes - earlier.writes,
        }
    }
}

/// Wraps a table and counts every call; behaviour is the inner table's.
pub struct CountingTable {
    inner: Arc<dyn Table>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self {
            inner,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    pub fn calls(&self) -> TableCalls {
        TableCalls {
            reads: self.reads.load(Ordering::SeqCst),
            writes: self.writes.load(Ordering::SeqCst),
        }
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        self.read();
        self.inner.get(pk, sk).await
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        self.write();
        self.inner.put(item, condition).await
    }

    async fn update_item(&self, request: UpdateRequest<'_>) -> StoreResult<Item> {
        self.write();
        self.inner.update_item(request).await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        self.write();
        self.inner.delete(pk, sk, condition).await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.read();
        self.inner.query(query).await
    }

    async fn query_index(&self, query: Query) -> StoreResult<Page> {
        self.read();
        self.inner.query_index(query).await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        self.write();
        self.inner.transact(ops).await
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.read();
        self.inner.scan(scan).await
    }
}

/// What went through a [`CountingBlobs`] so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlobCalls {
    /// Object bytes read: whole (`get`, `get_at_most`) or streamed (`get_stream`).
    pub bytes_read: u64,
    /// `get` and `get_at_most` calls that returned an object: each held it whole in memory.
    pub whole_reads: u64,
    pub puts: u64,
    pub copies: u64,
    /// The most bytes one call or one streamed chunk handed over or took at once.
    pub largest_buffer: u64,
}

#[derive(Default)]
struct BlobCounters {
    bytes_read: AtomicU64,
    whole_reads: AtomicU64,
    puts: AtomicU64,
    copies: AtomicU64,
    largest_buffer: AtomicU64,
}

impl BlobCounters {
    fn buffer(&self, bytes: usize) {
        self.largest_buffer
            .fetch_max(bytes as u64, Ordering::SeqCst);
    }

    fn read(&self, bytes: usize) {
        self.bytes_read.fetch_add(bytes as u64, Ordering::SeqCst);
        self.buffer(bytes);
    }

    fn whole(&self, blob: &Option<Blob>) {
        if let Some(blob) = blob {
            self.whole_reads.fetch_add(1, Ordering::SeqCst);
            self.read(blob.body.len());
        }
    }
}

/// Wraps a blob store and counts what goes through it; behaviour is the inner store's.
pub struct CountingBlobs {
    inner: Arc<dyn Blobs>,
    counters: Arc<BlobCounters>,
}

impl CountingBlobs {
    pub fn new(inner: Arc<dyn Blobs>) -> Self {
        Self {
            inner,
            counters: Arc::default(),
        }
    }

    pub fn calls(&self) -> BlobCalls {
        let c = &self.counters;
        BlobCalls {
            bytes_read: c.bytes_read.load(Ordering::SeqCst),
            whole_reads: c.whole_reads.load(Ordering::SeqCst),
            puts: c.puts.load(Ordering::SeqCst),
            copies: c.copies.load(Ordering::SeqCst),
            largest_buffer: c.largest_buffer.load(Ordering::SeqCst),
        }
    }
}

#[async_trait]
impl Blobs for CountingBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> StoreResult<BlobMeta> {
        self.counters.puts.fetch_add(1, Ordering::SeqCst);
        self.counters.buffer(body.len());
        self.inner.put(key, body, content_type).await
    }
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        let blob = self.inner.get(key).await?;
        self.counters.whole(&blob);
        Ok(blob)
    }
    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        self.inner.head(key).await
    }
    async fn get_at_most(&self, key: &str, max_bytes: u64) -> StoreResult<Option<Blob>> {
        let blob = self.inner.get_at_most(key, max_bytes).await?;
        self.counters.whole(&blob);
        Ok(blob)
    }
    async fn get_stream(&self, key: &str, max_bytes: u64) -> StoreResult<Option<BlobStream>> {
        let Some(stream) = self.inner.get_stream(key, max_bytes).await? else {
            return Ok(None);
        };
        let counters = self.counters.clone();
        let body = stream
            .body
            .inspect(move |chunk| {
                if let Ok(chunk) = chunk {
                    counters.read(chunk.len());
                }
            })
            .boxed();
        Ok(Some(BlobStream {
            meta: stream.meta,
            body,
        }))
    }
    async fn copy_object(&self, request: CopyRequest<'_>) -> StoreResult<bool> {
        self.counters.copies.fetch_add(1, Ordering::SeqCst);
        self.inner.copy_object(request).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        self.inner.list(prefix).await
    }
    async fn presign(&self, request: PresignRequest<'_>) -> StoreResult<PresignedUrl> {
        self.inner.presign(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Update;
    use crate::storage::embedded::EmbeddedTable;

    #[tokio::test]
    async fn every_call_is_counted_as_a_read_or_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Table> = Arc::new(EmbeddedTable::open(&dir.path().join("t")).unwrap());
        let table = CountingTable::new(inner);
        table
            .put(Item::new("P", "A").with("n", 1), Condition::None)
            .await
            .unwrap();
        table
            .update("P", "A", Update::new().add("n", 1), Condition::Exists)
            .await
            .unwrap();
        let before = table.calls();
        assert_eq!(
            before,
            TableCalls {
                reads: 0,
                writes: 2
            }
        );
        let item = table.get("P", "A").await.unwrap().unwrap();
        assert_eq!(item.i64("n"), Some(2));
        table.query(Query::partition("P")).await.unwrap();
        table.query_index(Query::partition("P")).await.unwrap();
        table
            .transact(vec![TxOp::Delete {
                pk: "P".into(),
                sk: "A".into(),
                condition: Condition::None,
            }])
            .await
            .unwrap();
        table.delete("P", "B", Condition::None).await.unwrap();
        assert_eq!(
            table.calls() - before,
            TableCalls {
                reads: 3,
                writes: 2
            }
        );
    }

    #[tokio::test]
    async fn blob_reads_are_counted_whole_or_a_chunk_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let inner = crate::storage::embedded::EmbeddedBlobs::open(
            dir.path(),
            crate::storage::embedded::UrlSigner::new(b"k".to_vec()),
            "http://127.0.0.1:9",
        )
        .unwrap();
        let inner: Arc<dyn Blobs> = Arc::new(inner);
        inner
            .put("a/b", Bytes::from(vec![7u8; 200 * 1024]), "x/y")
            .await
            .unwrap();
        let blobs = CountingBlobs::new(inner);
        let mut stream = blobs.get_stream("a/b", 1 << 20).await.unwrap().unwrap();
        while stream.body.next().await.transpose().unwrap().is_some() {}
        let streamed = blobs.calls();
        assert_eq!((streamed.bytes_read, streamed.whole_reads), (200 * 1024, 0));
        assert!(
            (1..=64 * 1024).contains(&streamed.largest_buffer),
            "{streamed:?}"
        );
        blobs.get("a/b").await.unwrap();
        assert!(blobs.copy("a/b", "a/c", "x/y", None).await.unwrap());
        let after = blobs.calls();
        assert_eq!((after.bytes_read, after.whole_reads), (400 * 1024, 1));
        assert_eq!((after.largest_buffer, after.copies), (200 * 1024, 1));
    }
}
