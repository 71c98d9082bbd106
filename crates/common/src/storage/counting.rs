//! A [`Table`] that counts the calls made through it, for tests and benchmarks that must show
//! how many reads an operation costs (DynamoDB bills and throttles per request).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{Condition, Item, Page, Query, Scan, StoreResult, Table, TxOp, Update};

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

    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        condition: Condition,
    ) -> StoreResult<Item> {
        self.write();
        self.inner.update(pk, sk, update, condition).await
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
