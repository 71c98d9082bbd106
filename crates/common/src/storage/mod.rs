//! Storage ports: the narrow capabilities domain code uses instead of SDK calls.
//!
//! They mirror what DynamoDB and S3 guarantee (conditional writes, ordered partitions,
//! all-or-nothing transactions of a few items, one secondary index, TTL; blobs with presigned
//! URLs), so the embedded twin and the AWS adapters are interchangeable and one conformance
//! suite ([`conformance`], feature `test-support`) holds both to the same behaviour.

pub mod aws;
#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
pub mod counting;
mod cursor;
pub mod embedded;
#[cfg(any(test, feature = "test-support"))]
pub mod faults;
pub mod instrumented;
mod item;
mod queue;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;

pub use cursor::Cursor;
pub use item::{Attrs, Item, item_size};
pub use queue::{LocalQueue, Queue};

/// Attribute names with a meaning to the table itself.
pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const GSI1_PK: &str = "gsi1pk";
    pub const GSI1_SK: &str = "gsi1sk";
    /// Epoch seconds after which the item counts as deleted (DynamoDB TTL).
    pub const EXPIRES_AT: &str = "expires_at";
}

/// DynamoDB's item size limit; the embedded store enforces the same.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's limit on the items of one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// The largest page a query returns, whatever limit is asked for.
pub const MAX_PAGE_SIZE: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the write's condition did not hold")]
    ConditionFailed,
    #[error("the transaction was cancelled: {0}")]
    TransactionCanceled(String),
    #[error("item is {size} bytes, over the {limit}-byte limit")]
    ItemTooLarge { size: usize, limit: usize },
    #[error("the pagination cursor is not valid for this query")]
    InvalidCursor,
    #[error("invalid request to the store: {0}")]
    Invalid(String),
    #[error("the object is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the store is throttling requests")]
    Throttled,
    /// The call got no answer in time; it may or may not have been applied.
    #[error("the store did not answer in time")]
    Timeout,
    /// The store could not be reached or failed on its side (5xx, connection); worth retrying.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl StoreError {
    /// A failure that says nothing about the request and may pass on its own: the client is
    /// told to retry (503 with `Retry-After`), and idempotent steps may retry it themselves.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Throttled | StoreError::Timeout | StoreError::Unavailable(_)
        )
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Attempts of [`retry_transient`], the first included.
pub const STEP_ATTEMPTS: u32 = 3;

/// Runs an idempotent store step again when it fails transiently (a few times, 20 then 80 ms
/// apart): for the steps whose failure would leave something behind that no request will
/// come back for (cleanup after the answer was given, the answer's own save). The AWS SDK has
/// already retried each call; this covers what lasts a little longer.
pub async fn retry_transient<T, F, Fut>(mut step: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut wait = Duration::from_millis(20);
    for _ in 1..STEP_ATTEMPTS {
        match step().await {
            Err(e) if e.is_transient() => {
                tracing::debug!(error = %e, "a store step failed transiently; trying again");
                tokio::time::sleep(wait).await;
                wait *= 4;
            }
            other => return other,
        }
    }
    step().await
}

/// A condition a single-item write must satisfy, evaluated atomically with the write.
/// Expired items (TTL passed) count as absent, as they would once DynamoDB reaps them.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Condition {
    #[default]
    None,
    /// The item must not exist (or must have expired).
    NotExists,
    /// The item must exist (and not have expired).
    Exists,
    /// The item must exist and its attribute must equal the value.
    AttrEquals(String, Value),
    /// The numeric attribute must be absent (or the item absent or expired) or at most the
    /// value: with an atomic `add`, a reservation that cannot overshoot a limit.
    AttrAtMost(String, i64),
}

/// An update of some attributes of one item; creates the item when absent (upsert), like
/// DynamoDB's UpdateItem, unless the condition says otherwise.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub set: Attrs,
    /// Atomic numeric increments (missing attributes count as 0).
    pub add: Vec<(String, i64)>,
    pub remove: Vec<String>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.insert(name.into(), value.into());
        self
    }
    pub fn add(mut self, name: impl Into<String>, delta: i64) -> Self {
        self.add.push((name.into(), delta));
        self
    }
    pub fn remove(mut self, name: impl Into<String>) -> Self {
        self.remove.push(name.into());
        self
    }
    fn validate(&self) -> StoreResult<()> {
        let touched = self
            .set
            .keys()
            .chain(self.add.iter().map(|(n, _)| n))
            .chain(self.remove.iter());
        for name in touched {
            if name == attr::PK || name == attr::SK {
                return Err(StoreError::Invalid(format!(
                    "an update cannot change `{name}`"
                )));
            }
        }
        if self.set.is_empty() && self.add.is_empty() && self.remove.is_empty() {
            return Err(StoreError::Invalid(
                "an update must change something".into(),
            ));
        }
        Ok(())
    }
}

/// Which sort keys of the partition a query reads.
#[derive(Clone, Debug, PartialEq)]
pub enum SortKey {
    All,
    Prefix(String),
    /// Inclusive on both ends.
    Between(String, String),
    AtLeast(String),
    AtMost(String),
}

impl SortKey {
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortKey::All => true,
            SortKey::Prefix(p) => sk.starts_with(p.as_str()),
            SortKey::Between(lo, hi) => sk >= lo.as_str() && sk <= hi.as_str(),
            SortKey::AtLeast(lo) => sk >= lo.as_str(),
            SortKey::AtMost(hi) => sk <= hi.as_str(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Ascending,
    Descending,
}

/// A query of one partition, of the table or of the secondary index `gsi1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub pk: String,
    pub sort: SortKey,
    pub order: Order,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sort: SortKey::All,
            order: Order::Ascending,
            limit: 100,
            cursor: None,
        }
    }
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sort = SortKey::Prefix(prefix.into());
        self
    }
    pub fn sort(mut self, sort: SortKey) -> Self {
        self.sort = sort;
        self
    }
    pub fn descending(mut self) -> Self {
        self.order = Order::Descending;
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
    fn validate(&self) -> StoreResult<()> {
        if self.pk.is_empty() {
            return Err(StoreError::Invalid("a query needs a partition key".into()));
        }
        check_limit(self.limit)
    }
    /// Checks the query and decodes its cursor, which must belong to it (a cursor of the
    /// table, or of the index when `for_index`): what every adapter does before reading.
    fn checked_cursor(&self, for_index: bool) -> StoreResult<Option<Cursor>> {
        self.validate()?;
        let decode = |raw| Cursor::decode_for(raw, self, for_index);
        self.cursor.as_deref().map(decode).transpose()
    }
}

/// A query's or a scan's page size: 1 to [`MAX_PAGE_SIZE`].
fn check_limit(limit: usize) -> StoreResult<()> {
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(StoreError::Invalid(format!(
            "limit must be 1..={MAX_PAGE_SIZE}"
        )));
    }
    Ok(())
}

/// A read of the whole table, for maintenance (backfills, consistency checks), never on a
/// request path: every item whose sort key matches `sort`, in no particular order, a page at a
/// time (a page may hold fewer than `limit` items, even none, while `next_cursor` is set).
#[derive(Clone, Debug, PartialEq)]
pub struct Scan {
    pub sort: SortKey,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl Scan {
    /// Items whose sort key is exactly `sk`.
    pub fn sort_key(sk: impl Into<String>) -> Self {
        let sk = sk.into();
        Self {
            sort: SortKey::Between(sk.clone(), sk),
            limit: 100,
            cursor: None,
        }
    }
    /// Up to `limit` items after `cursor` (the last page's `next_cursor`; `None` to start).
    pub fn page(mut self, limit: usize, cursor: Option<String>) -> Self {
        (self.limit, self.cursor) = (limit, cursor);
        self
    }
    /// Checks the scan and decodes its cursor, as [`Query`]'s does.
    fn checked_cursor(&self) -> StoreResult<Option<Cursor>> {
        check_limit(self.limit)?;
        self.cursor.as_deref().map(Cursor::decode_scan).transpose()
    }
}

/// One page of a query; `next_cursor` is present when more items may follow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub next_cursor: Option<String>,
}

impl Page {
    /// The page's items decoded as `T`, in order; an error names the first malformed one.
    pub fn decode_items<T: serde::de::DeserializeOwned>(&self) -> StoreResult<Vec<T>> {
        self.items.iter().map(Item::decode).collect()
    }
}

/// One write of a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum TxOp {
    Put {
        item: Item,
        condition: Condition,
    },
    Update {
        pk: String,
        sk: String,
        update: Update,
        condition: Condition,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Condition,
    },
    /// Writes nothing; cancels the transaction unless the condition holds.
    Check {
        pk: String,
        sk: String,
        condition: Condition,
    },
}

impl TxOp {
    fn key(&self) -> (&str, &str) {
        match self {
            TxOp::Put { item, .. } => (&item.pk, &item.sk),
            TxOp::Update { pk, sk, .. }
            | TxOp::Delete { pk, sk, .. }
            | TxOp::Check { pk, sk, .. } => (pk, sk),
        }
    }
}

/// Checks shared by both adapters before a transaction reaches the store, so both refuse the
/// same requests with the same errors.
fn validate_transaction(ops: &[TxOp]) -> StoreResult<()> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds 1..={MAX_TRANSACTION_ITEMS} writes"
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for op in ops {
        if !keys.insert(op.key()) {
            return Err(StoreError::Invalid(
                "a transaction may touch each item only once".into(),
            ));
        }
        match op {
            TxOp::Put { item, .. } => item.validate()?,
            TxOp::Update { pk, sk, update, .. } => {
                item::validate_key(pk, sk)?;
                update.validate()?;
            }
            TxOp::Delete { pk, sk, .. } | TxOp::Check { pk, sk, .. } => item::validate_key(pk, sk)?,
        }
    }
    Ok(())
}

/// The arguments of [`Table::update`] as one value. Every adapter and wrapper implements
/// [`Table::update_item`], which takes this, rather than restating four parameters each; a
/// wrapper hands the request on unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateRequest<'a> {
    pub pk: &'a str,
    pub sk: &'a str,
    pub update: Update,
    pub condition: Condition,
}

/// The item table: one DynamoDB table (single-table design) or its embedded twin.
#[async_trait]
pub trait Table: Send + Sync + 'static {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>>;
    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()>;
    /// Applies the update and returns the item as it is afterwards.
    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        condition: Condition,
    ) -> StoreResult<Item> {
        self.update_item(UpdateRequest {
            pk,
            sk,
            update,
            condition,
        })
        .await
    }
    /// [`Table::update`] with its arguments as one [`UpdateRequest`]: what adapters implement
    /// and wrappers pass on whole. Callers use `update`.
    async fn update_item(&self, request: UpdateRequest<'_>) -> StoreResult<Item>;
    /// Deleting an absent item is not an error (unless the condition requires it to exist).
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()>;
    async fn query(&self, query: Query) -> StoreResult<Page>;
    /// Queries the secondary index `gsi1` (`gsi1pk` / `gsi1sk`); items without those attributes
    /// are not in it.
    async fn query_index(&self, query: Query) -> StoreResult<Page>;
    /// All writes happen or none does.
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()>;
    /// Reads the whole table ([`Scan`]): maintenance only. Tables that cannot (test doubles)
    /// refuse.
    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        let _ = scan;
        Err(StoreError::Invalid("this table cannot be scanned".into()))
    }
}

/// What the blob store knows of one object.
#[derive(Clone, Debug, PartialEq)]
pub struct BlobMeta {
    pub key: String,
    pub size: u64,
    pub content_type: String,
    /// Changes whenever the bytes change; caches key on it.
    pub etag: String,
}

#[derive(Clone, Debug)]
pub struct Blob {
    pub meta: BlobMeta,
    pub body: Bytes,
}

/// An object's bytes as they arrive, a chunk at a time: memory stays one chunk whatever the
/// object's size. A failure (the store, or [`StoreError::TooLarge`]) is the last item.
pub type ByteChunks = futures::stream::BoxStream<'static, StoreResult<Bytes>>;

/// An object being read: its metadata (`size` is the object's, not what will be read) and its
/// bytes as a stream.
pub struct BlobStream {
    pub meta: BlobMeta,
    pub body: ByteChunks,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// Ends `chunks` with [`StoreError::TooLarge`] as soon as more than `max_bytes` have come, and
/// after the first failure: what every adapter's `get_stream` promises.
pub(crate) fn at_most(chunks: ByteChunks, max_bytes: u64) -> ByteChunks {
    use futures::StreamExt;
    let state = (chunks, 0u64, false);
    futures::stream::unfold(state, move |(mut chunks, seen, done)| async move {
        if done {
            return None;
        }
        match chunks.next().await? {
            Ok(chunk) => {
                let seen = seen + chunk.len() as u64;
                if seen > max_bytes {
                    Some((
                        Err(StoreError::TooLarge { limit: max_bytes }),
                        (chunks, seen, true),
                    ))
                } else {
                    Some((Ok(chunk), (chunks, seen, false)))
                }
            }
            Err(e) => Some((Err(e), (chunks, seen, true))),
        }
    })
    .boxed()
}

/// A URL that lets its holder do one thing to one object until it expires.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct PresignedUrl {
    pub url: String,
    pub method: String,
    /// Headers the request must carry (e.g. the signed Content-Type), as `[name, value]` pairs.
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// The arguments of [`Blobs::copy`] as one value, for the reason [`UpdateRequest`] gives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CopyRequest<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub content_type: &'a str,
    pub if_match: Option<&'a str>,
}

impl<'a> CopyRequest<'a> {
    pub fn new(
        from: &'a str,
        to: &'a str,
        content_type: &'a str,
        if_match: Option<&'a str>,
    ) -> Self {
        Self {
            from,
            to,
            content_type,
            if_match,
        }
    }

    /// Both keys must be valid blob keys ([`validate_blob_key`]).
    fn validate(&self) -> StoreResult<()> {
        validate_blob_key(self.from)?;
        validate_blob_key(self.to)
    }
}

/// What a presigned URL lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresignMethod {
    Get,
    Put,
}

impl PresignMethod {
    /// The HTTP method.
    pub fn as_str(self) -> &'static str {
        match self {
            PresignMethod::Get => "GET",
            PresignMethod::Put => "PUT",
        }
    }
}

/// The arguments of [`Blobs::presign_put`] and [`Blobs::presign_get`] as one value, for the
/// reason [`UpdateRequest`] gives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PresignRequest<'a> {
    pub method: PresignMethod,
    pub key: &'a str,
    /// The type a PUT must declare (empty for a GET).
    pub content_type: &'a str,
    /// The exact size a PUT must have (0 for a GET).
    pub content_length: u64,
    pub expires_in: Duration,
}

impl PresignRequest<'_> {
    /// When a URL signed now expires, in epoch seconds.
    fn expires_at(&self) -> i64 {
        crate::clock::unix_now() + self.expires_in.as_secs() as i64
    }
}

/// The blob store: the S3 documents bucket or a folder of plain files.
#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> StoreResult<BlobMeta>;
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>>;
    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>>;
    /// Reads an object of at most `max_bytes`: the store stops sending after one byte more
    /// (S3: a ranged GET), so an object that grew past what its caller checked with `head`
    /// costs no more memory than the limit. Larger objects are [`StoreError::TooLarge`].
    async fn get_at_most(&self, key: &str, max_bytes: u64) -> StoreResult<Option<Blob>>;
    /// Reads an object a chunk at a time, of at most `max_bytes` like [`Blobs::get_at_most`]:
    /// the stream ends with [`StoreError::TooLarge`] once more has come (S3: a ranged GET, so
    /// no more than one byte past the limit is ever sent), and an adapter that knows the size
    /// up front refuses before the first byte. `Ok(None)` when the object does not exist.
    async fn get_stream(&self, key: &str, max_bytes: u64) -> StoreResult<Option<BlobStream>>;
    /// Copies `from` to `to` inside the store, no byte passing through the caller (S3:
    /// CopyObject), the copy carrying `content_type`. With `if_match`, only while `from` still
    /// has that ETag (else [`StoreError::ConditionFailed`]), so the copy holds the bytes the
    /// caller read. `Ok(false)` when `from` does not exist.
    async fn copy(
        &self,
        from: &str,
        to: &str,
        content_type: &str,
        if_match: Option<&str>,
    ) -> StoreResult<bool> {
        let request = CopyRequest::new(from, to, content_type, if_match);
        self.copy_object(request).await
    }
    /// [`Blobs::copy`] with its arguments as one [`CopyRequest`]: what adapters implement and
    /// wrappers pass on whole. Callers use `copy`.
    async fn copy_object(&self, request: CopyRequest<'_>) -> StoreResult<bool>;
    /// Deleting an absent object is not an error.
    async fn delete(&self, key: &str) -> StoreResult<()>;
    /// Every object whose key starts with the prefix, in key order.
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>>;
    /// A URL to PUT exactly `content_length` bytes of `content_type` to `key`. The length is
    /// part of the signature (S3: a signed `Content-Length` header), so the store itself refuses
    /// a body of any other size before taking it.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> StoreResult<PresignedUrl> {
        self.presign(PresignRequest {
            method: PresignMethod::Put,
            key,
            content_type,
            content_length,
            expires_in,
        })
        .await
    }
    async fn presign_get(&self, key: &str, expires_in: Duration) -> StoreResult<PresignedUrl> {
        self.presign(PresignRequest {
            method: PresignMethod::Get,
            key,
            content_type: "",
            content_length: 0,
            expires_in,
        })
        .await
    }
    /// [`Blobs::presign_put`] and [`Blobs::presign_get`] with their arguments as one
    /// [`PresignRequest`]: what adapters implement and wrappers pass on whole. Callers use
    /// `presign_put` and `presign_get`.
    async fn presign(&self, request: PresignRequest<'_>) -> StoreResult<PresignedUrl>;
}

/// Named secret strings: Secrets Manager, or files in the data directory.
#[async_trait]
pub trait Secrets: Send + Sync + 'static {
    /// `Ok(None)` when no such secret exists.
    async fn get_string(&self, name: &str) -> StoreResult<Option<String>>;
}

/// Blob keys are paths of plain segments: the same rules keep S3 keys tidy and stop the
/// embedded store from ever leaving its folder.
pub fn validate_blob_key(key: &str) -> StoreResult<()> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && !key.starts_with('/')
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.=~".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!("invalid blob key `{key}`")))
    }
}
