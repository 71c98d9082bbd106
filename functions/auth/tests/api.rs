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
use ragenie_common::accounts::throttle::{Budget, ThrottlePolicy};
use serde_json::{Value, json};

async fn me(app: &App, bearer: &str) -> helpers::Resp {
    app.get("/auth/me", bearer).await
}

async fn refresh(app: &App, token: &str) -> helpers::Resp {
    app.post("/auth/refresh", json!({"refresh_token": token}))
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
        .post(
            "/auth/register",
            json!({"email": "GRACE@example.com", "password": "another fine passphrase"}),
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
        let r = app.post("/auth/register", body.clone()).await;
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
        .post("/auth/logout", json!({"refresh_token": tokens.refresh}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    refresh(&app, &tokens.refresh).await.problem(401);
    let r = app
        .post("/auth/logout", json!({"refresh_token": "whatever"}))
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
        .json(
            "POST",
            "/auth/change-password",
            &a.access,
            change("not it at all", "a brand new passphrase"),
        )
        .await;
    wrong.problem(403);
    let weak = app
        .json(
            "POST",
            "/auth/change-password",
            &a.access,
            change(PASSWORD, "password1"),
        )
        .await;
    assert_eq!(weak.problem(422).as_deref(), Some("new_password"));
    let same = app
        .json(
            "POST",
            "/auth/change-password",
            &a.access,
            change(PASSWORD, PASSWORD),
        )
        .await;
    assert_eq!(same.problem(422).as_deref(), Some("new_password"));

    let r = app
        .json(
            "POST",
            "/auth/change-password",
            &a.access,
            change(PASSWORD, "a brand new passphrase"),
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
    app.post("/auth/change-password", change(PASSWORD, "x y z w v u"))
        .await
        .problem(401);
}

#[tokio::test]
async fn an_api_key_is_shown_once_listed_without_its_value_works_as_bearer_until_revoked() {
    let app = app().await;
    let tokens = app.register("keys@example.com").await;
    let r = app.create_api_key(&tokens.access, "my script").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let key = r.str("key");
    let id = r.str("id");
    assert!(key.starts_with("rg_") && key.len() == 43, "{key}");
    assert!(key.starts_with(&r.str("prefix")));
    assert_eq!(r.body["last_used_at"], Value::Null);

    let list = app.get("/auth/api-keys", &tokens.access).await;
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
    let list = app.get("/auth/api-keys", &tokens.access).await;
    assert!(
        list.body["items"][0]["last_used_at"].as_str().is_some(),
        "{}",
        list.text
    );

    // A key cannot manage keys or the password.
    app.create_api_key(&key, "more").await.problem(403);
    app.get("/auth/api-keys", &key).await.problem(403);
    app.delete(&format!("/auth/api-keys/{id}"), &key)
        .await
        .problem(403);

    // A near miss is refused.
    let mut forged = key.clone();
    forged.pop();
    forged.push(if key.ends_with('a') { 'b' } else { 'a' });
    me(&app, &forged).await.problem(401);

    let r = app
        .delete(&format!("/auth/api-keys/{id}"), &tokens.access)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    me(&app, &key).await.problem(401);
    app.delete(&format!("/auth/api-keys/{id}"), &tokens.access)
        .await
        .problem(404);
    app.delete("/auth/api-keys/not-an-id", &tokens.access)
        .await
        .problem(404);
    let list = app.get("/auth/api-keys", &tokens.access).await;
    assert_eq!(list.body["items"], json!([]));
}

#[tokio::test]
async fn api_key_lists_are_paginated() {
    let app = app().await;
    let tokens = app.register("many@example.com").await;
    for i in 0..5 {
        let r = app.create_api_key(&tokens.access, format!("k{i}")).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let mut names = Vec::new();
    let mut uri = "/auth/api-keys?limit=2".to_owned();
    loop {
        let page = app.get(&uri, &tokens.access).await;
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
            .get(&format!("/auth/api-keys{bad}"), &tokens.access)
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
    let budget = |max| Budget {
        window_secs: 900,
        max,
    };
    AuthOptions {
        throttle: ThrottlePolicy {
            account_address: budget(3),
            address: budget(5),
            account: budget(6),
            registrations: budget(20),
            ..ThrottlePolicy::default()
        },
        ..AuthOptions::default()
    }
}

#[tokio::test]
async fn repeated_failures_from_one_address_get_429_but_the_owner_elsewhere_signs_in() {
    let app = app_with(strict()).await;
    app.register("target@example.com").await;
    for _ in 0..3 {
        app.login_from("target@example.com", "guess guess guess", "10.0.0.1")
            .await
            .problem(401);
    }
    let r = app
        .login_from("target@example.com", PASSWORD, "10.0.0.1")
        .await;
    r.problem(429);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // The owner, from another address, is not locked out by the guesser.
    assert_eq!(
        app.login_from("target@example.com", PASSWORD, "192.0.2.44")
            .await
            .status,
        StatusCode::OK
    );
    // The OAuth2 form is throttled alike for the guesser's address.
    let form = Request::post("/auth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [10, 0, 0, 1],
            1234,
        ))))
        .body(Body::from("grant_type=password&username=target%40example.com&password=correct+horse+battery+staple"))
        .unwrap();
    app.send(form).await.problem(429);
}

#[tokio::test]
async fn a_guesser_rotating_addresses_hits_the_per_account_budget() {
    let app = app_with(strict()).await;
    app.register("target@example.com").await;
    for i in 0..6 {
        app.login_from(
            "target@example.com",
            "guess guess guess",
            &format!("10.0.1.{i}"),
        )
        .await
        .problem(401);
    }
    app.login_from("target@example.com", "guess guess guess", "10.0.1.99")
        .await
        .problem(429);
    app.register("bystander@example.com").await;
    assert_eq!(
        app.login_from("bystander@example.com", PASSWORD, "10.0.1.99")
            .await
            .status,
        StatusCode::OK
    );
}

/// `X-Forwarded-For` is written by the client: a fresh value per guess must not buy a fresh
/// budget, and the owner's address written into it must not get the owner throttled.
#[tokio::test]
async fn a_client_written_x_forwarded_for_neither_dodges_nor_redirects_the_throttle() {
    let app = app_with(strict()).await;
    app.register("target@example.com").await;
    for i in 0..3 {
        let forged = format!("198.51.100.{i}");
        app.login_with(
            "target@example.com",
            "guess guess guess",
            "203.0.113.9",
            &[("x-forwarded-for", forged.as_str())],
        )
        .await
        .problem(401);
    }
    app.login_with(
        "target@example.com",
        "guess guess guess",
        "203.0.113.9",
        &[("x-forwarded-for", "198.51.100.200")],
    )
    .await
    .problem(429);
    // The forged addresses were never charged: the owner at 198.51.100.0 signs in.
    assert_eq!(
        app.login_from("target@example.com", PASSWORD, "198.51.100.0")
            .await
            .status,
        StatusCode::OK
    );
}

/// Behind CloudFront every request's socket is CloudFront's; the viewer's address is the
/// `CloudFront-Viewer-Address` CloudFront sets.
#[tokio::test]
async fn behind_cloudfront_the_viewer_address_is_counted() {
    let app = app_with(strict()).await;
    app.register("target@example.com").await;
    for _ in 0..3 {
        app.login_with(
            "target@example.com",
            "guess guess guess",
            "10.9.9.9",
            &[("cloudfront-viewer-address", "203.0.113.9:51000")],
        )
        .await
        .problem(401);
    }
    app.login_with(
        "target@example.com",
        PASSWORD,
        "10.9.9.9",
        &[("cloudfront-viewer-address", "203.0.113.9:51001")],
    )
    .await
    .problem(429);
    // Another viewer through the same CloudFront edge is not affected.
    let ok = app
        .login_with(
            "target@example.com",
            PASSWORD,
            "10.9.9.9",
            &[("cloudfront-viewer-address", "2001:db8::7:443")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

#[tokio::test]
async fn repeated_failures_from_one_address_get_429_across_accounts() {
    let app = app_with(strict()).await;
    app.register("victim@example.com").await;
    for i in 0..5 {
        app.login_from(
            &format!("probe{i}@example.com"),
            "guess guess guess",
            "203.0.113.9",
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

/// Parallel guesses all passed the old check before any failure was recorded.
#[tokio::test]
async fn parallel_guesses_cannot_exceed_the_budget() {
    let app = std::sync::Arc::new(app_with(strict()).await);
    app.register("target@example.com").await;
    let guesses: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.login_from("target@example.com", "guess guess guess", "10.0.0.1")
                    .await
                    .status
            })
        })
        .collect();
    let mut checked = 0;
    for g in guesses {
        if g.await.unwrap() == StatusCode::UNAUTHORIZED {
            checked += 1;
        }
    }
    assert_eq!(
        checked, 3,
        "only the budget's worth of passwords were checked"
    );
}

#[tokio::test]
async fn registrations_from_one_address_are_throttled() {
    let mut options = strict();
    options.throttle.registrations = Budget {
        window_secs: 3600,
        max: 2,
    };
    let app = app_with(options).await;
    let from = |email: &str| {
        Request::post("/auth/register")
            .header("content-type", "application/json")
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [203, 0, 113, 5],
                1,
            ))))
            .body(Body::from(
                json!({"email": email, "password": PASSWORD}).to_string(),
            ))
            .unwrap()
    };
    assert_eq!(
        app.send(from("a@example.com")).await.status,
        StatusCode::CREATED
    );
    // Probing for an existing email uses the same budget.
    app.send(from("a@example.com")).await.problem(409);
    app.send(from("c@example.com")).await.problem(429);
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

fn with_mailer() -> (
    AuthOptions,
    std::sync::Arc<ragenie_common::mail::MemoryMailer>,
) {
    let mailer = std::sync::Arc::new(ragenie_common::mail::MemoryMailer::default());
    let options = AuthOptions {
        mailer: Some(mailer.clone()),
        ..AuthOptions::default()
    };
    (options, mailer)
}

fn token_in(mail: &ragenie_common::mail::Mail) -> String {
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/reset-password#token="))
        .unwrap_or_else(|| panic!("no link in {}", mail.text));
    assert!(
        link.starts_with("http://127.0.0.1:1/reset-password#token="),
        "{link}"
    );
    link.split_once("#token=").unwrap().1.to_owned()
}

#[tokio::test]
async fn a_reset_link_is_mailed_only_to_an_existing_account_and_the_answer_does_not_tell() {
    let (options, mailer) = with_mailer();
    let app = app_with(options).await;
    app.register("ada@example.com").await;
    let known = app
        .post(
            "/auth/password-reset",
            json!({"email": " Ada@Example.com "}),
        )
        .await;
    let unknown = app
        .post(
            "/auth/password-reset",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let sent = mailer.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "ada@example.com");
    // Only its hash is stored.
    let token = token_in(&sent[0]);
    let secret = token.split_once('.').unwrap().1;
    let user = UserId::parse(token.split_once('.').unwrap().0).unwrap();
    let items = app
        .state
        .table
        .query(ragenie_common::storage::Query::partition(format!("USER#{user}")).limit(100))
        .await
        .unwrap();
    assert!(
        items
            .items
            .iter()
            .all(|i| !format!("{i:?}").contains(secret)),
        "the token is stored hashed"
    );
    app.post("/auth/password-reset", json!({"email": "not-an-email"}))
        .await
        .problem(422);
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_and_signs_out_every_session() {
    let (options, mailer) = with_mailer();
    let app = app_with(options).await;
    let before = app.register("ada@example.com").await;
    app.post("/auth/password-reset", json!({"email": "ada@example.com"}))
        .await;
    let token = token_in(&mailer.sent.lock().unwrap()[0]);
    let new_password = "a completely new passphrase";
    app.post(
        "/auth/password-reset/confirm",
        json!({"token": token, "new_password": "short"}),
    )
    .await
    .problem(422);
    let done = app
        .post(
            "/auth/password-reset/confirm",
            json!({"token": token, "new_password": new_password}),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text);
    app.login("ada@example.com", PASSWORD).await.problem(401);
    assert_eq!(
        app.login("ada@example.com", new_password).await.status,
        StatusCode::OK
    );
    refresh(&app, &before.refresh).await.problem(401);
    // Used once: the same link again is refused.
    app.post(
        "/auth/password-reset/confirm",
        json!({"token": token, "new_password": "yet another passphrase"}),
    )
    .await
    .problem(401);
    // A forged token for the same account is refused.
    let forged = format!("{}.{}", token.split_once('.').unwrap().0, "A".repeat(43));
    app.post(
        "/auth/password-reset/confirm",
        json!({"token": forged, "new_password": "yet another passphrase"}),
    )
    .await
    .problem(401);
}

#[tokio::test]
async fn an_expired_reset_link_is_refused() {
    let (options, mailer) = with_mailer();
    let app = app_with(options).await;
    app.register("ada@example.com").await;
    app.post("/auth/password-reset", json!({"email": "ada@example.com"}))
        .await;
    let token = token_in(&mailer.sent.lock().unwrap()[0]);
    let user = token.split_once('.').unwrap().0.to_owned();
    let table = &app.state.table;
    let page = table
        .query(
            ragenie_common::storage::Query::partition(format!("USER#{user}"))
                .prefix("PWRESET#")
                .limit(10),
        )
        .await
        .unwrap();
    let item = &page.items[0];
    // 31 minutes later.
    table
        .update(
            &item.pk,
            &item.sk,
            ragenie_common::storage::Update::new().set(
                "expires_at",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64
                    - 60,
            ),
            ragenie_common::storage::Condition::Exists,
        )
        .await
        .unwrap();
    app.post(
        "/auth/password-reset/confirm",
        json!({"token": token, "new_password": "a completely new passphrase"}),
    )
    .await
    .problem(401);
}

#[tokio::test]
async fn reset_mails_to_one_address_are_capped_silently() {
    let (options, mailer) = with_mailer();
    let app = app_with(options).await;
    app.register("ada@example.com").await;
    for _ in 0..6 {
        let r = app
            .post("/auth/password-reset", json!({"email": "ada@example.com"}))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    assert_eq!(
        mailer.sent.lock().unwrap().len(),
        3,
        "a mailbox cannot be flooded"
    );
}

fn user_of(access: &str) -> UserId {
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    UserId::parse(claims["sub"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn sessions_are_listed_and_signing_out_everywhere_ends_them_all() {
    let app = app().await;
    let first = app.register("ada@example.com").await;
    let second = Tokens::from(&app.login("ada@example.com", PASSWORD).await);
    let list = app.get("/auth/sessions", &second.access).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", list.text);
    assert_eq!(
        items.iter().filter(|s| s["current"] == true).count(),
        1,
        "{}",
        list.text
    );
    let done = app
        .call(
            "POST",
            "/auth/sessions/revoke-all",
            Some(&first.access),
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text);
    refresh(&app, &first.refresh).await.problem(401);
    refresh(&app, &second.refresh).await.problem(401);
    let after = app.get("/auth/sessions", &first.access).await;
    assert_eq!(after.body["items"], json!([]));
}

/// A stolen access token alone must not mint a lasting API key.
#[tokio::test]
async fn creating_an_api_key_needs_the_password_or_a_recent_sign_in() {
    let app = app().await;
    let fresh = app.register("ada@example.com").await;
    let created = app.create_api_key(&fresh.access, "now").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    let user = user_of(&fresh.access);
    let stale = app
        .state
        .jwt
        .issue_for_session(
            user,
            &ragenie_common::accounts::jwt::SessionClaims {
                id: "old-session".into(),
                auth_time: ragenie_common::clock::unix_now() - 600,
            },
        )
        .unwrap()
        .token;
    app.create_api_key(&stale, "later").await.problem(403);
    app.json(
        "POST",
        "/auth/api-keys",
        &stale,
        json!({"name": "later", "password": "not the password"}),
    )
    .await
    .problem(403);
    let ok = app
        .json(
            "POST",
            "/auth/api-keys",
            &stale,
            json!({"name": "later", "password": PASSWORD}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    // A refreshed token keeps the sign-in time of its session.
    let rotated = refresh(&app, &fresh.refresh).await;
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(rotated.str("access_token").split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
}

#[tokio::test]
async fn changing_the_password_revokes_api_keys_unless_asked_not_to() {
    let app = app().await;
    let tokens = app.register("ada@example.com").await;
    let key = app.create_api_key(&tokens.access, "k").await.str("key");
    let changed = app
        .json(
            "POST",
            "/auth/change-password",
            &tokens.access,
            json!({"current_password": PASSWORD, "new_password": "the second passphrase"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    app.get("/auth/me", &key).await.problem(401);

    let tokens = Tokens::from(&changed);
    let kept = app.create_api_key(&tokens.access, "k2").await.str("key");
    let changed = app
        .json("POST", "/auth/change-password", &tokens.access, json!({"current_password": "the second passphrase", "new_password": "the third passphrase", "revoke_api_keys": false}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(app.get("/auth/me", &kept).await.status, StatusCode::OK);
}
