//! The storage conformance suite on the AWS adapters (DynamoDB, S3, Secrets Manager), against
//! whatever `AWS_ENDPOINT_URL` names: the moto server `run.sh` starts, LocalStack, or (unset) a
//! real account. Each test gets its own table and bucket.

use std::sync::Arc;

use ragenie_common::storage::Secrets;
use ragenie_common::storage::aws::{AwsSecrets, DynamoTable, S3Blobs, load_sdk_config};
use ragenie_common::storage::conformance::StoreFixture;

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

async fn aws() -> StoreFixture {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("RAGENIE_TEST_REAL_AWS").is_some(),
        "run these through tests/localstack/run.sh (or set RAGENIE_TEST_REAL_AWS=1 to use a real account)"
    );
    let sdk = load_sdk_config().await;
    let table = DynamoTable::new(&sdk, unique("ragenie-conformance"));
    table.create_table().await.expect("creating the test table");
    let bucket = unique("ragenie-conformance");
    let blobs = S3Blobs::new(&sdk, bucket.clone());
    blobs
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("creating the test bucket");
    StoreFixture {
        table: Arc::new(table),
        blobs: Arc::new(blobs),
        guard: Box::new(()),
    }
}

ragenie_common::storage_conformance_tests!(aws);

#[tokio::test]
async fn secrets_manager_secrets_are_read_and_missing_ones_are_none() {
    let _ = aws().await;
    let sdk = load_sdk_config().await;
    let secrets = AwsSecrets::new(&sdk);
    let name = unique("ragenie/test-secret");
    secrets
        .client()
        .create_secret()
        .name(&name)
        .secret_string("s3cr3t")
        .send()
        .await
        .unwrap();
    assert_eq!(
        secrets.get_string(&name).await.unwrap().as_deref(),
        Some("s3cr3t")
    );
    assert_eq!(
        secrets.get_string(&unique("ragenie/absent")).await.unwrap(),
        None
    );
}
