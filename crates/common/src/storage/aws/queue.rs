//! The queue port on SQS: one `SendMessage` per message to the queue the URL names.

use async_trait::async_trait;

use super::sdk_error;
use crate::storage::{Queue, StoreResult};

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(sdk: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(sdk),
            url: url.into(),
        }
    }

    /// The SDK client (tests create queues and receive from them with it).
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl Queue for SqsQueue {
    #[tracing::instrument(skip_all, fields(bytes = message.len()))]
    async fn send(&self, message: String) -> StoreResult<()> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(message)
            .send()
            .await
            .map_err(sdk_error("sqs send_message"))?;
        Ok(())
    }
}
