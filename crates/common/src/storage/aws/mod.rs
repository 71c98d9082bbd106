//! The AWS adapters: DynamoDB for items, S3 for blobs, Secrets Manager for secrets, SQS for
//! queues. Clients are built once per process (cold start) and shared. `AWS_ENDPOINT_URL`
//! points them at an emulator, S3 then using path-style addressing.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem,
    Update as DynamoUpdate,
};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::MetadataDirective;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Number, Value};

use super::cursor::Cursor;
use super::{
    Blob, BlobMeta, BlobStream, Blobs, Condition, CopyRequest, Item, MAX_ITEM_BYTES, Order, Page,
    PresignMethod, PresignRequest, PresignedUrl, Query, Scan, Secrets, SortKey, StoreError,
    StoreResult, Table, TxOp, Update, UpdateRequest, at_most, attr, validate_blob_key,
    validate_transaction,
};
use crate::clock;

/// Loads the shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL`) once, with
/// the retry and timeout policy of [`policy`] (each client sets its own service's timeouts).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    policy::apply(aws_config::defaults(aws_config::BehaviorVersion::latest()))
        .load()
        .await
}

/// An SDK failure as the port's error: throttling, timeouts, connection failures and the
/// service's own 5xx are transient (the client is told to retry); the rest is unexpected.
fn sdk_error<E>(context: &'static str) -> impl FnOnce(SdkError<E>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |err| match transient(&err) {
        Some(e) => {
            tracing::warn!(error = %e, context, "the store failed transiently after the SDK's retries");
            e
        }
        None => StoreError::Unexpected(anyhow::Error::new(err).context(context)),
    }
}

/// Error codes of DynamoDB, S3 and Secrets Manager that mean "slow down".
const THROTTLING_CODES: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "Throttling",
    "SlowDown",
    "TooManyRequestsException",
];

fn transient<E>(err: &SdkError<E>) -> Option<StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::TimeoutError(_) => Some(StoreError::Timeout),
        SdkError::DispatchFailure(f) if f.is_timeout() => Some(StoreError::Timeout),
        SdkError::DispatchFailure(f) if f.is_io() => Some(StoreError::Unavailable(
            "the store could not be reached".into(),
        )),
        SdkError::ResponseError(_) => Some(StoreError::Unavailable(
            "the store's answer could not be read".into(),
        )),
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if THROTTLING_CODES.contains(&code) {
                return Some(StoreError::Throttled);
            }
            let status = service.raw().status().as_u16();
            (status >= 500 || code == "RequestTimeout")
                .then(|| StoreError::Unavailable(format!("the store answered {status} {code}")))
        }
        _ => None,
    }
}

mod blobs;
pub mod policy;
mod presign;
mod queue;
mod secrets;
mod table;

pub use blobs::S3Blobs;
pub use queue::SqsQueue;
pub use secrets::AwsSecrets;
pub use table::DynamoTable;
