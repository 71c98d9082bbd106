//! The audit matrix: every security event the auth function records appears exactly once in
//! its owner's trail with actor, target, time, address and request id; one user never sees
//! another's events; a failing audit store never fails the action.

mod helpers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::StatusCode;
use helpers::{App, PASSWORD, Resp, Tokens, app};
use ragenie_common::http::with_fallback;
use ragenie_common::storage::{
    Condition, Item, Page, Query, StoreError, StoreResult, Table, TxOp, UpdateRequest,
};
use serde_json::{Value, json};

fn request_id(r: &Resp) -> String {
    r.headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("every answer carries x-request-id")
        .to_owned()
}

async fn trail(app: &App, access: &str) -> Vec<Value> {
    let r = app.get("/auth/audit?limit=100", access).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

async fn me(app: &App, access: &str) -> String {
    app.get("/auth/me", access).await.str("id")
}

async fn send_from(
    app: &App,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: Value,
    address: &str,
) -> Resp {
    app.raw(
        method,
        uri,
        bearer,
        Some(body.to_string()),
        &[("cloudfront-viewer-address", &format!("{address}:443"))],
    )
    .await
}

/// `POST uri` without a credential, from the client address `address`.
async fn post_from(app: &App, uri: &str, body: Value, address: &str) -> Resp {
    send_from(app, "POST", uri, None, body, address).await
}

#[tokio::test]
async fn each_security_event_is_recorded_once_with_actor_target_time_address_and_request_id() {
    let app = app().await;
    let email = "alice@example.com";
    let first = app.register(email).await;
    let alice = me(&app, &first.access).await;
    let addr = "203.0.113.7";
    // (request id, action, actor, target, detail)
    let mut expected: Vec<(String, &str, String, String, Option<&str>)> = Vec::new();

    let ok = post_from(
        &app,
        "/auth/login",
        json!({"email": email, "password": PASSWORD}),
        addr,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let session = Tokens::from(&ok);
    expected.push((
        request_id(&ok),
        "sign_in_succeeded",
        alice.clone(),
        format!("user:{alice}"),
        None,
    ));

    let bad = post_from(
        &app,
        "/auth/login",
        json!({"email": email, "password": "wrong password!"}),
        addr,
    )
    .await;
    bad.problem(401);
    expected.push((
        request_id(&bad),
        "sign_in_failed",
        "anonymous".into(),
        format!("user:{alice}"),
        Some("wrong_password"),
    ));

    // An unknown email is nobody's event.
    let unknown = post_from(
        &app,
        "/auth/login",
        json!({"email": "nobody@example.com", "password": PASSWORD}),
        addr,
    )
    .await;
    unknown.problem(401);

    let key = send_from(
        &app,
        "POST",
        "/auth/api-keys",
        Some(&session.access),
        json!({"name": "ci"}),
        addr,
    )
    .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.text);
    let key_id = key.str("id");
    expected.push((
        request_id(&key),
        "api_key_created",
        alice.clone(),
        format!("api_key:{key_id}"),
        None,
    ));

    let revoked = app
        .raw(
            "DELETE",
            &format!("/auth/api-keys/{key_id}"),
            Some(&session.access),
            None,
            &[("cloudfront-viewer-address", &format!("{addr}:443"))],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    expected.push((
        request_id(&revoked),
        "api_key_revoked",
        alice.clone(),
        format!("api_key:{key_id}"),
        None,
    ));

    // A refresh token used twice: its family is revoked, by nobody anyone can name.
    let rotated = post_from(
        &app,
        "/auth/refresh",
        json!({"refresh_token": session.refresh}),
        addr,
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let reused = post_from(
        &app,
        "/auth/refresh",
        json!({"refresh_token": session.refresh}),
        addr,
    )
    .await;
    reused.problem(401);
    expected.push((
        request_id(&reused),
        "refresh_family_revoked",
        "anonymous".into(),
        String::new(),
        Some("token_reuse"),
    ));

    let out = post_from(
        &app,
        "/auth/logout",
        json!({"refresh_token": first.refresh}),
        addr,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    expected.push((
        request_id(&out),
        "refresh_family_revoked",
        alice.clone(),
        String::new(),
        Some("sign_out"),
    ));

    let changed = send_from(
        &app,
        "POST",
        "/auth/change-password",
        Some(&first.access),
        json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        addr,
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    expected.push((
        request_id(&changed),
        "password_changed",
        alice.clone(),
        format!("user:{alice}"),
        Some("other_sessions_signed_out"),
    ));

    let fresh = Tokens::from(&changed);
    let events = trail(&app, &fresh.access).await;
    assert_eq!(events.len(), expected.len(), "{events:#?}");
    for (rid, action, actor, target, detail) in &expected {
        let matching: Vec<&Value> = events
            .iter()
            .filter(|e| e["request_id"] == rid.as_str())
            .collect();
        assert_eq!(matching.len(), 1, "{action}: {events:#?}");
        let e = matching[0];
        assert_eq!(e["action"], *action);
        assert_eq!(e["user"], alice.as_str());
        assert_eq!(e["actor"], actor.as_str(), "{action}");
        if target.is_empty() {
            assert!(
                e["target"].as_str().unwrap().starts_with("refresh_family:"),
                "{e}"
            );
        } else {
            assert_eq!(e["target"], target.as_str(), "{action}");
        }
        assert_eq!(e["address"], addr, "{action}");
        assert_eq!(e["detail"].as_str(), *detail, "{action}");
        let at = time::OffsetDateTime::parse(
            e["at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!((time::OffsetDateTime::now_utc() - at).whole_minutes().abs() < 5);
    }
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first");

    let export = app.get("/auth/audit/export", &fresh.access).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    assert!(export.content_type().starts_with("application/jsonl"));
    let lines: Vec<Value> = export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, events, "the export holds the same events");
}

/// The account lifecycle's events: a password reset by mailed link (nobody signed in, so no
/// actor), signing out everywhere, and the deletion of the account, which is the one record
/// left of it.
#[tokio::test]
async fn a_password_reset_signing_out_everywhere_and_an_account_deletion_are_recorded() {
    let mailer = Arc::new(ragenie_common::mail::MemoryMailer::default());
    let app = helpers::app_with(ragenie_auth::AuthOptions {
        mailer: Some(mailer.clone()),
        ..Default::default()
    })
    .await;
    let email = "ada@example.com";
    let first = app.register(email).await;
    let ada = me(&app, &first.access).await;
    let addr = "198.51.100.20";

    let everywhere = app
        .raw(
            "POST",
            "/auth/sessions/revoke-all",
            Some(&first.access),
            None,
            &[("cloudfront-viewer-address", &format!("{addr}:443"))],
        )
        .await;
    assert_eq!(
        everywhere.status,
        StatusCode::NO_CONTENT,
        "{}",
        everywhere.text
    );

    let asked = post_from(&app, "/auth/password-reset", json!({"email": email}), addr).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text);
    let text = mailer.sent.lock().unwrap()[0].text.clone();
    let token = text
        .split_whitespace()
        .find_map(|w| w.split_once("#token=").map(|(_, t)| t.to_owned()))
        .expect("a link in the mail");
    let new_password = "a completely new passphrase";
    let reset = post_from(
        &app,
        "/auth/password-reset/confirm",
        json!({"token": token, "new_password": new_password}),
        addr,
    )
    .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.text);

    let session = Tokens::from(&app.login(email, new_password).await);
    let events = trail(&app, &session.access).await;
    let find = |rid: &str| {
        let found: Vec<&Value> = events.iter().filter(|e| e["request_id"] == rid).collect();
        assert_eq!(found.len(), 1, "{rid}: {events:#?}");
        found[0].clone()
    };
    let e = find(&request_id(&everywhere));
    assert_eq!(e["action"], "sessions_revoked");
    assert_eq!(e["actor"], ada.as_str());
    assert_eq!(e["address"], addr);
    assert_eq!(e["detail"], "sessions=1");
    let e = find(&request_id(&reset));
    assert_eq!(e["action"], "password_reset");
    assert_eq!(
        e["actor"], "anonymous",
        "whoever holds the link is not signed in"
    );
    assert_eq!(e["target"], format!("user:{ada}"));
    assert_eq!(e["address"], addr);
    assert_eq!(e["detail"], "every_session_signed_out");
    // Asking for a link is not an event of the account (it would tell who has one).
    assert!(
        events
            .iter()
            .all(|e| e["request_id"] != request_id(&asked).as_str()),
        "{events:#?}"
    );

    let deleted = send_from(
        &app,
        "DELETE",
        "/auth/me",
        Some(&session.access),
        json!({"password": new_password}),
        addr,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    // The account is gone, so its trail is read from the store: the deletion is all that is left.
    let user = ragenie_common::accounts::UserId::parse(&ada).unwrap();
    let left = ragenie_common::accounts::all_items(app.state.table.as_ref(), user, "")
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "{left:#?}");
    let e = &left[0];
    assert_eq!(e.str("action"), Some("account_deleted"));
    assert_eq!(e.str("actor"), Some(ada.as_str()));
    assert_eq!(e.str("address"), Some(addr));
    assert_eq!(e.str("request_id"), Some(request_id(&deleted).as_str()));
    assert!(e.str("detail").unwrap().starts_with("items="), "{e:?}");
    assert!(e.i64("expires_at").is_some(), "it ages out with the trail");
}

#[tokio::test]
async fn one_user_never_sees_another_users_events() {
    let app = app().await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let bob_id = me(&app, &bob.access).await;
    let a = app.login("alice@example.com", PASSWORD).await;
    let b = app.login("bob@example.com", PASSWORD).await;
    app.login("alice@example.com", "not alice's password")
        .await
        .problem(401);
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(b.status, StatusCode::OK);

    let bobs = trail(&app, &bob.access).await;
    assert_eq!(bobs.len(), 1, "{bobs:#?}");
    assert!(bobs.iter().all(|e| e["user"] == bob_id.as_str()));
    let alices = trail(&app, &alice.access).await;
    assert_eq!(alices.len(), 2, "{alices:#?}");
    assert!(alices.iter().all(|e| e["user"] != bob_id.as_str()));
    let export = app.get("/auth/audit/export", &bob.access).await;
    assert_eq!(export.text.lines().count(), 1, "{}", export.text);

    app.call("GET", "/auth/audit", None, None)
        .await
        .problem(401);
    app.get("/auth/audit?limit=0", &bob.access)
        .await
        .problem(422);
}

/// A table whose audit writes fail (or never answer); every other call goes through.
struct BrokenAudit {
    inner: Arc<dyn Table>,
    hang: bool,
}

#[async_trait]
impl Table for BrokenAudit {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        if item.sk.starts_with("AUDIT#") {
            if self.hang {
                std::future::pending::<()>().await;
            }
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "the audit store is down"
            )));
        }
        self.inner.put(item, condition).await
    }
    async fn update_item(&self, request: UpdateRequest<'_>) -> StoreResult<Item> {
        self.inner.update_item(request).await
    }
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        self.inner.delete(pk, sk, condition).await
    }
    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.inner.query(query).await
    }
    async fn query_index(&self, query: Query) -> StoreResult<Page> {
        self.inner.query_index(query).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        self.inner.transact(ops).await
    }
}

async fn with_broken_audit(hang: bool) -> App {
    let mut app = app().await;
    app.state.table = Arc::new(BrokenAudit {
        inner: app.state.table.clone(),
        hang,
    });
    app.router = with_fallback(ragenie_auth::router(app.state.clone()));
    app
}

#[tokio::test]
async fn a_failing_audit_store_never_fails_the_action() {
    let app = with_broken_audit(false).await;
    let tokens = app.register("carol@example.com").await;
    let ok = app.login("carol@example.com", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    app.login("carol@example.com", "wrong password!")
        .await
        .problem(401);
    let key = app.create_api_key(&tokens.access, "k").await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.text);
    let out = app
        .post("/auth/logout", json!({"refresh_token": tokens.refresh}))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    assert!(trail(&app, &tokens.access).await.is_empty());
}

#[tokio::test]
async fn a_hanging_audit_store_holds_an_action_up_by_at_most_the_write_timeout() {
    let app = with_broken_audit(true).await;
    app.register("dan@example.com").await;
    let started = Instant::now();
    let ok = app.login("dan@example.com", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let took = started.elapsed();
    assert!(
        took < ragenie_common::audit::WRITE_TIMEOUT + Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test]
async fn problems_name_their_request_as_instance() {
    let app = app().await;
    let r = app.login("nobody@example.com", PASSWORD).await;
    r.problem(401);
    let id = request_id(&r);
    assert_eq!(r.body["instance"], format!("urn:ragenie:request:{id}"));
    let unknown = app.call("GET", "/auth/no-such-route", None, None).await;
    unknown.problem(404);
    assert_eq!(
        unknown.body["instance"],
        format!("urn:ragenie:request:{}", request_id(&unknown))
    );
    let other = app.login("nobody@example.com", PASSWORD).await;
    assert_ne!(request_id(&other), id, "each request has its own id");
}
