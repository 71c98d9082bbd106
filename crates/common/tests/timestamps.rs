//! Timestamps: new account items are stamped by the one (injectable) clock in the one stored
//! form, and items written in the older forms still read.

use ragenie_common::accounts::profiles::{self, NewProfile};
use ragenie_common::accounts::{UserId, api_keys, keys, users};
use ragenie_common::clock::{Timestamp, testing::freeze};
use ragenie_common::storage::{Condition, Item};
use ragenie_common::testing::embedded_state;

fn at(raw: &str) -> Timestamp {
    Timestamp::parse(raw).unwrap()
}

#[tokio::test]
async fn new_account_items_are_stamped_by_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
    let table = state.table.as_ref();
    let t = at("2030-05-06T07:08:09.123456Z");
    let _clock = freeze(t);

    let user = users::register(table, "clock@example.com", "a long passphrase 42".into())
        .await
        .unwrap();
    assert_eq!(user.created_at, t);
    let profile = profiles::create(
        table,
        user.id,
        NewProfile {
            name: "work".into(),
            ..NewProfile::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((profile.created_at, profile.updated_at), (t, t));
    let key = api_keys::create(table, user.id, "script").await.unwrap();
    assert_eq!(key.summary.created_at, t);

    // Stored in the one form: UTC, microseconds.
    let k = keys::profile(user.id, profile.id);
    let stored = table.get(&k.pk, &k.sk).await.unwrap().unwrap();
    assert_eq!(
        stored.str("created_at"),
        Some("2030-05-06T07:08:09.123456Z")
    );
}

#[tokio::test]
async fn account_items_in_older_timestamp_forms_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
    let table = state.table.as_ref();
    let user = UserId::new();
    // As accounts stored them before: whole seconds, and key use as epoch seconds.
    let k = keys::user(user);
    let record = Item::new(k.pk, k.sk)
        .with("id", user.to_string())
        .with("email", "old@example.com")
        .with("password_hash", "$argon2id$unused")
        .with("created_at", "2025-01-02T03:04:05Z")
        .with("password_changed_at", "2025-01-02T03:04:05+01:00");
    table.put(record, Condition::NotExists).await.unwrap();
    let got = users::get(table, user).await.unwrap();
    assert_eq!(got.created_at, at("2025-01-02T03:04:05Z"));
    assert_eq!(
        serde_json::to_value(&got).unwrap()["created_at"],
        "2025-01-02T03:04:05.000000Z",
        "shown in the one form"
    );

    let key = api_keys::create(table, user, "old").await.unwrap();
    let k = keys::api_key(user, key.summary.id);
    let stored = table.get(&k.pk, &k.sk).await.unwrap().unwrap();
    let old = stored
        .with("created_at", "2025-01-02T03:04:05Z")
        .with("last_used_at", 1_735_787_045_i64);
    table.put(old, Condition::Exists).await.unwrap();
    let listed = api_keys::list(table, user, 10, None).await.unwrap();
    assert_eq!(listed.items[0].created_at, at("2025-01-02T03:04:05Z"));
    assert_eq!(
        listed.items[0].last_used_at,
        Some(at("2025-01-02T03:04:05Z"))
    );
}
