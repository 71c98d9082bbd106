//! The queue port: work handed to another function (on AWS an SQS queue whose consumer is a
//! Lambda function, with retries and a dead-letter queue) or to a task of this process (locally).
//! Domain code sends a message and never knows which; the consumer of both is the same code.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{StoreError, StoreResult};

/// Sends messages (JSON text) to whoever consumes the queue.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    async fn send(&self, message: String) -> StoreResult<()>;
}

/// An in-process queue: messages go to a receiver that a background task of this process drains
/// (the local server's ingestion worker). Unbounded: a sender never waits, as with SQS.
pub struct LocalQueue {
    sender: mpsc::UnboundedSender<String>,
}

impl LocalQueue {
    /// The queue and the receiving end its consumer drains.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { sender }, receiver)
    }
}

#[async_trait]
impl Queue for LocalQueue {
    async fn send(&self, message: String) -> StoreResult<()> {
        self.sender.send(message).map_err(|_| {
            StoreError::Unexpected(anyhow::anyhow!("the local queue's consumer has stopped"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_queue_delivers_messages_in_order_and_fails_once_its_consumer_is_gone() {
        let (queue, mut receiver) = LocalQueue::new();
        queue.send("one".into()).await.unwrap();
        queue.send("two".into()).await.unwrap();
        assert_eq!(receiver.recv().await.as_deref(), Some("one"));
        assert_eq!(receiver.recv().await.as_deref(), Some("two"));
        drop(receiver);
        assert!(matches!(
            queue.send("three".into()).await,
            Err(StoreError::Unexpected(_))
        ));
    }
}
