//! The local server: one origin with every function, the web app and the presigned-URL routes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use ragenie_common::config::Settings;
use serde_json::Value;
use tower::ServiceExt;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, String) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    (status, content_type, body)
}

async fn app(frontend: Option<std::path::PathBuf>) -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let state = ragenie_local::connect(Settings::embedded(
        dir.path().join("data"),
        "http://127.0.0.1:1",
    ))
    .await
    .unwrap();
    (ragenie_local::app(state, frontend), dir)
}

#[tokio::test]
async fn health_names_every_function_and_its_status() {
    let (app, _dir) = app(None).await;
    let (status, _, body) = get(&app, "/health").await;
    assert_eq!(status, StatusCode::OK);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"], "embedded");
    for function in ["auth", "users", "documents", "conversations", "chat"] {
        assert_eq!(health["functions"][function], "ok", "{health}");
        let (status, _, body) = get(&app, &format!("/{function}/health")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["function"],
            function
        );
    }
}

#[tokio::test]
async fn pages_get_the_web_app_and_unknown_api_paths_get_a_problem() {
    let (app, _dir) = app(None).await;
    let (status, content_type, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    assert!(
        body.contains("RaGenie is running"),
        "the placeholder page stands in for an unbuilt app"
    );
    let (status, content_type, _) = get(&app, "/documents/nope/deeper").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
}

#[tokio::test]
async fn a_built_frontend_is_served_with_spa_fallback() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><div id=root>app</div>",
    )
    .unwrap();
    std::fs::create_dir(dist.path().join("assets")).unwrap();
    std::fs::write(dist.path().join("assets/app.js"), "console.log(1)").unwrap();
    let (app, _dir) = app(Some(dist.path().to_path_buf())).await;
    assert!(get(&app, "/").await.2.contains("id=root"));
    assert!(
        get(&app, "/chat-page/deep/link")
            .await
            .2
            .contains("id=root"),
        "client-side routes get index.html"
    );
    let (status, content_type, body) = get(&app, "/assets/app.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.contains("javascript"));
    assert_eq!(body, "console.log(1)");
}

#[tokio::test]
async fn presigned_urls_of_the_embedded_store_are_answered_by_the_server() {
    let (app, _dir) = app(None).await;
    let (status, content_type, _) =
        get(&app, "/_blobs/users/u/x?method=GET&expires=1&signature=00").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::FORBIDDEN, "application/problem+json")
    );
}

/// Every route `infra/routes.json` gives the auth and users functions is in the OpenAPI
/// document the local server serves, with its method.
#[tokio::test]
async fn the_openapi_document_describes_every_auth_and_users_route() {
    let (app, _dir) = app(None).await;
    let (status, content_type, body) = get(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(
        doc["components"]["securitySchemes"]["bearer"].is_object(),
        "{body}"
    );
    let routes: Value = serde_json::from_str(include_str!("../../../infra/routes.json")).unwrap();
    let mut checked = 0;
    for route in routes.as_array().unwrap() {
        let function = route["function"].as_str().unwrap();
        if !["ragenie-auth", "ragenie-users"].contains(&function) {
            continue;
        }
        let path = route["path"].as_str().unwrap();
        let method = route["method"].as_str().unwrap().to_lowercase();
        assert!(
            doc["paths"][path][&method].is_object(),
            "{method} {path} ({function}) is not in /openapi.json"
        );
        checked += 1;
    }
    assert!(checked >= 19, "only {checked} routes checked");
    // Request bodies reference schemas that exist.
    let register = &doc["paths"]["/auth/register"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["$ref"];
    let name = register.as_str().unwrap().rsplit('/').next().unwrap();
    assert!(doc["components"]["schemas"][name].is_object(), "{name}");
}
