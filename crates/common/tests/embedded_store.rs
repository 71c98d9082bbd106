//! The storage conformance suite on the embedded adapters, plus what only the embedded store
//! can prove (moto accepts tampered presigned URLs): tampered and expired URLs are refused.

use std::sync::Arc;
use std::time::Duration;

use ragenie_common::storage::conformance::StoreFixture;
use ragenie_common::storage::embedded::{
    EmbeddedBlobs, EmbeddedSecrets, EmbeddedTable, UrlSigner, presigned_routes,
};
use ragenie_common::storage::{Blobs, PresignedUrl, Secrets};
use ragenie_common::testing::TestServer;
use reqwest::Response;

async fn embedded_blobs(dir: &std::path::Path) -> (Arc<EmbeddedBlobs>, TestServer) {
    let listener = TestServer::bind().await;
    let url = listener.base.clone();
    let blobs = Arc::new(
        EmbeddedBlobs::open(
            &dir.join("blobs"),
            UrlSigner::new(b"test-key".to_vec()),
            &url,
        )
        .unwrap(),
    );
    let server = listener.serve(presigned_routes(blobs.clone()));
    (blobs, server)
}

async fn embedded() -> StoreFixture {
    let dir = tempfile::tempdir().unwrap();
    let table = EmbeddedTable::open(&dir.path().join("items.redb")).unwrap();
    let (blobs, server) = embedded_blobs(dir.path()).await;
    StoreFixture {
        table: Arc::new(table),
        blobs,
        guard: Box::new((dir, server)),
    }
}

ragenie_common::storage_conformance_tests!(embedded);

#[tokio::test]
async fn a_copy_from_a_replaced_source_copies_nothing() {
    let fixture = embedded().await;
    ragenie_common::storage::conformance::a_copy_from_a_replaced_source_copies_nothing(
        fixture.blobs.as_ref(),
    )
    .await;
}

/// A presigned PUT of 5 bytes of text/plain to `users/u/uploads/a.txt`, valid `secs` seconds.
async fn presign_a_txt(blobs: &EmbeddedBlobs, secs: u64) -> PresignedUrl {
    let key = "users/u/uploads/a.txt";
    let ttl = Duration::from_secs(secs);
    blobs.presign_put(key, "text/plain", 5, ttl).await.unwrap()
}

/// PUTs `body` to `url` as `content_type`.
async fn put_as(
    http: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: &'static str,
) -> Response {
    let request = http.put(url).header("content-type", content_type);
    request.body(body).send().await.unwrap()
}

fn tamper(url: &str, find: &str, replace: &str) -> String {
    assert!(url.contains(find), "{url} lacks {find}");
    url.replacen(find, replace, 1)
}

#[tokio::test]
async fn a_tampered_or_expired_presigned_url_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (blobs, _server) = embedded_blobs(dir.path()).await;
    let http = reqwest::Client::new();
    let put = presign_a_txt(&blobs, 60).await;

    let other_key = tamper(&put.url, "uploads/a.txt", "uploads/b.txt");
    let response = put_as(&http, &other_key, "text/plain", "x").await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    let later = put.expires_at + 3600;
    let extended = tamper(
        &put.url,
        &format!("expires={}", put.expires_at),
        &format!("expires={later}"),
    );
    assert_eq!(
        put_as(&http, &extended, "text/plain", "x").await.status(),
        403
    );

    let wrong_type = put_as(&http, &put.url, "text/html", "<p>").await;
    assert_eq!(
        wrong_type.status(),
        403,
        "the signed content type is enforced"
    );

    let as_get = tamper(&put.url, "method=PUT", "method=GET");
    assert_eq!(
        http.get(&as_get).send().await.unwrap().status(),
        403,
        "a PUT URL cannot read"
    );

    assert!(blobs.head("users/u/uploads/a.txt").await.unwrap().is_none());
    assert!(blobs.head("users/u/uploads/b.txt").await.unwrap().is_none());

    let expired = presign_a_txt(&blobs, 0).await;
    let response = put_as(&http, &expired.url, "text/plain", "x").await;
    assert_eq!(response.status(), 403);
    assert!(blobs.head("users/u/uploads/a.txt").await.unwrap().is_none());

    // The signed length holds both ways, as S3 holds a signed Content-Length.
    for body in ["hello, and a great deal more than was announced", "hell"] {
        let response = put_as(&http, &put.url, "text/plain", body).await;
        assert_eq!(response.status(), 403, "{body:?}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    assert!(blobs.head("users/u/uploads/a.txt").await.unwrap().is_none());
    assert_eq!(
        put.headers,
        vec![
            ("content-type".to_owned(), "text/plain".to_owned()),
            ("content-length".to_owned(), "5".to_owned())
        ],
        "the URL tells the client the headers it must send"
    );

    let ok = put_as(&http, &put.url, "text/plain", "hello").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        blobs
            .get("users/u/uploads/a.txt")
            .await
            .unwrap()
            .unwrap()
            .body
            .as_ref(),
        b"hello"
    );
}

#[tokio::test]
async fn presigned_downloads_are_attachments_that_are_never_sniffed() {
    let dir = tempfile::tempdir().unwrap();
    let (blobs, _server) = embedded_blobs(dir.path()).await;
    blobs
        .put(
            "users/u/content/page.html",
            "<script>alert(1)</script>".into(),
            "text/html",
        )
        .await
        .unwrap();
    let get = blobs
        .presign_get("users/u/content/page.html", Duration::from_secs(60))
        .await
        .unwrap();
    let response = reqwest::get(&get.url).await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("content-disposition").as_deref(),
        Some("attachment; filename=\"page.html\"")
    );
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
}

#[tokio::test]
async fn embedded_secrets_are_generated_once_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = EmbeddedSecrets::open(dir.path()).unwrap();
    assert_eq!(secrets.get_string("jwt-signing-key").await.unwrap(), None);
    let first = secrets.get_or_generate("jwt-signing-key").unwrap();
    assert_eq!(first.len(), 64);
    assert_eq!(secrets.get_or_generate("jwt-signing-key").unwrap(), first);
    assert_eq!(
        secrets.get_string("jwt-signing-key").await.unwrap(),
        Some(first)
    );
    assert!(secrets.get_string("../etc/passwd").await.is_err());
}

#[tokio::test]
async fn the_embedded_table_keeps_its_data_across_reopening() {
    use ragenie_common::storage::{Condition, Item, Table};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("items.redb");
    {
        let table = EmbeddedTable::open(&path).unwrap();
        table
            .put(
                Item::new("USER#1", "PROFILE").with("name", "Ada"),
                Condition::None,
            )
            .await
            .unwrap();
    }
    let table = EmbeddedTable::open(&path).unwrap();
    assert_eq!(
        table
            .get("USER#1", "PROFILE")
            .await
            .unwrap()
            .unwrap()
            .str("name"),
        Some("Ada")
    );
}
