//! One source of truth for routes: `infra/routes.json` (which the CDK app reads and the SAM
//! template is checked against) must match what the routers serve and what the OpenAPI
//! document (generated from the handlers) describes.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use ragenie_common::testing::{embedded_state, test_user};
use ragenie_corpus::ProviderState;
use serde_json::Value;
use tower::ServiceExt;

fn routes() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/routes.json"
    ))
    .unwrap();
    let routes: Vec<Value> = serde_json::from_str(&text).unwrap();
    routes
        .iter()
        .map(|r| {
            (
                r["function"].as_str().unwrap().to_owned(),
                r["method"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_route_in_routes_json_is_served_by_its_router() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_state(dir.path(), "http://127.0.0.1:1").await;
    let state = ProviderState::offline(app).unwrap();
    let (_, bearer) = test_user();
    let id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    for (function, method, path) in routes() {
        let name = function.trim_start_matches("ragenie-");
        let (_, build) = ragenie_local::FUNCTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no function {function}"));
        // Each route must be answered by its own function's router, as on Lambda.
        let router = ragenie_common::http::with_fallback(build(state.clone()));
        let uri = path.replace("{id}", id).replace("{mid}", id);
        let request = Request::builder()
            .method(method.as_str())
            .uri(&uri)
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let detail = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or_default();
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is not served by {function}"
        );
        assert!(
            !(status == StatusCode::NOT_FOUND && detail == "no such resource"),
            "{method} {path} is not served by {function}"
        );
    }
}

#[test]
fn the_openapi_document_describes_exactly_the_routes_in_routes_json() {
    let doc = serde_json::to_value(ragenie_local::openapi()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            // Health routes and the local server's own routes are not API resources.
            let local = path.ends_with("/health") || path == "/health" || path == "/openapi.json";
            if !local && ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let declared: BTreeSet<(String, String)> = routes()
        .into_iter()
        .filter(|(_, _, path)| !path.ends_with("/health"))
        .map(|(_, method, path)| (method, path))
        .collect();
    let missing: Vec<_> = declared.difference(&documented).collect();
    let undeclared: Vec<_> = documented.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "routes without OpenAPI documentation: {missing:?}"
    );
    assert!(
        undeclared.is_empty(),
        "documented routes missing from infra/routes.json: {undeclared:?}"
    );
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Every `/admin` route of every function, as `infra/routes.json` lists them (so a new admin
/// route is covered without touching this test), on the local server with real accounts.
#[tokio::test]
async fn every_admin_route_of_every_function_refuses_users_with_403_and_strangers_with_401() {
    let dir = tempfile::tempdir().unwrap();
    let state = ragenie_local::connect(ragenie_common::config::Settings::embedded(
        dir.path().join("data"),
        "http://127.0.0.1:1",
    ))
    .await
    .unwrap();
    let app = ragenie_local::app(state, None);
    let mut tokens = Vec::new();
    for email in ["admin@example.com", "user@example.com"] {
        let body = format!(r#"{{"email":"{email}","password":"correct horse battery staple 9"}}"#);
        let (status, r) = call(&app, "POST", "/auth/register", None, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        tokens.push(r["access_token"].as_str().unwrap().to_owned());
    }
    let (admin, user) = (&tokens[0], &tokens[1]);
    let (_, me) = call(&app, "GET", "/auth/me", Some(user), "").await;
    let user_id = me["id"].as_str().unwrap().to_owned();
    let mut admin_routes: Vec<_> = routes()
        .into_iter()
        .filter(|(_, _, path)| path.starts_with("/admin"))
        .collect();
    // The admin's call to delete the user removes the account: that route goes last.
    admin_routes.sort_by_key(|(_, method, path)| method == "DELETE" && path == "/admin/users/{id}");
    assert!(admin_routes.len() >= 12, "{admin_routes:?}");
    for (function, method, path) in admin_routes {
        let id = if path.starts_with("/admin/models") {
            "gpt-4.1"
        } else {
            user_id.as_str()
        };
        let uri = path.replace("{id}", id);
        let (status, _) = call(&app, &method, &uri, None, "{}").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} ({function}) without a token"
        );
        let (status, problem) = call(&app, &method, &uri, Some(user), "{}").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{method} {path} ({function}) as a user: {problem}"
        );
        // The admin gets past the role check (a bad `{}` body may still be a 4xx of its own).
        let (status, problem) = call(&app, &method, &uri, Some(admin), "{}").await;
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{method} {path} ({function}) as the admin: {status} {problem}"
        );
    }
}
