//! The embedded twin of the AWS adapters: items in a redb database, blobs as plain files,
//! secrets as files, presigned URLs signed with HMAC and served by the local server.
//! RaGenie runs on a laptop with this and no AWS account.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, Mac};
use rand::RngCore;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::cursor::Cursor;
use super::{
    Blob, BlobMeta, Blobs, Condition, Item, Order, Page, PresignedUrl, Query, Secrets, SortKey,
    StoreError, StoreResult, Table, TxOp, Update, validate_blob_key, validate_transaction,
};
use crate::clock;
use crate::error::ApiError;

const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<&[u8], &[u8]> = TableDefinition::new("gsi1");
const SEP: u8 = 0;

/// The largest object a presigned PUT accepts locally (the product promises at least 50 MB).
pub const MAX_PRESIGNED_PUT_BYTES: usize = 64 * 1024 * 1024;

fn unexpected(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Unexpected(e.into())
}

/// Items in one redb file. redb serialises write transactions, which gives conditional writes
/// and transactions the same all-or-nothing behaviour DynamoDB promises.
#[derive(Clone)]
pub struct EmbeddedTable {
    db: Arc<Database>,
}

impl EmbeddedTable {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db = Database::create(path).with_context(|| format!("opening {}", path.display()))?;
        let txn = db.begin_write()?;
        txn.open_table(ITEMS)?;
        txn.open_table(GSI1)?;
        txn.commit()?;
        Ok(Self { db: Arc::new(db) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(unexpected)?
    }
}

fn item_key(pk: &str, sk: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(pk.len() + sk.len() + 1);
    k.extend_from_slice(pk.as_bytes());
    k.push(SEP);
    k.extend_from_slice(sk.as_bytes());
    k
}

fn index_key(ipk: &str, isk: &str, pk: &str, sk: &str) -> Vec<u8> {
    let mut k = item_key(ipk, isk);
    k.push(SEP);
    k.extend_from_slice(&item_key(pk, sk));
    k
}

fn split_index_key(key: &[u8]) -> StoreResult<(String, String, String, String)> {
    let parts: Vec<&[u8]> = key.split(|b| *b == SEP).collect();
    let [a, b, c, d] = parts.as_slice() else {
        return Err(unexpected(anyhow::anyhow!("malformed index entry")));
    };
    let s = |p: &[u8]| String::from_utf8(p.to_vec()).map_err(unexpected);
    Ok((s(a)?, s(b)?, s(c)?, s(d)?))
}

/// The smallest byte string greater than every string with this prefix, if any.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

/// Byte-key bounds of one partition's sort-key range (before any cursor).
fn partition_bounds(pk: &str, sort: &SortKey) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let start = |sk: &str| item_key(pk, sk);
    let mut partition_end = pk.as_bytes().to_vec();
    partition_end.push(SEP + 1);
    match sort {
        SortKey::All => (Bound::Included(start("")), Bound::Excluded(partition_end)),
        SortKey::Prefix(p) => {
            let end = prefix_successor(p.as_bytes()).map(|succ| {
                let mut k = pk.as_bytes().to_vec();
                k.push(SEP);
                k.extend_from_slice(&succ);
                k
            });
            (
                Bound::Included(start(p)),
                Bound::Excluded(end.unwrap_or(partition_end)),
            )
        }
        SortKey::Between(lo, hi) => (Bound::Included(start(lo)), Bound::Included(start(hi))),
        SortKey::AtLeast(lo) => (Bound::Included(start(lo)), Bound::Excluded(partition_end)),
        SortKey::AtMost(hi) => (Bound::Included(start("")), Bound::Included(start(hi))),
    }
}

fn read_item<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    key: &[u8],
) -> StoreResult<Option<Item>> {
    match table.get(key).map_err(unexpected)? {
        Some(v) => {
            let json: Value = serde_json::from_slice(v.value()).map_err(unexpected)?;
            Ok(Some(Item::from_json(json)?))
        }
        None => Ok(None),
    }
}

pub(crate) fn condition_holds(condition: &Condition, existing: Option<&Item>, now: i64) -> bool {
    let live = existing.filter(|i| !i.is_expired_at(now));
    match condition {
        Condition::None => true,
        Condition::NotExists => live.is_none(),
        Condition::Exists => live.is_some(),
        Condition::AttrEquals(name, value) => live.and_then(|i| i.get(name)) == Some(value),
    }
}

/// The item after an update, starting from the live item (an expired one counts as absent).
pub(crate) fn apply_update(
    existing: Option<Item>,
    pk: &str,
    sk: &str,
    update: &Update,
    now: i64,
) -> StoreResult<Item> {
    let mut item = existing
        .filter(|i| !i.is_expired_at(now))
        .unwrap_or_else(|| Item::new(pk, sk));
    for (name, value) in &update.set {
        item.attrs.insert(name.clone(), value.clone());
    }
    for (name, delta) in &update.add {
        let current = match item.attrs.get(name) {
            None => 0,
            Some(v) => v.as_i64().ok_or_else(|| {
                StoreError::Invalid(format!("`{name}` is not an integer; cannot add to it"))
            })?,
        };
        let sum = current
            .checked_add(*delta)
            .ok_or_else(|| StoreError::Invalid(format!("`{name}` would overflow")))?;
        item.attrs.insert(name.clone(), sum.into());
    }
    for name in &update.remove {
        item.attrs.remove(name);
    }
    item.validate()?;
    Ok(item)
}

/// One entry of a redb range scan.
type RangeEntry<'a> = Result<
    (
        redb::AccessGuard<'a, &'static [u8]>,
        redb::AccessGuard<'a, &'static [u8]>,
    ),
    redb::StorageError,
>;

type ItemsTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// Writes (or deletes, when `new` is None) one item and keeps the index in step.
fn write_item(
    items: &mut ItemsTable,
    gsi: &mut ItemsTable,
    old: Option<&Item>,
    new: Option<&Item>,
    pk: &str,
    sk: &str,
) -> StoreResult<()> {
    if let Some((ipk, isk)) = old.and_then(Item::index_keys) {
        gsi.remove(index_key(ipk, isk, pk, sk).as_slice())
            .map_err(unexpected)?;
    }
    let key = item_key(pk, sk);
    match new {
        Some(item) => {
            let bytes = serde_json::to_vec(&item.to_json()).map_err(unexpected)?;
            items
                .insert(key.as_slice(), bytes.as_slice())
                .map_err(unexpected)?;
            if let Some((ipk, isk)) = item.index_keys() {
                gsi.insert(index_key(ipk, isk, pk, sk).as_slice(), [].as_slice())
                    .map_err(unexpected)?;
            }
        }
        None => {
            items.remove(key.as_slice()).map_err(unexpected)?;
        }
    }
    Ok(())
}

/// Applies one write inside an open transaction; `Err(ConditionFailed)` leaves the caller to
/// abort, so nothing of the transaction is committed.
fn apply_op(items: &mut ItemsTable, gsi: &mut ItemsTable, op: &TxOp, now: i64) -> StoreResult<()> {
    let (pk, sk) = op.key();
    let existing = read_item(items, &item_key(pk, sk))?;
    let condition = match op {
        TxOp::Put { condition, .. }
        | TxOp::Update { condition, .. }
        | TxOp::Delete { condition, .. }
        | TxOp::Check { condition, .. } => condition,
    };
    if !condition_holds(condition, existing.as_ref(), now) {
        return Err(StoreError::ConditionFailed);
    }
    match op {
        TxOp::Put { item, .. } => write_item(items, gsi, existing.as_ref(), Some(item), pk, sk),
        TxOp::Update { update, .. } => {
            let new = apply_update(existing.clone(), pk, sk, update, now)?;
            write_item(items, gsi, existing.as_ref(), Some(&new), pk, sk)
        }
        TxOp::Delete { .. } => write_item(items, gsi, existing.as_ref(), None, pk, sk),
        TxOp::Check { .. } => Ok(()),
    }
}

/// Runs a scan over `[lo, hi]` in the query's order, skipping expired items, and returns up to
/// `limit` live entries plus whether more follow.
fn scan<T, F>(
    table: &T,
    bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    order: Order,
    limit: usize,
    mut accept: F,
) -> StoreResult<(Vec<Item>, bool)>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
    F: FnMut(&[u8], &[u8]) -> StoreResult<Option<Item>>,
{
    fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
        match b {
            Bound::Included(v) => Bound::Included(v.as_slice()),
            Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        }
    }
    // An empty or inverted range (e.g. a cursor at the very end) reads nothing.
    if let (Bound::Included(lo) | Bound::Excluded(lo), Bound::Included(hi) | Bound::Excluded(hi)) =
        (&bounds.0, &bounds.1)
        && (lo > hi || (lo == hi && !matches!(bounds, (Bound::Included(_), Bound::Included(_)))))
    {
        return Ok((Vec::new(), false));
    }
    let range = table
        .range::<&[u8]>((as_ref(&bounds.0), as_ref(&bounds.1)))
        .map_err(unexpected)?;
    let mut out = Vec::new();
    let mut step = |entry: RangeEntry| -> StoreResult<bool> {
        let (k, v) = entry.map_err(unexpected)?;
        if let Some(item) = accept(k.value(), v.value())? {
            if out.len() == limit {
                return Ok(true);
            }
            out.push(item);
        }
        Ok(false)
    };
    let more = match order {
        Order::Ascending => {
            let mut more = false;
            for e in range {
                if step(e)? {
                    more = true;
                    break;
                }
            }
            more
        }
        Order::Descending => {
            let mut more = false;
            for e in range.rev() {
                if step(e)? {
                    more = true;
                    break;
                }
            }
            more
        }
    };
    Ok((out, more))
}

/// Narrows bounds to what follows the cursor position in the query's order.
fn after_cursor(
    bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    position: Vec<u8>,
    order: Order,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    match order {
        Order::Ascending => (Bound::Excluded(position), bounds.1),
        Order::Descending => (bounds.0, Bound::Excluded(position)),
    }
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        super::item::validate_key(pk, sk)?;
        let key = item_key(pk, sk);
        let now = clock::unix_now();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unexpected)?;
            let items = txn.open_table(ITEMS).map_err(unexpected)?;
            Ok(read_item(&items, &key)?.filter(|i| !i.is_expired_at(now)))
        })
        .await
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        self.transact(vec![TxOp::Put { item, condition }]).await
    }

    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        condition: Condition,
    ) -> StoreResult<Item> {
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        validate_transaction(&[TxOp::Update {
            pk: pk.clone(),
            sk: sk.clone(),
            update: update.clone(),
            condition: condition.clone(),
        }])?;
        // Read on this thread: the blocking pool does not see a test's frozen clock.
        let now = clock::unix_now();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unexpected)?;
            let result = {
                let mut items = txn.open_table(ITEMS).map_err(unexpected)?;
                let mut gsi = txn.open_table(GSI1).map_err(unexpected)?;
                let existing = read_item(&items, &item_key(&pk, &sk))?;
                if !condition_holds(&condition, existing.as_ref(), now) {
                    return Err(StoreError::ConditionFailed);
                }
                let new = apply_update(existing.clone(), &pk, &sk, &update, now)?;
                write_item(
                    &mut items,
                    &mut gsi,
                    existing.as_ref(),
                    Some(&new),
                    &pk,
                    &sk,
                )?;
                new
            };
            txn.commit().map_err(unexpected)?;
            Ok(result)
        })
        .await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        self.transact(vec![TxOp::Delete {
            pk: pk.into(),
            sk: sk.into(),
            condition,
        }])
        .await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        query.validate()?;
        let cursor = query
            .cursor
            .as_deref()
            .map(|c| Cursor::decode_for(c, &query, false))
            .transpose()?;
        // Read on this thread: the blocking pool does not see a test's frozen clock.
        let now = clock::unix_now();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unexpected)?;
            let items = txn.open_table(ITEMS).map_err(unexpected)?;
            let mut bounds = partition_bounds(&query.pk, &query.sort);
            if let Some(c) = cursor {
                bounds = after_cursor(bounds, item_key(&c.pk, &c.sk), query.order);
            }
            let (page, more) = scan(&items, bounds, query.order, query.limit, |_, v| {
                let item = Item::from_json(serde_json::from_slice(v).map_err(unexpected)?)?;
                Ok((!item.is_expired_at(now) && query.sort.matches(&item.sk)).then_some(item))
            })?;
            let next_cursor = more.then(|| page.last()).flatten().map(|last| {
                Cursor {
                    pk: last.pk.clone(),
                    sk: last.sk.clone(),
                    index: None,
                }
                .encode()
            });
            Ok(Page {
                items: page,
                next_cursor,
            })
        })
        .await
    }

    async fn query_index(&self, query: Query) -> StoreResult<Page> {
        query.validate()?;
        let cursor = query
            .cursor
            .as_deref()
            .map(|c| Cursor::decode_for(c, &query, true))
            .transpose()?;
        // Read on this thread: the blocking pool does not see a test's frozen clock.
        let now = clock::unix_now();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unexpected)?;
            let items = txn.open_table(ITEMS).map_err(unexpected)?;
            let gsi = txn.open_table(GSI1).map_err(unexpected)?;
            let mut bounds = partition_bounds(&query.pk, &query.sort);
            if let Some(c) = cursor {
                let (ipk, isk) = c.index.clone().unwrap_or_default();
                // Index entries end with the table key, so the cursor's entry is unique.
                let position = index_key(&ipk, &isk, &c.pk, &c.sk);
                bounds = after_cursor(bounds, position, query.order);
            }
            // The partition bounds were built for `pk\0sk`; index keys continue with `\0pk\0sk`,
            // so an inclusive upper bound on the sort key must admit those suffixes.
            if let Bound::Included(hi) = &bounds.1 {
                let mut end = hi.clone();
                end.push(SEP + 1);
                bounds.1 = Bound::Excluded(end);
            }
            let (page, more) = scan(&gsi, bounds, query.order, query.limit, |k, _| {
                let (ipk, isk, pk, sk) = split_index_key(k)?;
                if ipk != query.pk || !query.sort.matches(&isk) {
                    return Ok(None);
                }
                Ok(read_item(&items, &item_key(&pk, &sk))?.filter(|i| !i.is_expired_at(now)))
            })?;
            let next_cursor = more.then(|| page.last()).flatten().and_then(|last| {
                let (ipk, isk) = last.index_keys()?;
                Some(
                    Cursor {
                        pk: last.pk.clone(),
                        sk: last.sk.clone(),
                        index: Some((ipk.into(), isk.into())),
                    }
                    .encode(),
                )
            });
            Ok(Page {
                items: page,
                next_cursor,
            })
        })
        .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        validate_transaction(&ops)?;
        // Read on this thread: the blocking pool does not see a test's frozen clock.
        let now = clock::unix_now();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unexpected)?;
            {
                let mut items = txn.open_table(ITEMS).map_err(unexpected)?;
                let mut gsi = txn.open_table(GSI1).map_err(unexpected)?;
                for op in &ops {
                    // Returning early drops `txn` uncommitted: redb aborts it, nothing is written.
                    apply_op(&mut items, &mut gsi, op, now)?;
                }
            }
            txn.commit().map_err(unexpected)?;
            Ok(())
        })
        .await
    }
}

/// HMAC-SHA256 signatures for local presigned URLs.
#[derive(Clone)]
pub struct UrlSigner {
    key: Arc<Vec<u8>>,
}

impl UrlSigner {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key: Arc::new(key) }
    }

    fn mac(&self, method: &str, key: &str, expires: i64, content_type: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(format!("{method}\n{key}\n{expires}\n{content_type}").as_bytes());
        mac
    }

    pub fn sign(&self, method: &str, key: &str, expires: i64, content_type: &str) -> String {
        hex::encode(
            self.mac(method, key, expires, content_type)
                .finalize()
                .into_bytes(),
        )
    }

    /// Constant-time check of a signature.
    pub fn verify(
        &self,
        method: &str,
        key: &str,
        expires: i64,
        content_type: &str,
        signature: &str,
    ) -> bool {
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        self.mac(method, key, expires, content_type)
            .verify_slice(&sig)
            .is_ok()
    }
}

/// Objects as files under `root/objects/<key>`, each written whole to a temporary file and
/// renamed into place, so a reader sees the old object or the new one, never half of one.
#[derive(Clone)]
pub struct EmbeddedBlobs {
    root: PathBuf,
    signer: UrlSigner,
    /// Where the local server answers `/_blobs/…`, e.g. `http://127.0.0.1:8080`.
    public_url: String,
}

#[derive(Serialize, Deserialize)]
struct StoredMeta {
    content_type: String,
    etag: String,
}

impl EmbeddedBlobs {
    pub fn open(root: &Path, signer: UrlSigner, public_url: &str) -> anyhow::Result<Self> {
        for dir in ["objects", "tmp"] {
            std::fs::create_dir_all(root.join(dir))
                .with_context(|| format!("creating {}", root.join(dir).display()))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            signer,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.root.join("objects").join(key)
    }

    fn presign(
        &self,
        method: &str,
        key: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> StoreResult<PresignedUrl> {
        validate_blob_key(key)?;
        let expires_at = clock::unix_now() + expires_in.as_secs() as i64;
        let sig = self.signer.sign(method, key, expires_at, content_type);
        let mut url =
            url::Url::parse(&format!("{}/_blobs/{key}", self.public_url)).map_err(unexpected)?;
        url.query_pairs_mut()
            .append_pair("method", method)
            .append_pair("expires", &expires_at.to_string())
            .append_pair("content_type", content_type)
            .append_pair("signature", &sig);
        let headers = if method == "PUT" {
            vec![("content-type".into(), content_type.into())]
        } else {
            vec![]
        };
        Ok(PresignedUrl {
            url: url.into(),
            method: method.into(),
            headers,
            expires_at,
        })
    }
}

/// File layout: 4-byte big-endian header length, the JSON header, then the body.
fn encode_object(meta: &StoredMeta, body: &[u8]) -> Vec<u8> {
    let header = serde_json::to_vec(meta).expect("metadata serialises");
    let mut out = Vec::with_capacity(4 + header.len() + body.len());
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out
}

fn read_object(path: &Path, key: &str, with_body: bool) -> StoreResult<Option<(BlobMeta, Bytes)>> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unexpected(e)),
    };
    let total = file.metadata().map_err(unexpected)?.len();
    let mut len = [0u8; 4];
    file.read_exact(&mut len).map_err(unexpected)?;
    let header_len = u32::from_be_bytes(len) as usize;
    let mut header = vec![0; header_len];
    file.read_exact(&mut header).map_err(unexpected)?;
    let meta: StoredMeta = serde_json::from_slice(&header).map_err(unexpected)?;
    let size = total - 4 - header_len as u64;
    let body = if with_body {
        let mut body = Vec::with_capacity(size as usize);
        file.read_to_end(&mut body).map_err(unexpected)?;
        Bytes::from(body)
    } else {
        Bytes::new()
    };
    Ok(Some((
        BlobMeta {
            key: key.into(),
            size,
            content_type: meta.content_type,
            etag: meta.etag,
        },
        body,
    )))
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, base, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push(
                rel.to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/"),
            );
        }
    }
    Ok(())
}

#[async_trait]
impl Blobs for EmbeddedBlobs {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> StoreResult<BlobMeta> {
        validate_blob_key(key)?;
        let etag = hex::encode(&Sha256::digest(&body)[..16]);
        let meta = StoredMeta {
            content_type: content_type.into(),
            etag: etag.clone(),
        };
        let path = self.object_path(key);
        let tmp = self.root.join("tmp").join(ulid::Ulid::new().to_string());
        let size = body.len() as u64;
        tokio::task::spawn_blocking(move || -> StoreResult<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|_| {
                    StoreError::Invalid("blob key clashes with an existing object".into())
                })?;
            }
            std::fs::write(&tmp, encode_object(&meta, &body)).map_err(unexpected)?;
            std::fs::rename(&tmp, &path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                if path.is_dir() {
                    StoreError::Invalid("blob key clashes with an existing prefix".into())
                } else {
                    unexpected(e)
                }
            })
        })
        .await
        .map_err(unexpected)??;
        Ok(BlobMeta {
            key: key.into(),
            size,
            content_type: content_type.into(),
            etag,
        })
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        validate_blob_key(key)?;
        let (path, key) = (self.object_path(key), key.to_owned());
        let found = tokio::task::spawn_blocking(move || read_object(&path, &key, true))
            .await
            .map_err(unexpected)??;
        Ok(found.map(|(meta, body)| Blob { meta, body }))
    }

    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        validate_blob_key(key)?;
        let (path, key) = (self.object_path(key), key.to_owned());
        let found = tokio::task::spawn_blocking(move || read_object(&path, &key, false))
            .await
            .map_err(unexpected)??;
        Ok(found.map(|(meta, _)| meta))
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        validate_blob_key(key)?;
        match tokio::fs::remove_file(self.object_path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unexpected(e)),
        }
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        let base = self.root.join("objects");
        let prefix = prefix.to_owned();
        // Walk only the folder the prefix names, not the whole store.
        let start = match prefix.rfind('/') {
            Some(i) => {
                validate_blob_key(&prefix[..i])?;
                base.join(&prefix[..i])
            }
            None => base.clone(),
        };
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&start, &base, &mut keys).map_err(unexpected)?;
            keys.retain(|k| k.starts_with(&prefix));
            keys.sort();
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some((meta, _)) = read_object(&base.join(&key), &key, false)? {
                    out.push(meta);
                }
            }
            Ok(out)
        })
        .await
        .map_err(unexpected)?
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> StoreResult<PresignedUrl> {
        self.presign("PUT", key, content_type, expires_in)
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> StoreResult<PresignedUrl> {
        self.presign("GET", key, "", expires_in)
    }
}

#[derive(Deserialize)]
struct SignedParams {
    method: String,
    expires: i64,
    #[serde(default)]
    content_type: String,
    signature: String,
}

fn check_signature(
    blobs: &EmbeddedBlobs,
    method: &str,
    key: &str,
    p: &SignedParams,
) -> Result<(), ApiError> {
    if p.method != method
        || !blobs
            .signer
            .verify(method, key, p.expires, &p.content_type, &p.signature)
    {
        return Err(ApiError::Forbidden(
            "the URL's signature does not match".into(),
        ));
    }
    if p.expires <= clock::unix_now() {
        return Err(ApiError::Forbidden("the URL has expired".into()));
    }
    validate_blob_key(key).map_err(|_| ApiError::Forbidden("invalid object key".into()))
}

async fn presigned_get(
    State(blobs): State<Arc<EmbeddedBlobs>>,
    UrlPath(key): UrlPath<String>,
    UrlQuery(p): UrlQuery<SignedParams>,
) -> Result<Response, ApiError> {
    check_signature(&blobs, "GET", &key, &p)?;
    match blobs.get(&key).await? {
        Some(blob) => Ok((
            [
                (header::CONTENT_TYPE, blob.meta.content_type),
                (header::ETAG, format!("\"{}\"", blob.meta.etag)),
            ],
            blob.body,
        )
            .into_response()),
        None => Err(ApiError::NotFound("no such object".into())),
    }
}

async fn presigned_put(
    State(blobs): State<Arc<EmbeddedBlobs>>,
    UrlPath(key): UrlPath<String>,
    UrlQuery(p): UrlQuery<SignedParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_signature(&blobs, "PUT", &key, &p)?;
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if sent_type != p.content_type {
        return Err(ApiError::Forbidden(
            "Content-Type differs from the signed one".into(),
        ));
    }
    let meta = blobs.put(&key, body, &p.content_type).await?;
    Ok((
        StatusCode::OK,
        [(header::ETAG, format!("\"{}\"", meta.etag))],
    )
        .into_response())
}

/// The routes that answer this store's presigned URLs; the local server mounts them.
pub fn presigned_routes(blobs: Arc<EmbeddedBlobs>) -> Router {
    Router::new()
        .route("/_blobs/{*key}", get(presigned_get).put(presigned_put))
        .layer(DefaultBodyLimit::max(MAX_PRESIGNED_PUT_BYTES))
        .with_state(blobs)
}

/// Secrets as files in `<data dir>/secrets/`, created on first use where a generator is given.
#[derive(Clone)]
pub struct EmbeddedSecrets {
    dir: PathBuf,
}

impl EmbeddedSecrets {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, name: &str) -> StoreResult<PathBuf> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.starts_with('.')
        {
            return Err(StoreError::Invalid(format!("invalid secret name `{name}`")));
        }
        Ok(self.dir.join(name))
    }

    /// Reads the secret, first writing a new random one (64 hex characters) if there is none.
    pub fn get_or_generate(&self, name: &str) -> StoreResult<String> {
        let path = self.path(name)?;
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Ok(existing.trim().to_owned());
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let value = hex::encode(bytes);
        let tmp = self.dir.join(format!(".{name}.{}", ulid::Ulid::new()));
        std::fs::write(&tmp, &value).map_err(unexpected)?;
        restrict_permissions(&tmp);
        // Two processes starting at once: the first rename wins and both read the winner.
        if std::fs::hard_link(&tmp, &path).is_err() && !path.exists() {
            let _ = std::fs::remove_file(&tmp);
            return Err(unexpected(anyhow::anyhow!(
                "could not create secret {name}"
            )));
        }
        let _ = std::fs::remove_file(&tmp);
        Ok(std::fs::read_to_string(&path)
            .map_err(unexpected)?
            .trim()
            .to_owned())
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}
#[cfg(not(unix))]
fn restrict_permissions(_: &Path) {}

#[async_trait]
impl Secrets for EmbeddedSecrets {
    async fn get_string(&self, name: &str) -> StoreResult<Option<String>> {
        match tokio::fs::read_to_string(self.path(name)?).await {
            Ok(s) => Ok(Some(s.trim_end_matches(['\n', '\r']).to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unexpected(e)),
        }
    }
}

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
        let sig = s.sign("PUT", "a/b", 10, "text/plain");
        assert!(s.verify("PUT", "a/b", 10, "text/plain", &sig));
        assert!(!s.verify("GET", "a/b", 10, "text/plain", &sig));
        assert!(!s.verify("PUT", "a/c", 10, "text/plain", &sig));
        assert!(!s.verify("PUT", "a/b", 11, "text/plain", &sig));
        assert!(!s.verify("PUT", "a/b", 10, "text/html", &sig));
        assert!(!s.verify("PUT", "a/b", 10, "text/plain", "zz"));
    }
}
