//! The auth function through its router on the embedded store: registration, login, the OAuth2
//! token endpoint, refresh rotation and reuse, logout, password change, API keys, forged tokens,
//! throttling and bad input.

mod helpers;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use helpers::{App, PASSWORD, Tokens, app, app_with};
use ragenie_auth::AuthOptions;
use ragenie_common::accounts::UserId;
use ragenie_common::accounts::jwt::{AUDIENCE, ISSUER};
use ragenie_common::accounts::throttle::ThrottlePolicy;
use serde_json::{Value, json};

async fn me(app: &App, bearer: &str) -> helpers::Resp {
    app.call("GET", "/auth/me", Some(bearer), None).await
}

async fn refresh(app: &App, token: &str) -> helpers::Resp {
    app.call(
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

#[tokio::test]
async fn register_returns_201_with_bearer_tokens_and_me_shows_the_account() {
    let app = app().await;
    let tokens = app.register("  Ada.Lovelace@Example.COM ").await;
    let r = me(&app, &tokens.access).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["email"], "ada.lovelace@example.com",
        "emails are normalised"
    );
    assert!(UserId::parse(&r.str("id")).is_some());
    assert!(r.body["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(r.body.get("password_hash").is_none(), "{}", r.text);
    // No credential, or a garbage one: 401 problem+json.
    app.call("GET", "/auth/me", None, None).await.problem(401);
    me(&app, "garbage").await.problem(401);
}

#[tokio::test]
async fn registering_the_same_email_twice_in_any_case_is_a_409() {
    let app = app().await;
    app.register("grace@example.com").await;
    let r = app
        .call(
            "POST",
            "/auth/register",
            None,
            Some(json!({"email": "GRACE@example.com", "password": "another fine passphrase"})),
        )
        .await;
    r.problem(409);
    // The first account is intact.
    assert_eq!(
        app.login("grace@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_create_exactly_one_account() {
    let app = app().await;
    let attempts = (0..4).map(|_| {
        app.call(
            "POST",
            "/auth/register",
            None,
            Some(json!({"email": "race@example.com", "password": PASSWORD})),
        )
    });
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let conflicts = results
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 3));
}

#[tokio::test]
async fn register_refuses_bad_emails_and_weak_passwords_naming_the_field() {
    let app = app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (json!({"email": "a@b", "password": PASSWORD}), "email"),
        (
            json!({"email": format!("{}@example.com", "a".repeat(300)), "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "ok@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "ok@example.com", "password": "password123"}),
            "password",
        ),
        (
            json!({"email": "ok@example.com", "password": "Qwertyuiop"}),
            "password",
        ),
        (
            json!({"email": "ok@example.com", "password": "x".repeat(2000)}),
            "password",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .call("POST", "/auth/register", None, Some(body.clone()))
            .await;
        assert_eq!(r.problem(422).as_deref(), Some(field), "{body}");
    }
}

#[tokio::test]
async fn login_with_the_right_password_returns_tokens_that_work() {
    let app = app().await;
    app.register("alan@example.com").await;
    let r = app.login("ALAN@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let tokens = Tokens::from(&r);
    assert_eq!(
        me(&app, &tokens.access).await.body["email"],
        "alan@example.com"
    );
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer_in_similar_time() {
    let app = app().await;
    app.register("known@example.com").await;
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        let r = app
            .login("known@example.com", &format!("wrong password {i}"))
            .await;
        wrong.push(t.elapsed());
        bodies.push((r.status, r.body["detail"].clone(), r.body["type"].clone()));
        let t = Instant::now();
        let r = app
            .login(
                &format!("nobody{i}@example.com"),
                &format!("wrong password {i}"),
            )
            .await;
        unknown.push(t.elapsed());
        bodies.push((r.status, r.body["detail"].clone(), r.body["type"].clone()));
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(bodies[0].0, StatusCode::UNAUTHORIZED);
    wrong.sort();
    unknown.sort();
    let (w, u) = (wrong[2], unknown[2]);
    // Without the dummy hash an unknown email answers in well under a millisecond.
    assert!(
        u * 4 > w && w * 4 > u,
        "wrong password {w:?} vs unknown email {u:?}"
    );
    assert!(u > Duration::from_millis(5), "{u:?}");
}

#[tokio::test]
async fn the_token_endpoint_speaks_the_oauth2_password_and_refresh_grants() {
    let app = app().await;
    app.register("oauth@example.com").await;
    let form = |body: &str| {
        Request::post("/auth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let r = app
        .send(form("grant_type=password&username=oauth%40example.com&password=correct+horse+battery+staple&scope=&client_id=cli"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let tokens = Tokens::from(&r);
    let r = app
        .send(form(&format!(
            "grant_type=refresh_token&refresh_token={}",
            tokens.refresh
        )))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_ne!(r.str("refresh_token"), tokens.refresh);
    // Wrong password, unsupported grant, missing fields, JSON instead of a form.
    app.send(form(
        "grant_type=password&username=oauth%40example.com&password=nope-nope-nope",
    ))
    .await
    .problem(401);
    assert_eq!(
        app.send(form("grant_type=client_credentials"))
            .await
            .problem(422)
            .as_deref(),
        Some("grant_type")
    );
    assert_eq!(
        app.send(form("grant_type=password&username=oauth%40example.com"))
            .await
            .problem(422)
            .as_deref(),
        Some("password")
    );
    assert_eq!(
        app.send(form("username=x")).await.problem(422).as_deref(),
        Some("grant_type")
    );
    let json = app
        .raw("POST", "/auth/token", None, Some("{}".into()), &[])
        .await;
    json.problem(415);
}

#[tokio::test]
async fn refresh_rotates_and_reusing_an_old_token_revokes_the_whole_family() {
    let app = app().await;
    let first = app.register("rotate@example.com").await;
    let r = refresh(&app, &first.refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = Tokens::from(&r);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(me(&app, &second.access).await.status, StatusCode::OK);
    let third = Tokens::from(&refresh(&app, &second.refresh).await);

    // A second sign-in is a separate family and survives what follows.
    let other_session = Tokens::from(&app.login("rotate@example.com", PASSWORD).await);

    // The first token again: refused, and the family it belongs to is revoked.
    refresh(&app, &first.refresh).await.problem(401);
    refresh(&app, &third.refresh).await.problem(401);
    assert_eq!(
        refresh(&app, &other_session.refresh).await.status,
        StatusCode::OK
    );

    // Garbage is a 401 too, never a 500.
    for bad in [
        "",
        "x",
        "a.b.c",
        &format!("{}.{}", UserId::new(), "A".repeat(43)),
    ] {
        refresh(&app, bad).await.problem(401);
    }
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_unknown_tokens_are_ignored() {
    let app = app().await;
    let tokens = app.register("bye@example.com").await;
    let r = app
        .call(
            "POST",
            "/auth/logout",
            None,
            Some(json!({"refresh_token": tokens.refresh})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    refresh(&app, &tokens.refresh).await.problem(401);
    let r = app
        .call(
            "POST",
            "/auth/logout",
            None,
            Some(json!({"refresh_token": "whatever"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn change_password_revokes_every_refresh_token_and_only_the_new_password_works() {
    let app = app().await;
    let a = app.register("change@example.com").await;
    let b = Tokens::from(&app.login("change@example.com", PASSWORD).await);
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let wrong = app
        .call(
            "POST",
            "/auth/change-password",
            Some(&a.access),
            Some(change("not it at all", "a brand new passphrase")),
        )
        .await;
    wrong.problem(403);
    let weak = app
        .call(
            "POST",
            "/auth/change-password",
            Some(&a.access),
            Some(change(PASSWORD, "password1")),
        )
        .await;
    assert_eq!(weak.problem(422).as_deref(), Some("new_password"));
    let same = app
        .call(
            "POST",
            "/auth/change-password",
            Some(&a.access),
            Some(change(PASSWORD, PASSWORD)),
        )
        .await;
    assert_eq!(same.problem(422).as_deref(), Some("new_password"));

    let r = app
        .call(
            "POST",
            "/auth/change-password",
            Some(&a.access),
            Some(change(PASSWORD, "a brand new passphrase")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let fresh = Tokens::from(&r);
    refresh(&app, &a.refresh).await.problem(401);
    refresh(&app, &b.refresh).await.problem(401);
    assert_eq!(refresh(&app, &fresh.refresh).await.status, StatusCode::OK);
    app.login("change@example.com", PASSWORD).await.problem(401);
    assert_eq!(
        app.login("change@example.com", "a brand new passphrase")
            .await
            .status,
        StatusCode::OK
    );
    // Unauthenticated: 401.
    app.call(
        "POST",
        "/auth/change-password",
        None,
        Some(change(PASSWORD, "x y z w v u")),
    )
    .await
    .problem(401);
}

#[tokio::test]
async fn an_api_key_is_shown_once_listed_without_its_value_works_as_bearer_until_revoked() {
    let app = app().await;
    let tokens = app.register("keys@example.com").await;
    let r = app
        .call(
            "POST",
            "/auth/api-keys",
            Some(&tokens.access),
            Some(json!({"name": "my script"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let key = r.str("key");
    let id = r.str("id");
    assert!(key.starts_with("rg_") && key.len() == 43, "{key}");
    assert!(key.starts_with(&r.str("prefix")));
    assert_eq!(r.body["last_used_at"], Value::Null);

    let list = app
        .call("GET", "/auth/api-keys", Some(&tokens.access), None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(
        !list.text.contains(&key[3..]),
        "the list shows the key: {}",
        list.text
    );
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "my script");
    assert_eq!(items[0]["id"], id.as_str());
    assert!(items[0].get("key").is_none());
    assert_eq!(list.body["next_cursor"], Value::Null);

    // Accepted as a bearer token and as x-api-key; use is recorded.
    let r = me(&app, &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["email"], "keys@example.com");
    let r = app
        .raw("GET", "/auth/me", None, None, &[("x-api-key", &key)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = app
        .call("GET", "/auth/api-keys", Some(&tokens.access), None)
        .await;
    assert!(
        list.body["items"][0]["last_used_at"].as_str().is_some(),
        "{}",
        list.text
    );

    // A key cannot manage keys or the password.
    app.call(
        "POST",
        "/auth/api-keys",
        Some(&key),
        Some(json!({"name": "more"})),
    )
    .await
    .problem(403);
    app.call("GET", "/auth/api-keys", Some(&key), None)
        .await
        .problem(403);
    app.call("DELETE", &format!("/auth/api-keys/{id}"), Some(&key), None)
        .await
        .problem(403);

    // A near miss is refused.
    let mut forged = key.clone();
    forged.pop();
    forged.push(if key.ends_with('a') { 'b' } else { 'a' });
    me(&app, &forged).await.problem(401);

    let r = app
        .call(
            "DELETE",
            &format!("/auth/api-keys/{id}"),
            Some(&tokens.access),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    me(&app, &key).await.problem(401);
    app.call(
        "DELETE",
        &format!("/auth/api-keys/{id}"),
        Some(&tokens.access),
        None,
    )
    .await
    .problem(404);
    app.call(
        "DELETE",
        "/auth/api-keys/not-an-id",
        Some(&tokens.access),
        None,
    )
    .await
    .problem(404);
    let list = app
        .call("GET", "/auth/api-keys", Some(&tokens.access), None)
        .await;
    assert_eq!(list.body["items"], json!([]));
}

#[tokio::test]
async fn api_key_lists_are_paginated() {
    let app = app().await;
    let tokens = app.register("many@example.com").await;
    for i in 0..5 {
        let r = app
            .call(
                "POST",
                "/auth/api-keys",
                Some(&tokens.access),
                Some(json!({"name": format!("k{i}")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let mut names = Vec::new();
    let mut uri = "/auth/api-keys?limit=2".to_owned();
    loop {
        let page = app.call("GET", &uri, Some(&tokens.access), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for item in page.body["items"].as_array().unwrap() {
            names.push(item["name"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => uri = format!("/auth/api-keys?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(names, ["k0", "k1", "k2", "k3", "k4"]);
    for bad in [
        "?limit=0",
        "?limit=1000",
        "?limit=abc",
        "?cursor=zzz",
        "?colour=red",
    ] {
        let r = app
            .call(
                "GET",
                &format!("/auth/api-keys{bad}"),
                Some(&tokens.access),
                None,
            )
            .await;
        r.problem(422);
    }
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn forged_access_tokens_are_refused_tampered_none_alg_other_alg_other_key_and_expired() {
    let app = app().await;
    let tokens = app.register("jwt@example.com").await;
    let user = me(&app, &tokens.access).await.str("id");
    let key = std::fs::read_to_string(app.dir.path().join("secrets/jwt-signing-key")).unwrap();
    let now = ragenie_common::clock::unix_now();
    let claims =
        |exp: i64| json!({"iss": ISSUER, "aud": AUDIENCE, "sub": user, "iat": now, "exp": exp});
    let sign = |alg: jsonwebtoken::Algorithm, secret: &[u8], c: &Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            c,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    // The harness signs like the server: a control that must pass.
    let genuine = sign(
        jsonwebtoken::Algorithm::HS256,
        key.trim().as_bytes(),
        &claims(now + 600),
    );
    assert_eq!(me(&app, &genuine).await.status, StatusCode::OK);

    let parts: Vec<&str> = tokens.access.split('.').collect();
    let mut escalated = claims(now + 600);
    escalated["sub"] = json!(UserId::new().to_string());
    let forged = [
        (
            "tampered payload",
            format!("{}.{}.{}", parts[0], b64(&escalated), parts[2]),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims(now + 600))
            ),
        ),
        (
            "HS512, same key",
            sign(
                jsonwebtoken::Algorithm::HS512,
                key.trim().as_bytes(),
                &claims(now + 600),
            ),
        ),
        (
            "another key",
            sign(
                jsonwebtoken::Algorithm::HS256,
                b"an-entirely-different-signing-key!!",
                &claims(now + 600),
            ),
        ),
        (
            "expired",
            sign(
                jsonwebtoken::Algorithm::HS256,
                key.trim().as_bytes(),
                &claims(now - 120),
            ),
        ),
    ];
    for (what, token) in forged {
        let r = me(&app, &token).await;
        assert_eq!(r.problem(401), None, "{what} was accepted");
    }
}

#[tokio::test]
async fn the_signing_key_is_generated_once_and_survives_a_restart() {
    let app = app().await;
    let tokens = app.register("restart@example.com").await;
    let App { router, state, dir } = app;
    drop((router, state));
    let again = ragenie_common::AppState::connect(ragenie_common::config::Settings::embedded(
        dir.path(),
        "http://127.0.0.1:1",
    ))
    .await
    .unwrap();
    let router = ragenie_common::http::with_fallback(ragenie_auth::router(again.clone()));
    let restarted = App {
        router,
        state: again,
        dir,
    };
    assert_eq!(me(&restarted, &tokens.access).await.status, StatusCode::OK);
    assert_eq!(
        refresh(&restarted, &tokens.refresh).await.status,
        StatusCode::OK
    );
}

fn strict() -> AuthOptions {
    AuthOptions {
        throttle: ThrottlePolicy {
            window_secs: 900,
            max_account_failures: 3,
            max_address_failures: 5,
        },
    }
}

#[tokio::test]
async fn repeated_failures_for_one_account_get_429_with_retry_after_even_with_the_right_password() {
    let app = app_with(strict()).await;
    app.register("target@example.com").await;
    for i in 0..3 {
        app.login_from(
            "target@example.com",
            "guess guess guess",
            &format!("10.0.0.{i}"),
        )
        .await
        .problem(401);
    }
    let r = app
        .login_from("target@example.com", PASSWORD, "10.0.1.1")
        .await;
    r.problem(429);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // The OAuth2 form is throttled alike; other accounts are not.
    let form = Request::post("/auth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "10.0.2.2")
        .body(Body::from("grant_type=password&username=target%40example.com&password=correct+horse+battery+staple"))
        .unwrap();
    app.send(form).await.problem(429);
    app.register("bystander@example.com").await;
    assert_eq!(
        app.login_from("bystander@example.com", PASSWORD, "10.0.3.3")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn repeated_failures_from_one_address_get_429_across_accounts() {
    let app = app_with(strict()).await;
    app.register("victim@example.com").await;
    for i in 0..5 {
        app.login_from(
            &format!("probe{i}@example.com"),
            "guess guess guess",
            "203.0.113.9, 10.0.0.1",
        )
        .await
        .problem(401);
    }
    let r = app
        .login_from("victim@example.com", PASSWORD, "203.0.113.9")
        .await;
    r.problem(429);
    assert!(r.headers.contains_key("retry-after"));
    // Another address signs in fine.
    assert_eq!(
        app.login_from("victim@example.com", PASSWORD, "198.51.100.7")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem_naming_the_field_never_a_500() {
    let app = app().await;
    let tokens = app.register("input@example.com").await;
    let auth = Some(tokens.access.as_str());
    let huge = format!(
        "{{\"email\":\"a@b.co\",\"password\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    // (method, uri, bearer, body, status, field)
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        String,
        u16,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/auth/register",
            None,
            "{\"email\": ".into(),
            400,
            None,
        ),
        (
            "POST",
            "/auth/register",
            None,
            "[]".into(),
            422,
            Some("body"),
        ),
        (
            "POST",
            "/auth/register",
            None,
            json!({"email": 5, "password": PASSWORD}).to_string(),
            422,
            Some("email"),
        ),
        (
            "POST",
            "/auth/register",
            None,
            json!({"password": PASSWORD}).to_string(),
            422,
            Some("email"),
        ),
        (
            "POST",
            "/auth/register",
            None,
            json!({"email": "a@b.co", "password": PASSWORD, "admin": true}).to_string(),
            422,
            Some("admin"),
        ),
        ("POST", "/auth/register", None, huge.clone(), 413, None),
        (
            "POST",
            "/auth/login",
            None,
            json!({"email": "a@b.co"}).to_string(),
            422,
            Some("password"),
        ),
        (
            "POST",
            "/auth/login",
            None,
            json!({"email": "nope", "password": "whatever"}).to_string(),
            422,
            Some("email"),
        ),
        (
            "POST",
            "/auth/login",
            None,
            json!({"email": ["a@b.co"], "password": "x"}).to_string(),
            422,
            Some("email"),
        ),
        (
            "POST",
            "/auth/refresh",
            None,
            json!({"refresh_token": 42}).to_string(),
            422,
            Some("refresh_token"),
        ),
        (
            "POST",
            "/auth/refresh",
            None,
            json!({}).to_string(),
            422,
            Some("refresh_token"),
        ),
        ("POST", "/auth/logout", None, "nonsense".into(), 400, None),
        (
            "POST",
            "/auth/change-password",
            auth,
            json!({"current_password": PASSWORD}).to_string(),
            422,
            Some("new_password"),
        ),
        (
            "POST",
            "/auth/change-password",
            auth,
            json!({"current_password": PASSWORD, "new_password": null}).to_string(),
            422,
            Some("new_password"),
        ),
        (
            "POST",
            "/auth/api-keys",
            auth,
            json!({"name": ""}).to_string(),
            422,
            Some("name"),
        ),
        (
            "POST",
            "/auth/api-keys",
            auth,
            json!({"name": "n".repeat(101)}).to_string(),
            422,
            Some("name"),
        ),
        (
            "POST",
            "/auth/api-keys",
            auth,
            json!({"name": "ok", "scopes": []}).to_string(),
            422,
            Some("scopes"),
        ),
        (
            "POST",
            "/auth/api-keys",
            auth,
            json!({"name": true}).to_string(),
            422,
            Some("name"),
        ),
        ("POST", "/auth/api-keys", auth, huge, 413, None),
    ];
    for (method, uri, bearer, body, status, field) in cases {
        let r = app.raw(method, uri, bearer, Some(body), &[]).await;
        let got = r.problem(status);
        if field.is_some() {
            assert_eq!(got.as_deref(), field, "{method} {uri}: {}", r.text);
        }
    }
    // Wrong content type and wrong method.
    let r = app
        .send(
            Request::post("/auth/login")
                .header("content-type", "text/plain")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    r.problem(415);
    app.call("GET", "/auth/login", None, None)
        .await
        .problem(405);
    app.call("GET", "/auth/nowhere", None, None)
        .await
        .problem(404);
}
