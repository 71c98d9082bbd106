//! Bad input always gets a clear problem+json 4xx naming what is wrong, never a 500.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use ragenie_common::AppState;
use ragenie_common::config::Settings;
use ragenie_common::http::{Json, function_router, with_fallback};
use ragenie_common::testing;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Register {
    email: String,
    profile: Profile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Profile {
    name: String,
    max_output_tokens: u32,
}

async fn register(Json(_): Json<Register>) -> StatusCode {
    StatusCode::CREATED
}

async fn panics() -> StatusCode {
    panic!("a bug in a handler")
}

async fn app() -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::embedded(dir.path(), "http://127.0.0.1:1");
    settings.max_json_body = 1024;
    let state = AppState::connect(settings).await.unwrap();
    let routes = Router::new()
        .route("/test/register", post(register))
        .route("/test/panic", post(panics));
    (with_fallback(function_router("test", routes, state)), dir)
}

async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> (StatusCode, Value, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(body.into())
        .unwrap();
    let r = testing::oneshot(app, request).await;
    (r.status, r.body.clone(), r.content_type().to_owned())
}

#[tokio::test]
async fn a_handler_that_panics_answers_a_500_problem_and_the_server_goes_on() {
    let (app, _dir) = app().await;
    let (status, body, content_type) =
        send(&app, "POST", "/test/panic", "application/json", "{}").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["status"], 500);
    assert!(
        !body.to_string().contains("a bug in a handler"),
        "the panic's message stays in the log: {body}"
    );
    let (status, ..) = send(
        &app,
        "POST",
        "/test/register",
        "application/json",
        r#"{"email":"a@b.c","profile":{"name":"n","max_output_tokens":1}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_valid_body_is_accepted() {
    let (app, _dir) = app().await;
    let body = r#"{"email":"a@b.c","profile":{"name":"Work","max_output_tokens":100}}"#;
    assert_eq!(
        send(&app, "POST", "/test/register", "application/json", body)
            .await
            .0,
        StatusCode::CREATED
    );
}

/// `100.0` is the integer 100 in JSON and in JSON Schema; found by schemathesis, which had
/// `POST /documents/uploads` refuse `"size": 63463.0`.
#[tokio::test]
async fn an_integral_number_written_with_a_fraction_is_an_integer() {
    let (app, _dir) = app().await;
    let body = r#"{"email":"a@b.c","profile":{"name":"Work","max_output_tokens":100.0}}"#;
    let (status, _, _) = send(&app, "POST", "/test/register", "application/json", body).await;
    assert_eq!(status, StatusCode::CREATED);
    let body = r#"{"email":"a@b.c","profile":{"name":"Work","max_output_tokens":100.5}}"#;
    let (status, problem, _) = send(&app, "POST", "/test/register", "application/json", body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "profile.max_output_tokens");
}

/// serde fills a struct from an array of its fields; found by schemathesis, which had
/// `PUT /users/me/preferences` accept `[null, null]`.
#[tokio::test]
async fn an_array_is_refused_where_an_object_is_expected() {
    let (app, _dir) = app().await;
    let body = r#" ["a@b.c", {"name":"Work","max_output_tokens":100}]"#;
    let (status, problem, _) = send(&app, "POST", "/test/register", "application/json", body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "body");
    assert_eq!(problem["detail"], "expected a JSON object");
}

#[tokio::test]
async fn each_kind_of_bad_json_gets_a_problem_naming_the_field() {
    let (app, _dir) = app().await;
    let cases = [
        (
            r#"{"email":"a@b.c","profile":{"name":"W","max_output_tokens":100}"#,
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            r#"{"profile":{"name":"W","max_output_tokens":1}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("email"),
        ),
        (
            r#"{"email":"a","profile":{"name":"W","max_output_tokens":"many"}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("profile.max_output_tokens"),
        ),
        (
            r#"{"email":"a","profile":{"name":"W","max_output_tokens":1,"colour":"red"}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("profile.colour"),
        ),
        (
            r#"{"email":"a","profile":{"max_output_tokens":1}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("profile.name"),
        ),
        (
            r#""just a string""#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("body"),
        ),
    ];
    for (body, status, field) in cases {
        let (got, problem, content_type) =
            send(&app, "POST", "/test/register", "application/json", body).await;
        assert_eq!(got, status, "{body}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["status"], status.as_u16());
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:ragenie:problem:")
        );
        assert!(!problem["detail"].as_str().unwrap().is_empty());
        assert_eq!(problem["field"].as_str(), field, "{body}: {problem}");
    }
}

#[tokio::test]
async fn wrong_content_type_oversize_bodies_and_unknown_routes_are_problems() {
    let (app, _dir) = app().await;
    let (status, _, content_type) = send(&app, "POST", "/test/register", "text/plain", "{}").await;
    assert_eq!(
        (status, content_type.as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/problem+json"
        )
    );
    let huge = format!(r#"{{"email":"{}"}}"#, "x".repeat(4096));
    let (status, problem, _) = send(&app, "POST", "/test/register", "application/json", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    let (status, problem, content_type) = send(&app, "GET", "/nope", "application/json", "").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
    assert_eq!(problem["status"], 404);
    let (status, _, content_type) =
        send(&app, "DELETE", "/test/register", "application/json", "").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "application/problem+json")
    );
}

#[tokio::test]
async fn the_health_route_answers_with_the_function_name() {
    let (app, _dir) = app().await;
    let (status, body, _) = send(&app, "GET", "/test/health", "application/json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["function"].as_str(),
            body["status"].as_str(),
            body["store"].as_str()
        ),
        (Some("test"), Some("ok"), Some("embedded"))
    );
}
