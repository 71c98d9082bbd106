//! What the documents suites share: a Markdown dataset upload and a search, over HTTP.

use reqwest::{Client, StatusCode};
use serde_json::Value;

/// Uploads `text` as a Markdown dataset named `name`; expects 201 and returns the document.
pub async fn upload(http: &Client, base: &str, bearer: &str, name: &str, text: &str) -> Value {
    let response = http
        .post(format!("{base}/documents"))
        .query(&[("kind", "dataset"), ("name", name)])
        .header("authorization", bearer)
        .header("content-type", "text/markdown")
        .body(text.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// `GET /search?q=…`: the hits.
pub async fn search(http: &Client, base: &str, bearer: &str, q: &str) -> Vec<Value> {
    let response = http
        .get(format!("{base}/search"))
        .query(&[("q", q)])
        .header("authorization", bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().cloned().unwrap_or_default()
}
