//! Fault injection for the storage ports (tests only, feature `test-support`): wraps any
//! [`Table`] or [`Blobs`] and makes chosen calls fail the way DynamoDB and S3 do — throttled,
//! timed out (before or after the write was applied), unavailable, an unexpected error — or
//! slow, on the Nth matching call, from the Nth on, always, or at a seeded rate.
//!
//! ```ignore
//! let faults = Faults::new();
//! let table = FaultyTable::new(state.table.clone(), faults.clone());
//! // The second transaction that writes a message is throttled.
//! faults.add(Rule::on(&[Op::Transact]).key("MSG#").nth(2).fault(Fault::Throttle));
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{
    Blob, BlobMeta, BlobStream, Blobs, Condition, CopyRequest, Item, Page, PresignMethod,
    PresignRequest, PresignedUrl, Query, StoreError, StoreResult, Table, TxOp, UpdateRequest,
};

/// The port operation a call makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Get,
    Put,
    Update,
    Delete,
    Query,
    QueryIndex,
    Transact,
    BlobPut,
    BlobGet,
    BlobHead,
    BlobDelete,
    BlobList,
    BlobCopy,
    PresignPut,
    PresignGet,
}

impl Op {
    pub const TABLE_WRITES: [Op; 4] = [Op::Put, Op::Update, Op::Delete, Op::Transact];
    pub const TABLE_READS: [Op; 3] = [Op::Get, Op::Query, Op::QueryIndex];
    pub const BLOB_WRITES: [Op; 3] = [Op::BlobPut, Op::BlobCopy, Op::BlobDelete];
}

/// What happens to a call a rule picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Refused before anything is written ([`StoreError::Throttled`]).
    Throttle,
    /// No answer in time, nothing written ([`StoreError::Timeout`]).
    Timeout,
    /// The call is applied but its answer is lost ([`StoreError::Timeout`] after the write):
    /// the ambiguous case a retry must survive.
    TimeoutAfterApplying,
    /// The store failed on its side ([`StoreError::Unavailable`]).
    Unavailable,
    /// Something unexpected ([`StoreError::Unexpected`]): a 500, not a retry.
    Error,
    /// The call waits this long, then goes through.
    Delay(Duration),
}

impl Fault {
    fn error(self) -> StoreError {
        match self {
            Fault::Throttle => StoreError::Throttled,
            Fault::Timeout | Fault::TimeoutAfterApplying => StoreError::Timeout,
            Fault::Unavailable => StoreError::Unavailable("injected fault".into()),
            Fault::Error | Fault::Delay(_) => {
                StoreError::Unexpected(anyhow::anyhow!("injected fault"))
            }
        }
    }
}

/// Which of the calls a rule matches it fires on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum When {
    /// The Nth matching call (1-based), once.
    Nth(u64),
    /// Every matching call from the Nth on.
    From(u64),
    /// Each matching call with this probability, from a seeded generator (reproducible).
    Rate { probability: f64, seed: u64 },
}

/// One way calls fail: which calls (operations, a key fragment), when, and how.
#[derive(Clone, Debug)]
pub struct Rule {
    ops: Vec<Op>,
    key: Option<String>,
    when: When,
    fault: Fault,
    /// At most this many injections (then the rule is spent).
    limit: Option<u64>,
}

impl Rule {
    /// Calls of these operations (empty: any operation).
    pub fn on(ops: &[Op]) -> Self {
        Self {
            ops: ops.to_vec(),
            key: None,
            when: When::From(1),
            fault: Fault::Error,
            limit: None,
        }
    }

    /// Every call, of any operation.
    pub fn any() -> Self {
        Self::on(&[])
    }

    /// Only calls touching a key (partition, sort key, blob key or prefix; any item of a
    /// transaction) that contains `fragment`.
    pub fn key(mut self, fragment: impl Into<String>) -> Self {
        self.key = Some(fragment.into());
        self
    }

    pub fn nth(mut self, n: u64) -> Self {
        self.when = When::Nth(n.max(1));
        self
    }

    pub fn from(mut self, n: u64) -> Self {
        self.when = When::From(n.max(1));
        self
    }

    pub fn rate(mut self, probability: f64, seed: u64) -> Self {
        self.when = When::Rate { probability, seed };
        self
    }

    pub fn times(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    fn matches(&self, op: Op, keys: &[&str]) -> bool {
        (self.ops.is_empty() || self.ops.contains(&op))
            && self
                .key
                .as_deref()
                .is_none_or(|f| keys.iter().any(|k| k.contains(f)))
    }
}

struct Armed {
    rule: Rule,
    matched: u64,
    injected: u64,
    rng: StdRng,
}

/// One injected fault, for a test's assertions and failure messages.
#[derive(Clone, Debug, PartialEq)]
pub struct Injected {
    pub op: Op,
    pub fault: Fault,
    /// The first key the call touched.
    pub key: String,
}

/// The rules shared by a [`FaultyTable`] and a [`FaultyBlobs`]; rules can be added and cleared
/// while the wrapped ports are in use.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Armed>>,
    log: Mutex<Vec<Injected>>,
}

impl Faults {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn add(&self, rule: Rule) {
        let seed = match rule.when {
            When::Rate { seed, .. } => seed,
            _ => 0,
        };
        self.rules.lock().expect("faults lock").push(Armed {
            rule,
            matched: 0,
            injected: 0,
            rng: StdRng::seed_from_u64(seed),
        });
    }

    /// Removes every rule: calls go through from now on.
    pub fn clear(&self) {
        self.rules.lock().expect("faults lock").clear();
    }

    /// Every fault injected so far, in order.
    pub fn injected(&self) -> Vec<Injected> {
        self.log.lock().expect("faults lock").clone()
    }

    /// The fault this call gets, if any (the first rule that fires).
    fn decide(&self, op: Op, keys: &[&str]) -> Option<Fault> {
        let mut rules = self.rules.lock().expect("faults lock");
        let mut chosen = None;
        for armed in rules.iter_mut() {
            if !armed.rule.matches(op, keys) {
                continue;
            }
            armed.matched += 1;
            if chosen.is_some() || armed.rule.limit.is_some_and(|l| armed.injected >= l) {
                continue;
            }
            let fires = match armed.rule.when {
                When::Nth(n) => armed.matched == n,
                When::From(n) => armed.matched >= n,
                When::Rate { probability, .. } => armed.rng.gen_bool(probability.clamp(0.0, 1.0)),
            };
            if fires {
                armed.injected += 1;
                chosen = Some(armed.rule.fault);
            }
        }
        if let Some(fault) = chosen {
            self.log.lock().expect("faults lock").push(Injected {
                op,
                fault,
                key: keys.first().map(|k| (*k).to_owned()).unwrap_or_default(),
            });
        }
        chosen
    }

    async fn run<T, F>(&self, op: Op, keys: &[&str], call: F) -> StoreResult<T>
    where
        F: Future<Output = StoreResult<T>>,
    {
        match self.decide(op, keys) {
            None => call.await,
            Some(Fault::Delay(wait)) => {
                tokio::time::sleep(wait).await;
                call.await
            }
            Some(Fault::TimeoutAfterApplying) => {
                let _ = call.await;
                Err(StoreError::Timeout)
            }
            Some(fault) => Err(fault.error()),
        }
    }
}

/// A [`Table`] whose calls fail as its [`Faults`] say; otherwise the inner table's.
pub struct FaultyTable {
    inner: Arc<dyn Table>,
    faults: Arc<Faults>,
}

impl FaultyTable {
    pub fn new(inner: Arc<dyn Table>, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }
}

fn tx_keys(ops: &[TxOp]) -> Vec<&str> {
    ops.iter()
        .flat_map(|op| {
            let (pk, sk) = op.key();
            [pk, sk]
        })
        .collect()
}

#[async_trait]
impl Table for FaultyTable {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        self.faults
            .run(Op::Get, &[pk, sk], self.inner.get(pk, sk))
            .await
    }
    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        let (pk, sk) = (item.pk.clone(), item.sk.clone());
        self.faults
            .run(Op::Put, &[&pk, &sk], self.inner.put(item, condition))
            .await
    }
    async fn update_item(&self, request: UpdateRequest<'_>) -> StoreResult<Item> {
        let keys = [request.pk, request.sk];
        self.faults
            .run(Op::Update, &keys, self.inner.update_item(request))
            .await
    }
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        self.faults
            .run(Op::Delete, &[pk, sk], self.inner.delete(pk, sk, condition))
            .await
    }
    async fn query(&self, query: Query) -> StoreResult<Page> {
        let keys = query_keys(&query);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.faults
            .run(Op::Query, &keys, self.inner.query(query.clone()))
            .await
    }
    async fn query_index(&self, query: Query) -> StoreResult<Page> {
        let keys = query_keys(&query);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.faults
            .run(Op::QueryIndex, &keys, self.inner.query_index(query.clone()))
            .await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        let keys: Vec<String> = tx_keys(&ops).into_iter().map(str::to_owned).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.faults
            .run(Op::Transact, &keys, self.inner.transact(ops))
            .await
    }
}

/// The partition and, for a prefix query, the prefix.
fn query_keys(query: &Query) -> Vec<String> {
    let mut keys = vec![query.pk.clone()];
    if let super::SortKey::Prefix(p) = &query.sort {
        keys.push(p.clone());
    }
    keys
}

/// A [`Blobs`] whose calls fail as its [`Faults`] say; otherwise the inner store's.
pub struct FaultyBlobs {
    inner: Arc<dyn Blobs>,
    faults: Arc<Faults>,
}

impl FaultyBlobs {
    pub fn new(inner: Arc<dyn Blobs>, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }
}

#[async_trait]
impl Blobs for FaultyBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> StoreResult<BlobMeta> {
        self.faults
            .run(Op::BlobPut, &[key], self.inner.put(key, body, content_type))
            .await
    }
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        self.faults
            .run(Op::BlobGet, &[key], self.inner.get(key))
            .await
    }
    /// A bounded read is a read: faults on `BlobGet` apply to it too.
    async fn get_at_most(&self, key: &str, max_bytes: u64) -> StoreResult<Option<Blob>> {
        self.faults
            .run(Op::BlobGet, &[key], self.inner.get_at_most(key, max_bytes))
            .await
    }
    /// A streamed read is a read: faults on `BlobGet` apply to opening it.
    async fn get_stream(&self, key: &str, max_bytes: u64) -> StoreResult<Option<BlobStream>> {
        self.faults
            .run(Op::BlobGet, &[key], self.inner.get_stream(key, max_bytes))
            .await
    }
    /// A copy writes `to`: its key is the first, so rules on a key fragment match the target.
    async fn copy_object(&self, request: CopyRequest<'_>) -> StoreResult<bool> {
        let keys = [request.to, request.from];
        self.faults
            .run(Op::BlobCopy, &keys, self.inner.copy_object(request))
            .await
    }
    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        self.faults
            .run(Op::BlobHead, &[key], self.inner.head(key))
            .await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.faults
            .run(Op::BlobDelete, &[key], self.inner.delete(key))
            .await
    }
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        self.faults
            .run(Op::BlobList, &[prefix], self.inner.list(prefix))
            .await
    }
    async fn presign(&self, request: PresignRequest<'_>) -> StoreResult<PresignedUrl> {
        let op = match request.method {
            PresignMethod::Get => Op::PresignGet,
            PresignMethod::Put => Op::PresignPut,
        };
        self.faults
            .run(op, &[request.key], self.inner.presign(request))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::embedded::EmbeddedTable;

    fn table(dir: &std::path::Path) -> (FaultyTable, Arc<dyn Table>, Arc<Faults>) {
        let inner: Arc<dyn Table> = Arc::new(EmbeddedTable::open(&dir.join("t")).unwrap());
        let faults = Faults::new();
        (
            FaultyTable::new(inner.clone(), faults.clone()),
            inner,
            faults,
        )
    }

    #[tokio::test]
    async fn the_nth_matching_call_fails_once_and_others_pass() {
        let dir = tempfile::tempdir().unwrap();
        let (table, _, faults) = table(dir.path());
        faults.add(
            Rule::on(&[Op::Put])
                .key("MSG#")
                .nth(2)
                .fault(Fault::Throttle),
        );
        let put = |sk: &str| table.put(Item::new("P", sk), Condition::None);
        put("MSG#1").await.unwrap();
        put("OTHER").await.unwrap();
        assert!(matches!(put("MSG#2").await, Err(StoreError::Throttled)));
        put("MSG#3").await.unwrap();
        assert_eq!(table.get("P", "MSG#2").await.unwrap(), None);
        assert_eq!(
            faults.injected(),
            [Injected {
                op: Op::Put,
                fault: Fault::Throttle,
                key: "P".into()
            }]
        );
    }

    #[tokio::test]
    async fn a_timeout_after_applying_writes_and_still_fails() {
        let dir = tempfile::tempdir().unwrap();
        let (table, inner, faults) = table(dir.path());
        faults.add(
            Rule::on(&Op::TABLE_WRITES)
                .from(1)
                .times(1)
                .fault(Fault::TimeoutAfterApplying),
        );
        let result = table.put(Item::new("P", "A"), Condition::NotExists).await;
        assert!(matches!(result, Err(StoreError::Timeout)));
        assert!(inner.get("P", "A").await.unwrap().is_some());
        // Spent after one injection: the retry meets the write it did not know had landed.
        assert!(matches!(
            table.put(Item::new("P", "A"), Condition::NotExists).await,
            Err(StoreError::ConditionFailed)
        ));
    }

    #[tokio::test]
    async fn a_seeded_rate_fails_the_same_calls_every_run_and_clear_stops_it() {
        let dir = tempfile::tempdir().unwrap();
        let (table, _, faults) = table(dir.path());
        let run = || async {
            faults.clear();
            faults.add(Rule::any().rate(0.3, 7).fault(Fault::Unavailable));
            let mut failed = Vec::new();
            for i in 0..50 {
                if table.get("P", &format!("K{i}")).await.is_err() {
                    failed.push(i);
                }
            }
            failed
        };
        let first = run().await;
        assert!((5..=25).contains(&first.len()), "{first:?}");
        assert_eq!(run().await, first);
        faults.clear();
        table.get("P", "K0").await.unwrap();
    }

    #[tokio::test]
    async fn blob_faults_match_on_the_key_and_a_transaction_on_any_of_its_items() {
        let dir = tempfile::tempdir().unwrap();
        let (table, _, faults) = table(dir.path());
        let blobs = FaultyBlobs::new(
            Arc::new(
                crate::storage::embedded::EmbeddedBlobs::open(
                    &dir.path().join("b"),
                    crate::storage::embedded::UrlSigner::new(b"k".to_vec()),
                    "http://127.0.0.1:9",
                )
                .unwrap(),
            ),
            faults.clone(),
        );
        faults.add(
            Rule::on(&[Op::BlobPut])
                .key("/segments/")
                .fault(Fault::Timeout),
        );
        faults.add(Rule::on(&[Op::Transact]).key("DOC#").fault(Fault::Error));
        blobs
            .put("u/content/x", Bytes::from("x"), "text/plain")
            .await
            .unwrap();
        assert!(matches!(
            blobs.put("u/segments/x.seg", Bytes::from("x"), "x").await,
            Err(StoreError::Timeout)
        ));
        let tx = vec![
            TxOp::Put {
                item: Item::new("P", "HASH#1"),
                condition: Condition::None,
            },
            TxOp::Put {
                item: Item::new("P", "DOC#1"),
                condition: Condition::None,
            },
        ];
        assert!(matches!(
            table.transact(tx).await,
            Err(StoreError::Unexpected(_))
        ));
    }
}
