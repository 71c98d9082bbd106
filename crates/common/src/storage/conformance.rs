//! The storage conformance suite: what every adapter of the ports must do. Each check is a
//! function here; `storage_conformance_tests!(factory)` turns them into one `#[tokio::test]`
//! each for an adapter. The embedded adapter runs it in this crate's tests; the AWS adapters
//! run it in `tests/localstack` against an emulator (or a real account).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;

use super::{
    Blobs, Condition, Item, Order, Query, Scan, SortKey, StoreError, StoreResult, Table, TxOp,
    Update,
};
use crate::clock;

/// The stores under test; `guard` keeps whatever backs them (a temp dir, a server) alive.
pub struct StoreFixture {
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn Blobs>,
    pub guard: Box<dyn std::any::Any + Send>,
}

/// Generates one test per conformance check; `$factory` is an async fn returning a fresh
/// [`StoreFixture`] for each test.
#[macro_export]
macro_rules! storage_conformance_tests {
    ($factory:path) => {
        $crate::storage_conformance_tests!(@table $factory;
            get_of_a_missing_item_is_none,
            put_then_get_round_trips_every_attribute_type,
            a_put_that_must_not_exist_conflicts_with_an_existing_item,
            a_version_condition_guards_updates_and_deletes,
            update_sets_adds_and_removes_and_returns_the_new_item,
            a_transaction_with_one_failing_condition_writes_nothing,
            pagination_returns_every_item_once_in_both_directions,
            prefix_and_range_queries_work_in_both_directions,
            the_secondary_index_is_queryable_and_follows_updates,
            expired_items_are_invisible_and_can_be_replaced,
            an_oversize_item_is_refused_with_a_clear_error,
            concurrent_conditional_writes_let_exactly_one_win,
            an_at_most_condition_caps_an_atomic_counter,
            a_cursor_from_another_partition_is_refused,
            a_scan_reads_every_partition_once_filtered_by_sort_key
        );
        $crate::storage_conformance_tests!(@blobs $factory;
            blobs_put_get_head_and_delete_round_trip,
            blobs_list_by_prefix_in_key_order,
            reading_at_most_a_limit_refuses_a_larger_object,
            a_streamed_read_returns_every_byte_and_refuses_past_a_limit,
            a_copy_inside_the_store_keeps_the_bytes_and_takes_the_given_type,
            a_presigned_put_then_get_works_over_plain_http
        );
    };
    (@table $factory:path; $($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let fixture = $factory().await;
            $crate::storage::conformance::$name(&fixture.table).await;
        }
    )*};
    (@blobs $factory:path; $($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let fixture = $factory().await;
            $crate::storage::conformance::$name(fixture.blobs.as_ref()).await;
        }
    )*};
}

fn keys(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.sk.clone()).collect()
}

pub async fn get_of_a_missing_item_is_none(table: &Arc<dyn Table>) {
    assert_eq!(table.get("P#none", "S#none").await.unwrap(), None);
    // Deleting what is not there is fine; requiring it to exist is not.
    table
        .delete("P#none", "S#none", Condition::None)
        .await
        .unwrap();
    let err = table
        .delete("P#none", "S#none", Condition::Exists)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
}

pub async fn put_then_get_round_trips_every_attribute_type(table: &Arc<dyn Table>) {
    let item = Item::new("P#1", "S#1")
        .with("s", "text ünïcödé")
        .with("i", 42)
        .with("neg", -7)
        .with("f", 2.5)
        .with("b", true)
        .with("n", serde_json::Value::Null)
        .with("l", json!([1, "two", {"three": 3}]))
        .with("m", json!({"nested": {"list": [true, false]}}))
        .with("empty", "");
    table.put(item.clone(), Condition::None).await.unwrap();
    assert_eq!(table.get("P#1", "S#1").await.unwrap(), Some(item));
}

pub async fn a_put_that_must_not_exist_conflicts_with_an_existing_item(table: &Arc<dyn Table>) {
    let first = Item::new("EMAIL#a@b.c", "EMAIL").with("user", "1");
    table
        .put(first.clone(), Condition::NotExists)
        .await
        .unwrap();
    let err = table
        .put(first.clone().with("user", "2"), Condition::NotExists)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    assert_eq!(
        table
            .get("EMAIL#a@b.c", "EMAIL")
            .await
            .unwrap()
            .unwrap()
            .str("user"),
        Some("1")
    );
}

pub async fn a_version_condition_guards_updates_and_deletes(table: &Arc<dyn Table>) {
    table
        .put(Item::new("P#v", "S#v").with("version", 1), Condition::None)
        .await
        .unwrap();
    let stale = Condition::AttrEquals("version".into(), json!(0));
    let current = Condition::AttrEquals("version".into(), json!(1));
    let err = table
        .update("P#v", "S#v", Update::new().set("version", 2), stale.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    let after = table
        .update("P#v", "S#v", Update::new().set("version", 2), current)
        .await
        .unwrap();
    assert_eq!(after.i64("version"), Some(2));
    assert!(matches!(
        table.delete("P#v", "S#v", stale).await,
        Err(StoreError::ConditionFailed)
    ));
    table
        .delete(
            "P#v",
            "S#v",
            Condition::AttrEquals("version".into(), json!(2)),
        )
        .await
        .unwrap();
    assert_eq!(table.get("P#v", "S#v").await.unwrap(), None);
    // An update that requires the item fails on a missing one and creates nothing.
    let err = table
        .update("P#v", "S#v", Update::new().set("x", 1), Condition::Exists)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    assert_eq!(table.get("P#v", "S#v").await.unwrap(), None);
}

pub async fn update_sets_adds_and_removes_and_returns_the_new_item(table: &Arc<dyn Table>) {
    // Every step updates one item, unconditionally.
    let update = |change: Update| table.update("USAGE#u", "2026-11", change, Condition::None);
    // Upsert: the first update creates the item; counters start from zero.
    let created = update(Update::new().add("tokens", 10).set("model", "m"))
        .await
        .unwrap();
    assert_eq!(created.i64("tokens"), Some(10));
    let change = Update::new()
        .add("tokens", 5)
        .add("cost", 3)
        .remove("model");
    let updated = update(change).await.unwrap();
    assert_eq!(
        (
            updated.i64("tokens"),
            updated.i64("cost"),
            updated.get("model")
        ),
        (Some(15), Some(3), None)
    );
    assert_eq!(
        table.get("USAGE#u", "2026-11").await.unwrap(),
        Some(updated)
    );
    let err = update(Update::new().set("pk", "other")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(_)),
        "keys cannot be updated: {err:?}"
    );
}

pub async fn a_transaction_with_one_failing_condition_writes_nothing(table: &Arc<dyn Table>) {
    table
        .put(
            Item::new("EMAIL#taken", "EMAIL").with("user", "old"),
            Condition::None,
        )
        .await
        .unwrap();
    table
        .put(Item::new("COUNTER", "C").with("n", 1), Condition::None)
        .await
        .unwrap();
    // Two writes that would succeed: the failing transaction must cancel them, the last one
    // must commit them.
    let create_user = TxOp::Put {
        item: Item::new("USER#new", "PROFILE"),
        condition: Condition::NotExists,
    };
    let count_user = TxOp::Update {
        pk: "COUNTER".into(),
        sk: "C".into(),
        update: Update::new().add("n", 1),
        condition: Condition::Exists,
    };
    let failing = vec![
        create_user.clone(),
        count_user.clone(),
        TxOp::Delete {
            pk: "P#gone".into(),
            sk: "S".into(),
            condition: Condition::None,
        },
        TxOp::Put {
            item: Item::new("EMAIL#taken", "EMAIL").with("user", "new"),
            condition: Condition::NotExists,
        },
    ];
    let err = table.transact(failing).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    assert_eq!(
        table.get("USER#new", "PROFILE").await.unwrap(),
        None,
        "no write of a cancelled transaction lands"
    );
    assert_eq!(
        table.get("COUNTER", "C").await.unwrap().unwrap().i64("n"),
        Some(1)
    );
    assert_eq!(
        table
            .get("EMAIL#taken", "EMAIL")
            .await
            .unwrap()
            .unwrap()
            .str("user"),
        Some("old")
    );

    let check_fails = vec![
        TxOp::Put {
            item: Item::new("USER#new", "PROFILE"),
            condition: Condition::None,
        },
        TxOp::Check {
            pk: "COUNTER".into(),
            sk: "C".into(),
            condition: Condition::AttrEquals("n".into(), json!(99)),
        },
    ];
    assert!(matches!(
        table.transact(check_fails).await,
        Err(StoreError::ConditionFailed)
    ));
    assert_eq!(table.get("USER#new", "PROFILE").await.unwrap(), None);

    let ok = vec![
        create_user,
        TxOp::Put {
            item: Item::new("EMAIL#free", "EMAIL").with("user", "new"),
            condition: Condition::NotExists,
        },
        count_user,
        TxOp::Check {
            pk: "EMAIL#taken".into(),
            sk: "EMAIL".into(),
            condition: Condition::Exists,
        },
    ];
    table.transact(ok).await.unwrap();
    assert!(table.get("USER#new", "PROFILE").await.unwrap().is_some());
    assert!(table.get("EMAIL#free", "EMAIL").await.unwrap().is_some());
    assert_eq!(
        table.get("COUNTER", "C").await.unwrap().unwrap().i64("n"),
        Some(2)
    );

    let twice = vec![
        TxOp::Put {
            item: Item::new("A", "1"),
            condition: Condition::None,
        },
        TxOp::Delete {
            pk: "A".into(),
            sk: "1".into(),
            condition: Condition::None,
        },
    ];
    assert!(matches!(
        table.transact(twice).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn read_all(table: &dyn Table, query: Query) -> Vec<Item> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let page = table.query(query.clone().after(cursor)).await.unwrap();
        assert!(
            page.items.len() <= query.limit,
            "a page never exceeds the limit"
        );
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

pub async fn pagination_returns_every_item_once_in_both_directions(table: &Arc<dyn Table>) {
    let expected: Vec<String> = (0..23).map(|i| format!("MSG#{i:04}")).collect();
    for sk in &expected {
        table
            .put(
                Item::new("CONV#1", sk.clone()).with("text", sk.clone()),
                Condition::None,
            )
            .await
            .unwrap();
    }
    table
        .put(Item::new("CONV#2", "MSG#0000"), Condition::None)
        .await
        .unwrap();
    table
        .put(Item::new("CONV#1", "META"), Condition::None)
        .await
        .unwrap();

    let ascending = read_all(
        table.as_ref(),
        Query::partition("CONV#1").prefix("MSG#").limit(5),
    )
    .await;
    assert_eq!(keys(&ascending), expected);
    let descending = read_all(
        table.as_ref(),
        Query::partition("CONV#1")
            .prefix("MSG#")
            .descending()
            .limit(4),
    )
    .await;
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(keys(&descending), reversed);
    let unique: HashSet<_> = keys(&descending).into_iter().collect();
    assert_eq!(unique.len(), expected.len());
    // A page size equal to the total still ends.
    assert_eq!(
        read_all(
            table.as_ref(),
            Query::partition("CONV#1").prefix("MSG#").limit(23)
        )
        .await
        .len(),
        23
    );
}

pub async fn prefix_and_range_queries_work_in_both_directions(table: &Arc<dyn Table>) {
    let all = ["A#1", "A#2", "AB#1", "B#1", "B#2", "B#3", "C#1"];
    for sk in all {
        table
            .put(Item::new("R", sk), Condition::None)
            .await
            .unwrap();
    }
    use Order::{Ascending as Asc, Descending as Desc};
    let between = || SortKey::Between("A#2".into(), "B#2".into());
    let cases: [(SortKey, Order, &[&str]); 8] = [
        (SortKey::Prefix("A#".into()), Asc, &["A#1", "A#2"]),
        (SortKey::Prefix("A".into()), Desc, &["AB#1", "A#2", "A#1"]),
        (between(), Asc, &["A#2", "AB#1", "B#1", "B#2"]),
        (between(), Desc, &["B#2", "B#1", "AB#1", "A#2"]),
        (SortKey::AtLeast("B#3".into()), Asc, &["B#3", "C#1"]),
        (SortKey::AtMost("A#2".into()), Desc, &["A#2", "A#1"]),
        (SortKey::All, Asc, &all),
        (SortKey::Prefix("Z".into()), Asc, &[]),
    ];
    for (sort, order, expected) in cases {
        let mut q = Query::partition("R").sort(sort.clone()).limit(100);
        q.order = order;
        let found = keys(&table.query(q).await.unwrap().items);
        assert_eq!(found, expected, "{sort:?} {order:?}");
    }
}

pub async fn the_secondary_index_is_queryable_and_follows_updates(table: &Arc<dyn Table>) {
    for i in 0..7 {
        let item = Item::new(format!("USER#{i}"), "KEY")
            .with("n", i)
            .indexed("APIKEY", format!("hash{i}"));
        table.put(item, Condition::None).await.unwrap();
    }
    table
        .put(Item::new("USER#x", "KEY").with("n", 99), Condition::None)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query_index(Query::partition("APIKEY").limit(3).after(cursor))
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|i| i.pk.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(seen.len() <= 7, "index pagination must end");
    }
    assert_eq!(
        seen,
        (0..7).map(|i| format!("USER#{i}")).collect::<Vec<_>>()
    );
    let exact = table
        .query_index(
            Query::partition("APIKEY").sort(SortKey::Between("hash3".into(), "hash3".into())),
        )
        .await
        .unwrap();
    assert_eq!(keys(&exact.items), ["KEY"]);
    assert_eq!(exact.items[0].pk, "USER#3");
    let desc = table
        .query_index(
            Query::partition("APIKEY")
                .prefix("hash")
                .descending()
                .limit(2),
        )
        .await
        .unwrap();
    assert_eq!(
        desc.items.iter().map(|i| i.pk.as_str()).collect::<Vec<_>>(),
        ["USER#6", "USER#5"]
    );
    // Moving an item's index key moves it in the index; deleting removes it.
    table
        .update(
            "USER#3",
            "KEY",
            Update::new().set("gsi1sk", "zzz"),
            Condition::Exists,
        )
        .await
        .unwrap();
    table
        .delete("USER#4", "KEY", Condition::None)
        .await
        .unwrap();
    let all = table.query_index(Query::partition("APIKEY")).await.unwrap();
    let order: Vec<_> = all.items.iter().map(|i| i.pk.as_str()).collect();
    assert_eq!(
        order,
        ["USER#0", "USER#1", "USER#2", "USER#5", "USER#6", "USER#3"]
    );
}

pub async fn expired_items_are_invisible_and_can_be_replaced(table: &Arc<dyn Table>) {
    let past = clock::unix_now() - 10;
    let future = clock::unix_now() + 3600;
    table
        .put(
            Item::new("THROTTLE#x", "W#1").with("n", 5).expires_at(past),
            Condition::None,
        )
        .await
        .unwrap();
    table
        .put(
            Item::new("THROTTLE#x", "W#2")
                .with("n", 1)
                .expires_at(future),
            Condition::None,
        )
        .await
        .unwrap();
    assert_eq!(
        table.get("THROTTLE#x", "W#1").await.unwrap(),
        None,
        "expired items read as absent"
    );
    assert!(table.get("THROTTLE#x", "W#2").await.unwrap().is_some());
    let page = table.query(Query::partition("THROTTLE#x")).await.unwrap();
    assert_eq!(keys(&page.items), ["W#2"]);
    // An expired item does not block a must-not-exist write, and does not satisfy Exists.
    assert!(matches!(
        table
            .update(
                "THROTTLE#x",
                "W#1",
                Update::new().set("n", 1),
                Condition::Exists
            )
            .await,
        Err(StoreError::ConditionFailed)
    ));
    table
        .put(
            Item::new("THROTTLE#x", "W#1").with("n", 0),
            Condition::NotExists,
        )
        .await
        .unwrap();
    assert_eq!(
        table
            .get("THROTTLE#x", "W#1")
            .await
            .unwrap()
            .unwrap()
            .i64("n"),
        Some(0)
    );
}

pub async fn an_oversize_item_is_refused_with_a_clear_error(table: &Arc<dyn Table>) {
    let big = Item::new("P#big", "S").with("text", "x".repeat(401 * 1024));
    match table.put(big, Condition::None).await {
        Err(StoreError::ItemTooLarge { size, limit }) => assert!(size > limit),
        other => panic!("expected ItemTooLarge, got {other:?}"),
    }
    assert_eq!(table.get("P#big", "S").await.unwrap(), None);
    let err = table
        .put(Item::new("", "S"), Condition::None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

pub async fn concurrent_conditional_writes_let_exactly_one_win(table: &Arc<dyn Table>) {
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let table = table.clone();
            tokio::spawn(async move {
                table
                    .put(
                        Item::new("EMAIL#race@x.y", "EMAIL").with("user", i),
                        Condition::NotExists,
                    )
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::ConditionFailed) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(wins, 1);
}

/// Sequential on purpose: moto loses concurrent `ADD`s (TOOLCHAIN_NOTES); the concurrent case
/// is proven on the embedded store by the quota tests.
pub async fn an_at_most_condition_caps_an_atomic_counter(table: &Arc<dyn Table>) {
    let reserve = |n: i64| {
        let table = table.clone();
        async move {
            table
                .update(
                    "QUOTA",
                    "M",
                    Update::new().add("held", n),
                    Condition::AttrAtMost("held".into(), 10 - n),
                )
                .await
        }
    };
    // Absent item, then absent attribute: both hold.
    assert_eq!(reserve(4).await.unwrap().i64("held"), Some(4));
    assert_eq!(reserve(6).await.unwrap().i64("held"), Some(10));
    let err = reserve(1).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    assert_eq!(
        table.get("QUOTA", "M").await.unwrap().unwrap().i64("held"),
        Some(10),
        "a refused reservation changes nothing"
    );
    // Settling gives back what was not used; then there is room again.
    table
        .update("QUOTA", "M", Update::new().add("held", -3), Condition::None)
        .await
        .unwrap();
    assert_eq!(reserve(3).await.unwrap().i64("held"), Some(10));
    // An item without the attribute holds too.
    table
        .put(Item::new("QUOTA", "N").with("other", 1), Condition::None)
        .await
        .unwrap();
    let item = table
        .update(
            "QUOTA",
            "N",
            Update::new().add("held", 2),
            Condition::AttrAtMost("held".into(), 0),
        )
        .await
        .unwrap();
    assert_eq!(item.i64("held"), Some(2));
}

pub async fn a_cursor_from_another_partition_is_refused(table: &Arc<dyn Table>) {
    for i in 0..3 {
        table
            .put(Item::new("USER#a", format!("DOC#{i}")), Condition::None)
            .await
            .unwrap();
        table
            .put(Item::new("USER#b", format!("DOC#{i}")), Condition::None)
            .await
            .unwrap();
    }
    let page = table
        .query(Query::partition("USER#a").limit(1))
        .await
        .unwrap();
    let cursor = page.next_cursor.expect("more pages");
    let err = table
        .query(Query::partition("USER#b").limit(1).after(Some(cursor)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCursor), "{err:?}");
    let err = table
        .query(Query::partition("USER#a").after(Some("garbage".into())))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCursor), "{err:?}");
}

pub async fn a_scan_reads_every_partition_once_filtered_by_sort_key(table: &Arc<dyn Table>) {
    for i in 0..7 {
        let pk = format!("SCAN#{i}");
        table
            .put(Item::new(&pk, "USER").with("n", i), Condition::None)
            .await
            .unwrap();
        table
            .put(Item::new(&pk, "OTHER"), Condition::None)
            .await
            .unwrap();
    }
    table
        .put(
            Item::new("SCAN#gone", "USER").expires_at(clock::unix_now() - 10),
            Condition::None,
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = table
            .scan(Scan::sort_key("USER").page(3, cursor))
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|i| {
            assert_eq!(i.sk, "USER");
            i.pk.clone()
        }));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 100, "the scan must end");
    }
    seen.sort();
    let want: Vec<String> = (0..7).map(|i| format!("SCAN#{i}")).collect();
    assert_eq!(seen, want, "each live item once, expired ones not at all");
    assert!(matches!(
        table
            .scan(Scan::sort_key("USER").page(100, Some("not a cursor".into())))
            .await,
        Err(StoreError::InvalidCursor)
    ));
}

pub async fn blobs_put_get_head_and_delete_round_trip(blobs: &dyn Blobs) {
    assert!(blobs.get("users/u1/docs/none").await.unwrap().is_none());
    assert!(blobs.head("users/u1/docs/none").await.unwrap().is_none());
    let body = Bytes::from_static(b"# Title\n\nHello, world.\n");
    let meta = blobs
        .put("users/u1/docs/a.md", body.clone(), "text/markdown")
        .await
        .unwrap();
    assert_eq!(meta.size, body.len() as u64);
    let got = blobs.get("users/u1/docs/a.md").await.unwrap().unwrap();
    assert_eq!(got.body, body);
    assert_eq!(got.meta.content_type, "text/markdown");
    assert_eq!(got.meta.etag, meta.etag);
    let head = blobs.head("users/u1/docs/a.md").await.unwrap().unwrap();
    assert_eq!(
        (head.size, head.etag.as_str()),
        (meta.size, meta.etag.as_str())
    );
    let replaced = blobs
        .put(
            "users/u1/docs/a.md",
            Bytes::from_static(b"other"),
            "text/plain",
        )
        .await
        .unwrap();
    assert_ne!(replaced.etag, meta.etag, "the ETag changes with the bytes");
    blobs.delete("users/u1/docs/a.md").await.unwrap();
    blobs.delete("users/u1/docs/a.md").await.unwrap();
    assert!(blobs.get("users/u1/docs/a.md").await.unwrap().is_none());
    assert!(
        blobs
            .put("../escape", Bytes::new(), "text/plain")
            .await
            .is_err()
    );
}

pub async fn blobs_list_by_prefix_in_key_order(blobs: &dyn Blobs) {
    for key in [
        "users/u2/seg/b",
        "users/u2/seg/a",
        "users/u2/segx",
        "users/u2/docs/z",
        "users/u3/seg/a",
    ] {
        blobs
            .put(key, Bytes::from(key.to_owned()), "application/octet-stream")
            .await
            .unwrap();
    }
    let listed: Vec<_> = blobs
        .list("users/u2/seg")
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.key, m.size))
        .collect();
    assert_eq!(
        listed,
        [
            ("users/u2/seg/a".to_owned(), 14),
            ("users/u2/seg/b".to_owned(), 14),
            ("users/u2/segx".to_owned(), 13)
        ]
    );
    assert!(blobs.list("users/nobody/").await.unwrap().is_empty());
}

pub async fn reading_at_most_a_limit_refuses_a_larger_object(blobs: &dyn Blobs) {
    let key = "users/u5/uploads/x";
    blobs
        .put(key, Bytes::from(vec![1u8; 100]), "text/plain")
        .await
        .unwrap();
    let blob = blobs.get_at_most(key, 100).await.unwrap().unwrap();
    assert_eq!((blob.body.len(), blob.meta.size), (100, 100));
    assert_eq!(blob.meta.content_type, "text/plain");
    assert_eq!(
        blobs
            .get_at_most(key, 1000)
            .await
            .unwrap()
            .unwrap()
            .body
            .len(),
        100
    );
    assert!(
        matches!(
            blobs.get_at_most(key, 99).await,
            Err(StoreError::TooLarge { limit: 99 })
        ),
        "one byte over the limit is refused"
    );
    let read = |key: String| async move {
        let blob = blobs.get_at_most(&key, 10).await?;
        Ok(blob.map(|b| b.body.len()))
    };
    a_missing_and_an_empty_object_read_as_none_and_no_bytes(blobs, "users/u5/uploads", read).await;
}

/// What a bounded read (`read`: the key to the bytes read, or `None`) makes of a key with no
/// object and of an empty object, in `dir`.
async fn a_missing_and_an_empty_object_read_as_none_and_no_bytes<F, Fut>(
    blobs: &dyn Blobs,
    dir: &str,
    read: F,
) where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = StoreResult<Option<usize>>>,
{
    assert_eq!(read(format!("{dir}/none")).await.unwrap(), None);
    let empty = format!("{dir}/empty");
    blobs.put(&empty, Bytes::new(), "text/plain").await.unwrap();
    assert_eq!(read(empty).await.unwrap(), Some(0));
}

/// Reads a stream to its end: the bytes, or the first failure.
async fn collect(blobs: &dyn Blobs, key: &str, max_bytes: u64) -> StoreResult<Option<Vec<u8>>> {
    use futures::StreamExt;
    let Some(mut stream) = blobs.get_stream(key, max_bytes).await? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    while let Some(chunk) = stream.body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(Some(out))
}

pub async fn a_streamed_read_returns_every_byte_and_refuses_past_a_limit(blobs: &dyn Blobs) {
    let key = "users/u6/uploads/big";
    // Large enough to arrive in several chunks from any store.
    let body: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 251) as u8).collect();
    let put = blobs
        .put(key, Bytes::from(body.clone()), "application/pdf")
        .await
        .unwrap();
    let stream = blobs.get_stream(key, 1 << 20).await.unwrap().unwrap();
    assert_eq!(
        (stream.meta.size, stream.meta.etag.as_str()),
        (body.len() as u64, put.etag.as_str()),
        "the object's whole size and ETag, before any byte is read"
    );
    assert_eq!(stream.meta.content_type, "application/pdf");
    drop(stream);
    let exact = body.len() as u64;
    assert_eq!(
        collect(blobs, key, exact).await.unwrap(),
        Some(body.clone())
    );
    assert!(
        matches!(
            collect(blobs, key, exact - 1).await,
            Err(StoreError::TooLarge { limit }) if limit == exact - 1
        ),
        "one byte over the limit is refused"
    );
    let read = |key: String| async move {
        let bytes = collect(blobs, &key, 10).await?;
        Ok(bytes.map(|b| b.len()))
    };
    a_missing_and_an_empty_object_read_as_none_and_no_bytes(blobs, "users/u6/uploads", read).await;
}

pub async fn a_copy_inside_the_store_keeps_the_bytes_and_takes_the_given_type(blobs: &dyn Blobs) {
    let (from, to) = ("users/u7/uploads/a", "users/u7/content/a");
    let body = Bytes::from_static(b"%PDF-1.7 copied, not re-sent");
    let put = blobs
        .put(from, body.clone(), "application/octet-stream")
        .await
        .unwrap();
    assert!(
        blobs
            .copy(from, to, "application/pdf", Some(&put.etag))
            .await
            .unwrap()
    );
    let copied = blobs.get(to).await.unwrap().unwrap();
    assert_eq!(copied.body, body);
    assert_eq!(
        copied.meta.content_type, "application/pdf",
        "the given type"
    );
    assert_eq!(copied.meta.etag, put.etag, "the same bytes, the same ETag");
    assert!(
        blobs.head(from).await.unwrap().is_some(),
        "the source stays"
    );
    blobs
        .put(from, Bytes::from_static(b"other bytes"), "text/plain")
        .await
        .unwrap();
    // Without a condition the copy replaces what the target held.
    assert!(blobs.copy(from, to, "text/plain", None).await.unwrap());
    assert_eq!(
        blobs.get(to).await.unwrap().unwrap().body,
        Bytes::from_static(b"other bytes")
    );
    assert!(
        !blobs
            .copy(
                "users/u7/uploads/none",
                "users/u7/content/c",
                "text/plain",
                None
            )
            .await
            .unwrap(),
        "a missing source copies nothing"
    );
    assert!(blobs.head("users/u7/content/c").await.unwrap().is_none());
    assert!(
        blobs
            .copy(from, "../escape", "text/plain", None)
            .await
            .is_err()
    );
}

/// Not in [`storage_conformance_tests!`]: moto 5.2 ignores `x-amz-copy-source-if-match` (it
/// implements only `-if-none-match`), so the AWS adapter runs this against LocalStack or a real
/// account only (`tests/localstack/tests/aws_store.rs`); the embedded store always.
pub async fn a_copy_from_a_replaced_source_copies_nothing(blobs: &dyn Blobs) {
    let (from, to) = ("users/u8/uploads/a", "users/u8/content/a");
    let read = blobs
        .put(
            from,
            Bytes::from_static(b"the bytes that were hashed"),
            "text/plain",
        )
        .await
        .unwrap();
    blobs
        .put(from, Bytes::from_static(b"bytes PUT since"), "text/plain")
        .await
        .unwrap();
    assert!(matches!(
        blobs.copy(from, to, "text/plain", Some(&read.etag)).await,
        Err(StoreError::ConditionFailed)
    ));
    assert!(blobs.head(to).await.unwrap().is_none());
}

pub async fn a_presigned_put_then_get_works_over_plain_http(blobs: &dyn Blobs) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let put = blobs
        .presign_put(
            "users/u4/uploads/big.pdf",
            "application/pdf",
            256 * 1024,
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    assert_eq!(put.method, "PUT");
    // The URL names the length the store will hold the body to (S3: a signed header).
    assert!(
        put.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-length") && v == "262144"),
        "{:?}",
        put.headers
    );
    let body = vec![7u8; 256 * 1024];
    let mut request = http.put(&put.url).body(body.clone());
    for (name, value) in &put.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "presigned PUT failed: {}",
        response.status()
    );
    let head = blobs
        .head("users/u4/uploads/big.pdf")
        .await
        .unwrap()
        .expect("uploaded object exists");
    assert_eq!(head.size, body.len() as u64);
    let get = blobs
        .presign_get("users/u4/uploads/big.pdf", Duration::from_secs(300))
        .await
        .unwrap();
    let fetched = http.get(&get.url).send().await.unwrap();
    assert!(fetched.status().is_success());
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), body);
}
