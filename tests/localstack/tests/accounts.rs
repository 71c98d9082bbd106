//! The accounts flow through the auth and users routers on the AWS adapters (DynamoDB and
//! Secrets Manager) against the emulator `run.sh` starts: register, login, refresh rotation and
//! reuse, API keys, profiles with inheritance, isolation. Each test gets its own table, bucket
//! and signing secret.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use ragenie_common::AppState;
use ragenie_common::config::{Settings, StoreSettings};
use ragenie_common::http::with_fallback;
use ragenie_common::storage::aws::{AwsSecrets, DynamoTable, S3Blobs, load_sdk_config};
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple";

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A state on fresh AWS resources, built by `AppState::connect` as a Lambda would.
async fn aws_state() -> AppState {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("RAGENIE_TEST_REAL_AWS").is_some(),
        "run these through tests/localstack/run.sh"
    );
    let sdk = load_sdk_config().await;
    let table = unique("ragenie-accounts");
    DynamoTable::new(&sdk, table.clone())
        .create_table()
        .await
        .expect("creating the test table");
    let bucket = unique("ragenie-accounts");
    S3Blobs::new(&sdk, bucket.clone())
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("creating the test bucket");
    let secret = unique("ragenie/jwt");
    AwsSecrets::new(&sdk)
        .client()
        .create_secret()
        .name(&secret)
        .secret_string("A".repeat(16) + &ulid::Ulid::new().to_string() + "B".repeat(16).as_str())
        .send()
        .await
        .expect("creating the signing secret");
    let settings = Settings {
        store: StoreSettings::Aws {
            table,
            bucket,
            jwt_secret_id: secret,
            provider_keys_secret_id: None,
        },
        public_url: "http://127.0.0.1:1".into(),
        max_json_body: 1024 * 1024,
        max_upload_body: 6 * 1024 * 1024,
        embedding: None,
        audit_retention_days: 365,
        operator: Default::default(),
        mail: Default::default(),
    };
    AppState::connect(settings).await.expect("connecting")
}

fn app(state: &AppState) -> Router {
    with_fallback(ragenie_auth::router(state.clone()).merge(ragenie_users::router(state.clone())))
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn s(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no `{name}` in {v}"))
        .to_owned()
}

#[tokio::test]
async fn register_login_refresh_keys_and_profiles_work_on_dynamodb() {
    let state = aws_state().await;
    let app = app(&state);

    let (status, tokens) = call(
        &app,
        "POST",
        "/auth/register",
        None,
        Some(json!({"email": "Ada@Example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{tokens}");
    let (status, _) = call(
        &app,
        "POST",
        "/auth/register",
        None,
        Some(json!({"email": "ada@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the email item is unique in DynamoDB too"
    );

    let (status, _) = call(
        &app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"email": "ada@example.com", "password": "wrong wrong wrong"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, login) = call(
        &app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"email": "ada@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let access = s(&login, "access_token");
    let (status, me) = call(&app, "GET", "/auth/me", Some(&access), None).await;
    assert_eq!(
        (status, s(&me, "email")),
        (StatusCode::OK, "ada@example.com".into())
    );

    // Rotation, then reuse of the first token revokes the family.
    let first = s(&tokens, "refresh_token");
    let (status, rotated) = call(
        &app,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": first})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second = s(&rotated, "refresh_token");
    let (status, _) = call(
        &app,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": first})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        &app,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": second})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reuse revoked the family");

    // An API key through the transactional lookup item.
    let (status, key) = call(
        &app,
        "POST",
        "/auth/api-keys",
        Some(&access),
        Some(json!({"name": "ci"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let (status, me) = call(&app, "GET", "/auth/me", Some(&s(&key, "key")), None).await;
    assert_eq!(
        (status, s(&me, "email")),
        (StatusCode::OK, "ada@example.com".into())
    );
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/auth/api-keys/{}", s(&key, "id")),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, "GET", "/auth/me", Some(&s(&key, "key")), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Profiles with inheritance, pagination and isolation.
    let (status, base) = call(
        &app,
        "POST",
        "/profiles",
        Some(&access),
        Some(json!({"name": "Base", "instruction_ids": ["style"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{base}");
    let (status, child) = call(
        &app,
        "POST",
        "/profiles",
        Some(&access),
        Some(json!({"name": "Child", "parent_ids": [s(&base, "id")]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{child}");
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/profiles/{}", s(&base, "id")),
        Some(&access),
        Some(json!({"parent_ids": [s(&child, "id")]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "cycle");
    let (status, page) = call(&app, "GET", "/profiles?limit=1", Some(&access), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"][0]["name"], "Base");
    let (_, page2) = call(
        &app,
        "GET",
        &format!("/profiles?limit=1&cursor={}", s(&page, "next_cursor")),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(page2["items"][0]["name"], "Child");
    let user = ragenie_common::accounts::UserId::parse(&s(&me, "id")).unwrap();
    let chain = ragenie_common::accounts::profiles::resolve_profile_chain(
        state.table.as_ref(),
        user,
        s(&child, "id").parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(chain.instruction_ids(), ["style"]);

    let (_, other) = call(
        &app,
        "POST",
        "/auth/register",
        None,
        Some(json!({"email": "bob@example.com", "password": PASSWORD})),
    )
    .await;
    let bob = s(&other, "access_token");
    let (status, _) = call(
        &app,
        "GET",
        &format!("/profiles/{}", s(&child, "id")),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/profiles/{}", s(&child, "id")),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = call(&app, "GET", "/profiles", Some(&bob), None).await;
    assert_eq!(mine["items"], json!([]));
    let (status, _) = call(
        &app,
        "GET",
        &format!("/profiles/{}", s(&child, "id")),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn login_throttling_holds_in_the_table_across_instances() {
    let state = aws_state().await;
    // Two routers on the same table stand for two Lambda instances.
    let one = app(&state);
    let two = app(&state);
    let (status, _) = call(
        &one,
        "POST",
        "/auth/register",
        None,
        Some(json!({"email": "t@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    for i in 0..10 {
        let instance = if i % 2 == 0 { &one } else { &two };
        let (status, _) = call(
            instance,
            "POST",
            "/auth/login",
            None,
            Some(json!({"email": "t@example.com", "password": format!("wrong guess {i}")})),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, problem) = call(
        &two,
        "POST",
        "/auth/login",
        None,
        Some(json!({"email": "t@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
}

#[tokio::test]
async fn the_first_account_is_admin_and_a_suspension_reaches_every_instance_on_dynamodb() {
    let state = aws_state().await;
    // Two routers on the same table stand for two Lambda instances.
    let (one, two) = (app(&state), app(&state));
    let (status, admin) = call(
        &one,
        "POST",
        "/auth/register",
        None,
        Some(json!({"email": "admin@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{admin}");
    let admin = s(&admin, "access_token");
    let (_, user) = call(
        &two,
        "POST",
        "/auth/register",
        None,
        Some(json!({"email": "user@example.com", "password": PASSWORD})),
    )
    .await;
    let user = s(&user, "access_token");
    let (_, me) = call(&one, "GET", "/auth/me", Some(&admin), None).await;
    assert_eq!(me["role"], "admin", "{me}");
    let (_, me) = call(&two, "GET", "/auth/me", Some(&user), None).await;
    assert_eq!(me["role"], "user", "{me}");
    let (status, _) = call(&two, "GET", "/admin/users", Some(&user), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, changed) = call(
        &one,
        "PATCH",
        &format!("/admin/users/{}", s(&me, "id")),
        Some(&admin),
        Some(json!({"status": "suspended"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (status, problem) = call(&two, "GET", "/auth/me", Some(&user), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["type"], "urn:ragenie:problem:account-suspended");
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
    use ragenie_common::testing::{Remains, TestServer, populated_account, remains};
    let state = aws_state().await;
    let providers = ragenie_corpus::ProviderState::offline(state.clone()).unwrap();
    let router = with_fallback(
        ragenie_auth::router(state.clone())
            .merge(ragenie_users::router(state.clone()))
            .merge(ragenie_documents::router(providers.clone()))
            .merge(ragenie_conversations::router(state.clone()))
            .merge(ragenie_chat::router(providers)),
    );
    let server = TestServer::start(router).await;
    let account = populated_account(&server.base).await;
    let other = populated_account(&server.base).await;
    let before = remains(&state, &account).await;
    assert!(before.items > 10 && before.files >= 3, "{before:?}");
    let other_before = remains(&state, &other).await;

    let response = reqwest::Client::new()
        .delete(server.url("/auth/me"))
        .header("authorization", format!("Bearer {}", account.access_token))
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
