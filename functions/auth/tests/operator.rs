//! Operator control through the auth function's router: the first account is admin, the
//! registration policies (open, approval, invite, closed), `RAGENIE_ADMINS`, suspension that
//! locks sessions and API keys out at the next request, and the admin API — which refuses
//! everyone but admins on every route.

mod helpers;

use axum::http::StatusCode;
use helpers::{App, PASSWORD, Tokens, app, app_configured};
use ragenie_auth::AuthOptions;
use ragenie_common::accounts::UserId;
use ragenie_common::accounts::operator::RegistrationPolicy;
use ragenie_common::accounts::users;
use ragenie_common::clock;
use ragenie_common::testing;
use serde_json::{Value, json};

async fn policy_app(policy: RegistrationPolicy, admins: &[&str]) -> App {
    let admins: Vec<String> = admins.iter().map(|a| a.to_string()).collect();
    app_configured(AuthOptions::default(), move |s| {
        s.operator.registration = policy;
        s.operator.admins = admins;
    })
    .await
}

async fn register(app: &App, email: &str, invite: Option<&str>) -> helpers::Resp {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(invite) = invite {
        body["invite"] = json!(invite);
    }
    app.post("/auth/register", body).await
}

async fn me(app: &App, bearer: &str) -> helpers::Resp {
    app.get("/auth/me", bearer).await
}

/// The user's id and a new personal API key of theirs.
async fn id_and_key(app: &App, user: &Tokens) -> (String, String) {
    let id = me(app, &user.access).await.str("id");
    let key = app.create_api_key(&user.access, "script").await.str("key");
    (id, key)
}

fn problem_type(r: &helpers::Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_first_account_is_admin_and_the_second_waits_for_approval_until_an_admin_approves() {
    let app = policy_app(RegistrationPolicy::Approval, &[]).await;
    let admin = app.register("first@example.com").await;
    let r = me(&app, &admin.access).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["status"], "active");

    // The second registers and gets tokens, but they only say that the account waits.
    let second = Tokens::from(&register(&app, "second@example.com", None).await);
    let r = me(&app, &second.access).await;
    r.problem(403);
    assert!(problem_type(&r).ends_with("account-pending"), "{}", r.text);
    let r = app.get("/auth/api-keys", &second.access).await;
    r.problem(403);
    // Signing in again works (to see the waiting screen), and still only shows that.
    let login = app.login("second@example.com", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert!(problem_type(&me(&app, &login.str("access_token")).await).ends_with("account-pending"));

    // The admin sees it pending and approves it.
    let list = app.get("/admin/users?status=pending", &admin.access).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", list.text);
    assert_eq!(items[0]["email"], "second@example.com");
    assert_eq!(items[0]["role"], "user");
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let r = app
        .admin_update(&admin.access, &id, json!({"status": "active"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "active");
    let r = me(&app, &second.access).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role"], "user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_sign_ups_make_exactly_one_admin() {
    let app = policy_app(RegistrationPolicy::Approval, &[]).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let router = app.router.clone();
            tokio::spawn(async move {
                let body = json!({"email": format!("racer{i}@example.com"), "password": PASSWORD});
                let request =
                    testing::request("POST", "/auth/register", None, Some(body.to_string()), &[]);
                let response = testing::oneshot(&router, request).await;
                assert_eq!(response.status, StatusCode::CREATED);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut admins = 0;
    let mut pending = 0;
    for i in 0..8 {
        let id = users::id_for_email(app.state.table.as_ref(), &format!("racer{i}@example.com"))
            .await
            .unwrap()
            .unwrap();
        let user = users::get(app.state.table.as_ref(), id).await.unwrap();
        match (
            serde_json::to_value(user.role).unwrap(),
            serde_json::to_value(user.status).unwrap(),
        ) {
            (r, s) if r == "admin" && s == "active" => admins += 1,
            (r, s) if r == "user" && s == "pending" => pending += 1,
            other => panic!("unexpected standing {other:?}"),
        }
    }
    assert_eq!((admins, pending), (1, 7));
}

#[tokio::test]
async fn every_admin_route_refuses_users_with_403_and_strangers_with_401() {
    let app = app().await;
    let admin = app.register("admin@example.com").await;
    let user = app.register("user@example.com").await;
    let (user_id, key) = id_and_key(&app, &user).await;
    let other = app.register("other@example.com").await;
    let other_id = me(&app, &other.access).await.str("id");
    let invite_id = app
        .json("POST", "/admin/invites", &admin.access, json!({}))
        .await
        .str("id");
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/admin/users".into(), None),
        ("GET", format!("/admin/users/{user_id}"), None),
        (
            "PATCH",
            format!("/admin/users/{user_id}"),
            Some(json!({"monthly_quota_usd": 1.0})),
        ),
        ("GET", "/admin/settings".into(), None),
        (
            "PUT",
            "/admin/settings".into(),
            Some(
                json!({"registration": "open", "default_monthly_quota_usd": null,
                        "requests_per_minute": 60, "max_concurrent_answers": 3}),
            ),
        ),
        ("POST", "/admin/invites".into(), Some(json!({}))),
        ("GET", "/admin/invites".into(), None),
        ("DELETE", format!("/admin/invites/{invite_id}"), None),
        ("GET", "/admin/usage".into(), None),
        (
            "POST",
            format!("/admin/users/{user_id}/password-reset"),
            None,
        ),
        // Last: the admin's call deletes the account.
        ("DELETE", format!("/admin/users/{other_id}"), None),
    ];
    for (method, path, body) in &routes {
        for bearer in [&user.access, &key] {
            let r = app.call(method, path, Some(bearer), body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {path}: {}",
                r.text
            );
            r.problem(403);
        }
        let r = app.call(method, path, None, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        // The admin gets through (a 2xx), so the 403 above was about the role.
        let r = app
            .call(method, path, Some(&admin.access), body.clone())
            .await;
        assert!(r.status.is_success(), "{method} {path}: {}", r.text);
    }
    // Made an admin, the user's key gets in too.
    let r = app
        .admin_update(&admin.access, &user_id, json!({"role": "admin"}))
        .await;
    assert_eq!(r.body["role"], "admin", "{}", r.text);
    let r = app.get("/admin/users", &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_suspended_user_is_locked_out_at_the_next_request_sessions_and_keys_alike() {
    let app = app().await;
    let admin = app.register("admin@example.com").await;
    let user = app.register("user@example.com").await;
    let (user_id, key) = id_and_key(&app, &user).await;
    assert_eq!(me(&app, &key).await.status, StatusCode::OK);

    let r = app
        .admin_update(&admin.access, &user_id, json!({"status": "suspended"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for bearer in [&user.access, &key] {
        let r = me(&app, bearer).await;
        r.problem(403);
        assert!(
            problem_type(&r).ends_with("account-suspended"),
            "{}",
            r.text
        );
    }
    // Nor can it sign in again or refresh its session.
    app.login("user@example.com", PASSWORD).await.problem(403);
    let r = app
        .post("/auth/refresh", json!({"refresh_token": user.refresh}))
        .await;
    r.problem(401);

    // Reactivated, it signs in again.
    let r = app
        .admin_update(&admin.access, &user_id, json!({"status": "active"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let login = app.login("user@example.com", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert_eq!(me(&app, &key).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_cannot_suspend_or_demote_themselves() {
    let app = app().await;
    let admin = app.register("admin@example.com").await;
    let id = me(&app, &admin.access).await.str("id");
    for change in [json!({"status": "suspended"}), json!({"role": "user"})] {
        let r = app.admin_update(&admin.access, &id, change).await;
        r.problem(409);
    }
    let r = app
        .admin_update(&admin.access, &UserId::new(), json!({"status": "active"}))
        .await;
    r.problem(404);
    let r = app
        .admin_update(&admin.access, &id, json!({"status": "pending"}))
        .await;
    r.problem(422);
}

#[tokio::test]
async fn invites_are_single_use_and_expire() {
    let app = policy_app(RegistrationPolicy::Invite, &[]).await;
    let admin = app.register("admin@example.com").await;
    let r = register(&app, "nobody@example.com", None).await;
    assert_eq!(r.problem(422).as_deref(), Some("invite"));
    let r = register(&app, "nobody@example.com", Some("made-up")).await;
    assert_eq!(r.problem(422).as_deref(), Some("invite"));

    let invite = app
        .json(
            "POST",
            "/admin/invites",
            &admin.access,
            json!({"expires_in_hours": 1}),
        )
        .await;
    assert_eq!(invite.status, StatusCode::CREATED, "{}", invite.text);
    let token = invite.str("token");
    let listed = app.get("/admin/invites", &admin.access).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let r = register(&app, "guest@example.com", Some(&token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let guest = Tokens::from(&r);
    assert_eq!(me(&app, &guest.access).await.body["status"], "active");
    // Used up.
    let r = register(&app, "second-guest@example.com", Some(&token)).await;
    assert_eq!(r.problem(422).as_deref(), Some("invite"));
    let listed = app.get("/admin/invites", &admin.access).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0);

    // Bad expiries are refused.
    let r = app
        .json(
            "POST",
            "/admin/invites",
            &admin.access,
            json!({"expires_in_hours": 0}),
        )
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("expires_in_hours"));
    // An invite past its expiry does not work.
    let late = app
        .json(
            "POST",
            "/admin/invites",
            &admin.access,
            json!({"expires_in_hours": 1}),
        )
        .await
        .str("token");
    let _later = clock::testing::freeze(
        clock::Timestamp::from_unix_seconds(clock::unix_now() + 2 * 3600).unwrap(),
    );
    let r = register(&app, "late@example.com", Some(&late)).await;
    assert_eq!(r.problem(422).as_deref(), Some("invite"));
}

#[tokio::test]
async fn a_revoked_invite_no_longer_works() {
    let app = policy_app(RegistrationPolicy::Invite, &[]).await;
    let admin = app.register("admin@example.com").await;
    let invite = app
        .json("POST", "/admin/invites", &admin.access, json!({}))
        .await;
    let (id, token) = (invite.str("id"), invite.str("token"));
    let path = format!("/admin/invites/{id}");
    let r = app.delete(&path, &admin.access).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let listed = app.get("/admin/invites", &admin.access).await;
    assert_eq!(listed.body["items"], json!([]), "{}", listed.text);
    let r = register(&app, "guest@example.com", Some(&token)).await;
    assert_eq!(r.problem(422).as_deref(), Some("invite"));
    app.delete(&path, &admin.access).await.problem(404);
}

#[tokio::test]
async fn an_admins_reset_link_sets_a_new_password_once_and_ends_the_users_sessions() {
    let app = app().await;
    let admin = app.register("admin@example.com").await;
    let user = app.register("user@example.com").await;
    let id = me(&app, &user.access).await.str("id");
    let r = app
        .call(
            "POST",
            &format!("/admin/users/{id}/password-reset"),
            Some(&admin.access),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let link = r.str("link");
    let (origin, token) = link.split_once("/reset-password#token=").unwrap();
    assert_eq!(origin, app.state.settings.public_url, "{link}");
    let expires = r.body["expires_at"].as_i64().unwrap();
    assert!(
        (expires - clock::unix_now() - 30 * 60).abs() <= 5,
        "{expires}"
    );

    let confirm = json!({"token": token, "new_password": "a brand new passphrase"});
    let r = app
        .post("/auth/password-reset/confirm", confirm.clone())
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app
        .post("/auth/refresh", json!({"refresh_token": user.refresh}))
        .await;
    r.problem(401);
    let r = app
        .login("user@example.com", "a brand new passphrase")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Once only.
    app.post("/auth/password-reset/confirm", confirm)
        .await
        .problem(401);
    app.call(
        "POST",
        &format!("/admin/users/{}/password-reset", UserId::new()),
        Some(&admin.access),
        None,
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn an_admin_deletes_an_account_and_everything_it_owns_but_not_their_own() {
    let app = app().await;
    let admin = app.register("admin@example.com").await;
    let admin_id = me(&app, &admin.access).await.str("id");
    let user = app.register("user@example.com").await;
    let (id, key) = id_and_key(&app, &user).await;
    let r = app
        .delete(&format!("/admin/users/{id}"), &admin.access)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["removed"]["api_keys"], 1, "{}", r.text);
    assert_eq!(me(&app, &key).await.status, StatusCode::UNAUTHORIZED);
    app.login("user@example.com", PASSWORD).await.problem(401);
    app.get(&format!("/admin/users/{id}"), &admin.access)
        .await
        .problem(404);
    app.delete(&format!("/admin/users/{id}"), &admin.access)
        .await
        .problem(404);
    // Their own account: in Settings, with the password.
    app.delete(&format!("/admin/users/{admin_id}"), &admin.access)
        .await
        .problem(409);
    assert_eq!(me(&app, &admin.access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn closed_registration_refuses_everyone_but_the_admins_configuration_names() {
    let app = policy_app(RegistrationPolicy::Closed, &["boss@example.com"]).await;
    // The very first account still becomes admin (someone must run the deployment).
    app.register("first@example.com").await;
    register(&app, "someone@example.com", None)
        .await
        .problem(403);
    let boss = Tokens::from(&register(&app, "Boss@Example.com", None).await);
    let r = me(&app, &boss.access).await;
    assert_eq!(r.body["role"], "admin", "{}", r.text);
}

#[tokio::test]
async fn settings_are_stored_by_admins_and_checked() {
    let app = policy_app(RegistrationPolicy::Approval, &[]).await;
    let admin = app.register("admin@example.com").await;
    let r = app.get("/admin/settings", &admin.access).await;
    assert_eq!(r.body["registration"], "approval", "{}", r.text);
    assert_eq!(r.body["max_concurrent_answers"], 3);
    let open = json!({"registration": "open", "default_monthly_quota_usd": 5.0,
                      "requests_per_minute": 10, "max_concurrent_answers": 2});
    let r = app
        .json("PUT", "/admin/settings", &admin.access, open)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Now a new account is active at once.
    let user = Tokens::from(&register(&app, "user@example.com", None).await);
    assert_eq!(me(&app, &user.access).await.status, StatusCode::OK);
    for (field, bad) in [
        ("requests_per_minute", json!(0)),
        ("max_concurrent_answers", json!(1000)),
        ("default_monthly_quota_usd", json!(-1.0)),
    ] {
        let mut body = json!({"registration": "open", "default_monthly_quota_usd": null,
                              "requests_per_minute": 10, "max_concurrent_answers": 2});
        body[field] = bad;
        let r = app
            .json("PUT", "/admin/settings", &admin.access, body)
            .await;
        assert_eq!(r.problem(422).as_deref(), Some(field), "{}", r.text);
    }
    let r = app
        .json(
            "PUT",
            "/admin/settings",
            &admin.access,
            json!({"registration": "sometimes", "default_monthly_quota_usd": null,
                        "requests_per_minute": 10, "max_concurrent_answers": 2}),
        )
        .await;
    r.problem(422);
}

#[tokio::test]
async fn the_admin_sets_a_users_quota_and_searches_users() {
    let app = app().await;
    let admin = app.register("admin@example.com").await;
    app.register("ada@example.com").await;
    app.register("grace@example.com").await;
    let r = app.get("/admin/users?q=ADA", &admin.access).await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", r.text);
    assert_eq!(items[0]["month"]["spent_usd"], 0.0);
    assert_eq!(items[0]["monthly_quota_usd"], Value::Null);
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let r = app
        .admin_update(&admin.access, &id, json!({"monthly_quota_usd": 2.5}))
        .await;
    assert_eq!(r.body["monthly_quota_usd"], 2.5, "{}", r.text);
    let r = app
        .admin_update(&admin.access, &id, json!({"monthly_quota_usd": -3}))
        .await;
    assert_eq!(r.problem(422).as_deref(), Some("monthly_quota_usd"));
    let r = app
        .admin_update(&admin.access, &id, json!({"monthly_quota_usd": null}))
        .await;
    assert_eq!(r.body["monthly_quota_usd"], Value::Null, "{}", r.text);
    // Paging with a page size of 1 walks every account once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/admin/users?limit=1&cursor={c}"),
            None => "/admin/users?limit=1".into(),
        };
        let r = app.get(&uri, &admin.access).await;
        for i in r.body["items"].as_array().unwrap() {
            seen.push(i["email"].as_str().unwrap().to_owned());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["admin@example.com", "ada@example.com", "grace@example.com"]
    );
}

#[tokio::test]
async fn the_usage_totals_add_up_across_users_by_day_and_model() {
    let app = app().await;
    let admin = app.register("admin@example.com").await;
    let table = app.state.table.as_ref();
    use ragenie_common::accounts::limits::{UsageKind, record_operator_usage};
    record_operator_usage(table, UsageKind::Chat, "gpt-4o", 100, 20, 0.5, false)
        .await
        .unwrap();
    record_operator_usage(table, UsageKind::Chat, "gpt-4o", 10, 2, 0.25, false)
        .await
        .unwrap();
    record_operator_usage(table, UsageKind::Chat, "local/llama", 10, 2, 0.0, true)
        .await
        .unwrap();
    let r = app.get("/admin/usage", &admin.access).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total_answers"], 3);
    assert_eq!(r.body["total_cost_usd"], 0.75);
    let days = r.body["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    let gpt = days.iter().find(|d| d["model"] == "gpt-4o").unwrap();
    assert_eq!(gpt["input_tokens"], 110);
    let llama = days.iter().find(|d| d["model"] == "local/llama").unwrap();
    assert_eq!(llama["unpriced_answers"], 1);
    let r = app.get("/admin/usage?from=2026-13-01", &admin.access).await;
    assert_eq!(r.problem(422).as_deref(), Some("from"));
}

#[tokio::test]
async fn an_admin_sets_and_lifts_a_users_allowed_models_without_touching_their_quota() {
    let app = app().await;
    let admin = app.register("admin@example.com").await;
    let user = app.register("user@example.com").await;
    let (user_id, _) = id_and_key(&app, &user).await;
    let path = format!("/admin/users/{user_id}");
    let patch = |body: Value| app.call("PATCH", &path, Some(&admin.access), Some(body));
    let r = patch(json!({"monthly_quota_usd": 3.0})).await;
    assert_eq!(r.body["allowed_models"], Value::Null, "{}", r.text);
    let r = patch(json!({"allowed_models": ["gpt-4.1", "llama3.1"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["allowed_models"], json!(["gpt-4.1", "llama3.1"]));
    assert_eq!(r.body["monthly_quota_usd"], 3.0, "the quota stays");
    let read = app.get(&path, &admin.access).await;
    assert_eq!(read.body["allowed_models"], json!(["gpt-4.1", "llama3.1"]));
    patch(json!({"allowed_models": [" gpt-4.1"]}))
        .await
        .problem(422);
    let r = patch(json!({"allowed_models": null})).await;
    assert_eq!(
        r.body["allowed_models"],
        Value::Null,
        "null lifts the restriction"
    );
    assert_eq!(r.body["monthly_quota_usd"], 3.0);
}
