//! Items in one redb file, with DynamoDB's conditions, transactions, index and TTL.

use super::*;

pub(super) const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
pub(super) const GSI1: TableDefinition<&[u8], &[u8]> = TableDefinition::new("gsi1");
pub(super) const SEP: u8 = 0;

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

    /// Applies the writes in one redb write transaction, all or none, and returns the item the
    /// last one left if it was an update: `transact`, and `update` as a transaction of one.
    async fn write(&self, ops: Vec<TxOp>) -> StoreResult<Option<Item>> {
        validate_transaction(&ops)?;
        // Read on this thread: the blocking pool does not see a test's frozen clock.
        let now = clock::unix_now();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unexpected)?;
            let mut last = None;
            {
                let mut items = txn.open_table(ITEMS).map_err(unexpected)?;
                let mut gsi = txn.open_table(GSI1).map_err(unexpected)?;
                for op in &ops {
                    // Returning early drops `txn` uncommitted: redb aborts it, nothing is written.
                    last = apply_op(&mut items, &mut gsi, op, now)?;
                }
            }
            txn.commit().map_err(unexpected)?;
            Ok(last)
        })
        .await
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

pub(super) fn item_key(pk: &str, sk: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(pk.len() + sk.len() + 1);
    k.extend_from_slice(pk.as_bytes());
    k.push(SEP);
    k.extend_from_slice(sk.as_bytes());
    k
}

pub(super) fn index_key(ipk: &str, isk: &str, pk: &str, sk: &str) -> Vec<u8> {
    let mut k = item_key(ipk, isk);
    k.push(SEP);
    k.extend_from_slice(&item_key(pk, sk));
    k
}

pub(super) fn split_index_key(key: &[u8]) -> StoreResult<(String, String, String, String)> {
    let parts: Vec<&[u8]> = key.split(|b| *b == SEP).collect();
    let [a, b, c, d] = parts.as_slice() else {
        return Err(unexpected(anyhow::anyhow!("malformed index entry")));
    };
    let s = |p: &[u8]| String::from_utf8(p.to_vec()).map_err(unexpected);
    Ok((s(a)?, s(b)?, s(c)?, s(d)?))
}

/// The smallest byte string greater than every string with this prefix, if any.
pub(super) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
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
pub(super) fn partition_bounds(pk: &str, sort: &SortKey) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
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

pub(super) fn read_item<T: ReadableTable<&'static [u8], &'static [u8]>>(
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

pub(super) fn condition_holds(condition: &Condition, existing: Option<&Item>, now: i64) -> bool {
    let live = existing.filter(|i| !i.is_expired_at(now));
    match condition {
        Condition::None => true,
        Condition::NotExists => live.is_none(),
        Condition::Exists => live.is_some(),
        Condition::AttrEquals(name, value) => live.and_then(|i| i.get(name)) == Some(value),
        Condition::AttrAtMost(name, max) => match live.and_then(|i| i.get(name)) {
            None => true,
            Some(v) => v.as_i64().is_some_and(|v| v <= *max),
        },
    }
}

/// The item after an update, starting from the live item (an expired one counts as absent).
pub(super) fn apply_update(
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
pub(super) type RangeEntry<'a> = Result<
    (
        redb::AccessGuard<'a, &'static [u8]>,
        redb::AccessGuard<'a, &'static [u8]>,
    ),
    redb::StorageError,
>;

pub(super) type ItemsTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// Writes (or deletes, when `new` is None) one item and keeps the index in step.
pub(super) fn write_item(
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

/// Applies one write inside an open transaction and returns the item an update leaves (`None`
/// for the other writes); `Err(ConditionFailed)` leaves the caller to abort, so nothing of the
/// transaction is committed.
pub(super) fn apply_op(
    items: &mut ItemsTable,
    gsi: &mut ItemsTable,
    op: &TxOp,
    now: i64,
) -> StoreResult<Option<Item>> {
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
        TxOp::Put { item, .. } => write_item(items, gsi, existing.as_ref(), Some(item), pk, sk)?,
        TxOp::Update { update, .. } => {
            let new = apply_update(existing.clone(), pk, sk, update, now)?;
            write_item(items, gsi, existing.as_ref(), Some(&new), pk, sk)?;
            return Ok(Some(new));
        }
        TxOp::Delete { .. } => write_item(items, gsi, existing.as_ref(), None, pk, sk)?,
        TxOp::Check { .. } => {}
    }
    Ok(None)
}

/// Runs a scan over `[lo, hi]` in the query's order, skipping expired items, and returns up to
/// `limit` live entries plus whether more follow.
pub(super) fn scan<T, F>(
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
pub(super) fn after_cursor(
    bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    position: Vec<u8>,
    order: Order,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    match order {
        Order::Ascending => (Bound::Excluded(position), bounds.1),
        Order::Descending => (bounds.0, Bound::Excluded(position)),
    }
}

/// A page of the items table within `bounds`, after the cursor's item: the live items whose
/// sort key matches `sort`, for a query of the table and a scan alike.
fn read_items(
    db: &Database,
    bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    cursor: Option<Cursor>,
    order: Order,
    limit: usize,
    sort: &SortKey,
    now: i64,
) -> StoreResult<Page> {
    let txn = db.begin_read().map_err(unexpected)?;
    let items = txn.open_table(ITEMS).map_err(unexpected)?;
    let bounds = match cursor {
        Some(c) => after_cursor(bounds, item_key(&c.pk, &c.sk), order),
        None => bounds,
    };
    let (found, more) = scan(&items, bounds, order, limit, |_, v| {
        let item = Item::from_json(serde_json::from_slice(v).map_err(unexpected)?)?;
        Ok((!item.is_expired_at(now) && sort.matches(&item.sk)).then_some(item))
    })?;
    Ok(page(found, more, false))
}

/// A page of `items`, with a cursor at the last one when `more` follow (and its index keys, on
/// a page of the index).
fn page(items: Vec<Item>, more: bool, index: bool) -> Page {
    let next_cursor = more.then(|| items.last()).flatten().and_then(|last| {
        let index = if index {
            let (ipk, isk) = last.index_keys()?;
            Some((ipk.to_owned(), isk.to_owned()))
        } else {
            None
        };
        let cursor = Cursor {
            pk: last.pk.clone(),
            sk: last.sk.clone(),
            index,
        };
        Some(cursor.encode())
    });
    Page { items, next_cursor }
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        crate::storage::item::validate_key(pk, sk)?;
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

    /// A transaction of the one update, for the item it leaves.
    async fn update_item(&self, request: UpdateRequest<'_>) -> StoreResult<Item> {
        let update = TxOp::Update {
            pk: request.pk.to_owned(),
            sk: request.sk.to_owned(),
            update: request.update,
            condition: request.condition,
        };
        self.write(vec![update])
            .await?
            .ok_or_else(|| StoreError::Unexpected(anyhow::anyhow!("the update left no item")))
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
        let cursor = query.checked_cursor(false)?;
        // Read on this thread: the blocking pool does not see a test's frozen clock.
        let now = clock::unix_now();
        self.blocking(move |db| {
            let bounds = partition_bounds(&query.pk, &query.sort);
            let (order, limit) = (query.order, query.limit);
            read_items(db, bounds, cursor, order, limit, &query.sort, now)
        })
        .await
    }

    async fn query_index(&self, query: Query) -> StoreResult<Page> {
        let cursor = query.checked_cursor(true)?;
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
            let (found, more) = scan(&gsi, bounds, query.order, query.limit, |k, _| {
                let (ipk, isk, pk, sk) = split_index_key(k)?;
                if ipk != query.pk || !query.sort.matches(&isk) {
                    return Ok(None);
                }
                Ok(read_item(&items, &item_key(&pk, &sk))?.filter(|i| !i.is_expired_at(now)))
            })?;
            Ok(page(found, more, true))
        })
        .await
    }

    async fn scan(&self, request: Scan) -> StoreResult<Page> {
        let cursor = request.checked_cursor()?;
        let now = clock::unix_now();
        self.blocking(move |db| {
            let everything = (Bound::Unbounded, Bound::Unbounded);
            let (order, limit) = (Order::Ascending, request.limit);
            read_items(db, everything, cursor, order, limit, &request.sort, now)
        })
        .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        self.write(ops).await.map(|_| ())
    }
}
