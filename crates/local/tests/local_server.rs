//! The local server: one origin with every function, the web app and the presigned-URL routes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ragenie_common::config::Settings;
use ragenie_common::testing;
use serde_json::Value;
use tower::ServiceExt;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, String) {
    let r = testing::oneshot(app, Request::get(uri).body(Body::empty()).unwrap()).await;
    (r.status, r.content_type().to_owned(), r.text)
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

async fn get_with_host(app: &axum::Router, uri: &str, host: &str) -> axum::response::Response {
    app.clone()
        .oneshot(
            Request::get(uri)
                .header("host", host)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
}

/// DNS rebinding: a page on `attacker.example` whose name the attacker re-points at 127.0.0.1
/// reaches the server with `Host: attacker.example`; it is refused, names the server answers
/// to are not.
#[tokio::test]
async fn requests_addressed_to_a_foreign_host_name_are_refused() {
    let (app, _dir) = app(None).await;
    for host in [
        "attacker.example",
        "attacker.example:8080",
        "localhost.attacker.example",
        "127.0.0.1.nip.io:8080",
    ] {
        let response = get_with_host(&app, "/health", host).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{host}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let response = get_with_host(&app, "/", host).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "page for {host}");
    }
    for host in [
        "127.0.0.1:8080",
        "localhost:8080",
        "LOCALHOST",
        "[::1]:8080",
        "192.168.1.20:8080",
    ] {
        let response = get_with_host(&app, "/health", host).await;
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn the_public_url_host_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let state = ragenie_local::connect(Settings::embedded(
        dir.path().join("data"),
        "https://ragenie.internal.example",
    ))
    .await
    .unwrap();
    let app = ragenie_local::app(state, None);
    let ok = get_with_host(&app, "/health", "ragenie.internal.example").await;
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = get_with_host(&app, "/health", "other.internal.example").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_and_api_answers_carry_the_security_headers() {
    let (app, _dir) = app(None).await;
    for uri in ["/", "/app/chat", "/health", "/auth/me", "/no/such/api"] {
        let response = get_with_host(&app, uri, "127.0.0.1:8080").await;
        let headers = response.headers();
        assert_eq!(
            headers["content-security-policy"],
            ragenie_local::CONTENT_SECURITY_POLICY,
            "{uri}"
        );
        let csp = ragenie_local::CONTENT_SECURITY_POLICY;
        assert!(csp.contains("img-src 'self' data: blob:;"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{uri}");
        assert_eq!(headers["x-frame-options"], "DENY", "{uri}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{uri}");
    }
}

#[test]
fn the_server_binds_to_loopback_unless_told_otherwise() {
    let none = |_: &str| None;
    assert_eq!(
        ragenie_local::bind_address(none).unwrap().to_string(),
        "127.0.0.1"
    );
    let all = |_: &str| Some("0.0.0.0".to_owned());
    assert_eq!(
        ragenie_local::bind_address(all).unwrap().to_string(),
        "0.0.0.0"
    );
    let bad = |_: &str| Some("everywhere".to_owned());
    let err = ragenie_local::bind_address(bad).unwrap_err().to_string();
    assert!(err.contains("RAGENIE_BIND"), "{err}");
}

/// The local server and CloudFront (infra/security-headers.json, read by the CDK app and
/// checked against template.yaml) send the same policy.
#[test]
fn the_local_policy_is_the_one_cloudfront_sends() {
    let shared: Value = serde_json::from_str(include_str!("../../../infra/security-headers.json"))
        .expect("infra/security-headers.json");
    assert_eq!(
        shared["content_security_policy"],
        ragenie_local::CONTENT_SECURITY_POLICY
    );
    assert_eq!(shared["referrer_policy"], "no-referrer");
    assert_eq!(shared["frame_options"], "DENY");
}
