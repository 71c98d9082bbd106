//! The storage conformance suite on the AWS adapters (DynamoDB, S3, Secrets Manager), against
//! whatever `AWS_ENDPOINT_URL` names: the moto server `run.sh` starts, LocalStack, or (unset) a
//! real account. Each test gets its own table and bucket.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ragenie_common::storage::Secrets;
use ragenie_common::storage::conformance::StoreFixture;
use support::{FreshStore, unique};

async fn aws() -> StoreFixture {
    let store = FreshStore::create("ragenie-conformance").await;
    StoreFixture {
        table: Arc::new(store.table),
        blobs: Arc::new(store.blobs),
        guard: Box::new(()),
    }
}

ragenie_common::storage_conformance_tests!(aws);

/// The commit copies an upload only while it has the ETag whose bytes were hashed
/// (`x-amz-copy-source-if-match`). moto 5.2 ignores that header, so the refusal is asserted
/// against LocalStack or a real account (`RAGENIE_TEST_S3_COPY_CONDITIONS=1` or
/// `RAGENIE_TEST_REAL_AWS=1`) and always on the embedded store; on moto the same copy without
/// the stale condition is covered by the suite above.
#[tokio::test]
async fn a_copy_from_a_replaced_source_copies_nothing() {
    let fixture = aws().await;
    if std::env::var_os("RAGENIE_TEST_S3_COPY_CONDITIONS").is_some()
        || std::env::var_os("RAGENIE_TEST_REAL_AWS").is_some()
    {
        ragenie_common::storage::conformance::a_copy_from_a_replaced_source_copies_nothing(
            fixture.blobs.as_ref(),
        )
        .await;
    }
}

#[tokio::test]
async fn secrets_manager_secrets_are_read_and_missing_ones_are_none() {
    let store = FreshStore::create("ragenie-conformance").await;
    let name = store.secret("ragenie/test-secret", "s3cr3t").await;
    let secrets = &store.secrets;
    assert_eq!(
        secrets.get_string(&name).await.unwrap().as_deref(),
        Some("s3cr3t")
    );
    assert_eq!(
        secrets.get_string(&unique("ragenie/absent")).await.unwrap(),
        None
    );
}

/// S3 refuses a body over (or under) the announced size because the presigned PUT signs
/// `Content-Length`: S3 recomputes the signature from the request's actual length. moto checks
/// no presigned signature at all (TOOLCHAIN_NOTES: it accepts tampered URLs), so against moto
/// this proves what the URL commits S3 to — the length among its signed headers, the exact
/// body accepted — and the refusal itself is proven on the embedded store, which enforces the
/// same contract (`crates/common/tests/embedded_store.rs`). Against LocalStack or a real
/// account (`RAGENIE_TEST_REAL_AWS=1`) the refusal is asserted here too.
#[tokio::test]
async fn a_presigned_put_signs_its_content_length() {
    let fixture = aws().await;
    let blobs = fixture.blobs;
    let key = "uploads/users/u1/doc";
    let put = blobs
        .presign_put(key, "text/plain", 11, Duration::from_secs(300))
        .await
        .unwrap();
    let url = url::Url::parse(&put.url).unwrap();
    let signed: Vec<String> = url
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-SignedHeaders")
        .map(|(_, v)| v.split(';').map(str::to_owned).collect())
        .unwrap_or_default();
    assert!(
        signed.iter().any(|h| h == "content-length"),
        "Content-Length is signed: {signed:?}"
    );
    assert!(signed.iter().any(|h| h == "content-type"), "{signed:?}");
    assert!(
        put.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-length") && v == "11"),
        "{:?}",
        put.headers
    );
    let http = reqwest::Client::new();
    let send = |body: &'static str| {
        let mut request = http.put(&put.url).body(body);
        for (k, v) in &put.headers {
            if !k.eq_ignore_ascii_case("content-length") {
                request = request.header(k, v);
            }
        }
        request.send()
    };
    if std::env::var_os("RAGENIE_TEST_S3_VERIFIES_SIGNATURES").is_some()
        || std::env::var_os("RAGENIE_TEST_REAL_AWS").is_some()
    {
        let refused = send("more than eleven bytes").await.unwrap();
        assert_eq!(refused.status(), 403, "S3 refuses another length");
        assert!(blobs.head(key).await.unwrap().is_none());
    }
    assert!(send("hello world").await.unwrap().status().is_success());
    assert_eq!(blobs.head(key).await.unwrap().unwrap().size, 11);
}
