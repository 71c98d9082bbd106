//! The accounts flow through the auth and users routers on the AWS adapters (DynamoDB and
//! Secrets Manager) against the emulator `run.sh` starts: register, login, refresh rotation and
//! reuse, API keys, profiles with inheritance, isolation. Each test gets its own table, bucket
//! and signing secret.

mod support;

use axum::Router;
use axum::http::StatusCode;
use ragenie_common::AppState;
use ragenie_common::http::with_fallback;
use ragenie_common::testing::Resp;
use serde_json::{Value, json};
use support::{AwsState, Served, call};

const PASSWORD: &str = "correct horse battery staple";

/// A state on fresh AWS resources, built by `AppState::connect` as a Lambda would.
async fn aws_state() -> AppState {
    AwsState::new("ragenie-accounts").connect().await
}

fn app(state: &AppState) -> Router {
    with_fallback(ragenie_auth::router(state.clone()).merge(ragenie_users::router(state.clone())))
}

/// `POST /auth/register` of `email` with [`PASSWORD`].
async fn register(app: &Router, email: &str) -> Resp {
    let body = json!({"email": email, "password": PASSWORD});
    call(app, "POST", "/auth/register", None, Some(body)).await
}

/// `POST /auth/login`.
async fn login(app: &Router, email: &str, password: &str) -> Resp {
    let body = json!({"email": email, "password": password});
    call(app, "POST", "/auth/login", None, Some(body)).await
}

/// `POST /auth/refresh` with `refresh_token`.
async fn refresh(app: &Router, refresh_token: &str) -> Resp {
    let body = json!({"refresh_token": refresh_token});
    call(app, "POST", "/auth/refresh", None, Some(body)).await
}

/// `GET uri` as `token`.
async fn get(app: &Router, uri: &str, token: &str) -> Resp {
    call(app, "GET", uri, Some(token), None).await
}

/// `DELETE uri` as `token`.
async fn delete(app: &Router, uri: &str, token: &str) -> Resp {
    call(app, "DELETE", uri, Some(token), None).await
}

/// `POST uri` of `body` as `token`.
async fn post(app: &Router, uri: &str, token: &str, body: Value) -> Resp {
    call(app, "POST", uri, Some(token), Some(body)).await
}

/// `PATCH uri` of `body` as `token`.
async fn patch(app: &Router, uri: &str, token: &str, body: Value) -> Resp {
    call(app, "PATCH", uri, Some(token), Some(body)).await
}

#[tokio::test]
async fn register_login_refresh_keys_and_profiles_work_on_dynamodb() {
    let state = aws_state().await;
    let app = app(&state);

    let tokens = register(&app, "Ada@Example.com").await;
    tokens.ok(201);
    assert_eq!(
        register(&app, "ada@example.com").await.status,
        StatusCode::CONFLICT,
        "the email item is unique in DynamoDB too"
    );

    let wrong = login(&app, "ada@example.com", "wrong wrong wrong").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let logged_in = login(&app, "ada@example.com", PASSWORD).await;
    logged_in.ok(200);
    let access = logged_in.str("access_token");
    let me = get(&app, "/auth/me", &access).await;
    assert_eq!(
        (me.status, me.str("email")),
        (StatusCode::OK, "ada@example.com".into())
    );

    // Rotation, then reuse of the first token revokes the family.
    let first = tokens.str("refresh_token");
    let rotated = refresh(&app, &first).await;
    rotated.ok(200);
    let second = rotated.str("refresh_token");
    assert_eq!(refresh(&app, &first).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&app, &second).await.status,
        StatusCode::UNAUTHORIZED,
        "reuse revoked the family"
    );

    // An API key through the transactional lookup item.
    let key = post(&app, "/auth/api-keys", &access, json!({"name": "ci"})).await;
    key.ok(201);
    let by_key = get(&app, "/auth/me", &key.str("key")).await;
    assert_eq!(
        (by_key.status, by_key.str("email")),
        (StatusCode::OK, "ada@example.com".into())
    );
    let key_uri = format!("/auth/api-keys/{}", key.str("id"));
    assert_eq!(
        delete(&app, &key_uri, &access).await.status,
        StatusCode::NO_CONTENT
    );
    let revoked = get(&app, "/auth/me", &key.str("key")).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);

    // Profiles with inheritance, pagination and isolation.
    let new_base = json!({"name": "Base", "instruction_ids": ["style"]});
    let base = post(&app, "/profiles", &access, new_base).await;
    base.ok(201);
    let new_child = json!({"name": "Child", "parent_ids": [base.str("id")]});
    let child = post(&app, "/profiles", &access, new_child).await;
    child.ok(201);
    let base_uri = format!("/profiles/{}", base.str("id"));
    let cycle = json!({"parent_ids": [child.str("id")]});
    let cycle = patch(&app, &base_uri, &access, cycle).await;
    assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY, "cycle");
    let page = get(&app, "/profiles?limit=1", &access).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["items"][0]["name"], "Base");
    let next = format!("/profiles?limit=1&cursor={}", page.str("next_cursor"));
    assert_eq!(
        get(&app, &next, &access).await.body["items"][0]["name"],
        "Child"
    );
    let user = ragenie_common::accounts::UserId::parse(&me.str("id")).unwrap();
    let chain = ragenie_common::accounts::profiles::resolve_profile_chain(
        state.table.as_ref(),
        user,
        child.str("id").parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(chain.instruction_ids(), ["style"]);

    let bob = register(&app, "bob@example.com").await.str("access_token");
    let child_uri = format!("/profiles/{}", child.str("id"));
    assert_eq!(
        get(&app, &child_uri, &bob).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &child_uri, &bob).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&app, "/profiles", &bob).await.body["items"], json!([]));
    assert_eq!(get(&app, &child_uri, &access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn login_throttling_holds_in_the_table_across_instances() {
    let state = aws_state().await;
    // Two routers on the same table stand for two Lambda instances.
    let one = app(&state);
    let two = app(&state);
    assert_eq!(
        register(&one, "t@example.com").await.status,
        StatusCode::CREATED
    );
    for i in 0..10 {
        let instance = if i % 2 == 0 { &one } else { &two };
        let guess = login(instance, "t@example.com", &format!("wrong guess {i}")).await;
        assert_eq!(guess.status, StatusCode::UNAUTHORIZED);
    }
    let problem = login(&two, "t@example.com", PASSWORD).await;
    assert_eq!(
        problem.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        problem.text
    );
}

#[tokio::test]
async fn the_first_account_is_admin_and_a_suspension_reaches_every_instance_on_dynamodb() {
    let state = aws_state().await;
    // Two routers on the same table stand for two Lambda instances.
    let (one, two) = (app(&state), app(&state));
    let admin = register(&one, "admin@example.com").await;
    admin.ok(201);
    let admin = admin.str("access_token");
    let user = register(&two, "user@example.com").await.str("access_token");
    let me = get(&one, "/auth/me", &admin).await.body;
    assert_eq!(me["role"], "admin", "{me}");
    let me = get(&two, "/auth/me", &user).await.body;
    assert_eq!(me["role"], "user", "{me}");
    let listed = get(&two, "/admin/users", &user).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN);

    let suspend = json!({"status": "suspended"});
    let target = format!("/admin/users/{}", me["id"].as_str().unwrap());
    patch(&one, &target, &admin, suspend).await.ok(200);
    let problem = get(&two, "/auth/me", &user).await;
    assert_eq!(problem.status, StatusCode::FORBIDDEN, "{}", problem.text);
    assert_eq!(
        problem.body["type"],
        "urn:ragenie:problem:account-suspended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_limits_hold_in_dynamodb_across_instances() {
    use ragenie_common::accounts::UserId;
    use ragenie_common::accounts::limits::{self, Refusal};
    let state = aws_state().await;
    let user = UserId::new();
    // Ten answers start at once against a cap of three: conditional puts let exactly three in.
    let tries = (0..10).map(|_| {
        let table = state.table.clone();
        tokio::spawn(async move { limits::acquire_slot(table.as_ref(), user, 3).await })
    });
    let mut held = Vec::new();
    for t in tries {
        match t.await.unwrap().unwrap() {
            Ok(slot) => held.push(slot),
            Err(Refusal::TooManyAnswers { max: 3, .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(held.len(), 3, "exactly the cap: {held:?}");
    limits::release_slot(state.table.as_ref(), &held[0])
        .await
        .unwrap();
    let again = limits::acquire_slot(state.table.as_ref(), user, 3)
        .await
        .unwrap();
    assert!(again.is_ok(), "a released slot is free again");

    // Requests per minute: the limit, then a refusal until the minute turns. (Sequential:
    // moto loses concurrent ADDs, see TOOLCHAIN_NOTES; DynamoDB does not.)
    for _ in 0..5 {
        limits::count_request(state.table.as_ref(), user, 5)
            .await
            .unwrap()
            .unwrap();
    }
    let refused = limits::count_request(state.table.as_ref(), user, 5)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(refused, Refusal::RateLimited { .. }),
        "{refused:?}"
    );

    // The quota: reservations while below the limit, then a refusal; settling gives back.
    let mut reservations = Vec::new();
    loop {
        match limits::reserve(state.table.as_ref(), user, 0.01, 0.004)
            .await
            .unwrap()
        {
            Ok(r) => reservations.push(r),
            Err(Refusal::QuotaSpent { .. }) => break,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(reservations.len(), 3, "0, 0.004, 0.008 are below 0.01");
    for r in &reservations {
        limits::settle(state.table.as_ref(), r, 0.001)
            .await
            .unwrap();
    }
    let month = limits::month_spend(state.table.as_ref(), user)
        .await
        .unwrap();
    assert!((month.spent_usd - 0.003).abs() < 1e-9, "{month:?}");
    assert!((month.committed_usd - 0.003).abs() < 1e-9, "{month:?}");
}

/// Account deletion on DynamoDB and S3: everything of the user goes (items, document bytes,
/// text, segments, uploads, conversations, usage, sessions, keys); the count of what is left
/// is nothing, and another user's data stays.
#[tokio::test]
async fn deleting_an_account_leaves_nothing_of_it_on_dynamodb_and_s3() {
    use ragenie_common::testing::{Remains, populated_account, remains};
    let state = aws_state().await;
    let providers = ragenie_corpus::ProviderState::offline(state.clone()).unwrap();
    let router = with_fallback(
        ragenie_auth::router(state.clone())
            .merge(ragenie_users::router(state.clone()))
            .merge(ragenie_documents::router(providers.clone()))
            .merge(ragenie_conversations::router(state.clone()))
            .merge(ragenie_chat::router(providers)),
    );
    let api = Served::start(router, std::time::Duration::from_secs(60)).await;
    let account = populated_account(&api.server.base).await;
    let other = populated_account(&api.server.base).await;
    let before = remains(&state, &account).await;
    assert!(before.items > 10 && before.files >= 3, "{before:?}");
    let other_before = remains(&state, &other).await;

    let response = api
        .delete(&format!("Bearer {}", account.access_token), "/auth/me")
        .json(&json!({"password": account.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let removed: Value = response.json().await.unwrap();
    assert_eq!(
        removed["removed"]["files"].as_u64().unwrap() as usize,
        before.files
    );
    assert_eq!(
        remains(&state, &account).await,
        Remains::deleted(),
        "only the record of the deletion is left"
    );
    assert_eq!(remains(&state, &other).await, other_before);
}
