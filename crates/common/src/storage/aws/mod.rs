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
use bytes::Bytes;
use serde_json::{Map, Number, Value};

use super::cursor::Cursor;
use super::{
    Blob, BlobMeta, Blobs, Condition, Item, MAX_ITEM_BYTES, Order, Page, PresignedUrl, Query, Scan,
    Secrets, SortKey, StoreError, StoreResult, Table, TxOp, Update, attr, validate_blob_key,
    validate_transaction,
};
use crate::clock;

/// Loads the shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL`) once.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

fn unexpected<E: std::error::Error + Send + Sync + 'static>(
    context: &'static str,
) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Unexpected(anyhow::Error::new(e).context(context))
}

mod blobs;
mod presign;
mod queue;
mod secrets;
mod table;

pub use blobs::S3Blobs;
pub use queue::SqsQueue;
pub use secrets::AwsSecrets;
pub use table::DynamoTable;
