//! The `ingest` function: a plain `lambda_runtime` handler of SQS events. Each message is an
//! ingest job the documents function queued after storing an upload's bytes; the corpus does
//! the work (`pending → processing → ready | failed`), exactly as the local server's background
//! worker does. A message that fails is reported back (partial batch response), so SQS delivers
//! it again, up to the queue's `maxReceiveCount`, then moves it to the dead-letter queue; on that
//! last delivery the document is marked `failed` with the reason, so the user can retry it.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use ragenie_corpus::Corpus;

/// The name this function's logs carry.
pub const FUNCTION: &str = "ingest";

/// Deliveries SQS makes before the dead-letter queue: the queue's `maxReceiveCount`, which the
/// CDK stack and `template.yaml` pass to the function as this variable.
pub const MAX_ATTEMPTS_ENV: &str = "RAGENIE_INGEST_MAX_ATTEMPTS";
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The extraction sandbox's limits, sized for 100 MB files in the function's memory (3 GB):
/// the child may use 2 GB and 10 minutes.
pub fn extraction_limits() -> ragenie_extract::sandbox::Limits {
    ragenie_extract::sandbox::Limits {
        memory_bytes: 2 * 1024 * 1024 * 1024,
        cpu_secs: 600,
        wall: Duration::from_secs(660),
    }
}

/// The deliveries before the dead-letter queue, from `RAGENIE_INGEST_MAX_ATTEMPTS`.
pub fn max_attempts(lookup: impl Fn(&str) -> Option<String>) -> Result<u32, String> {
    match lookup(MAX_ATTEMPTS_ENV) {
        None => Ok(DEFAULT_MAX_ATTEMPTS),
        Some(raw) => match raw.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!(
                "{MAX_ATTEMPTS_ENV}={raw:?} is not valid: expected a whole number from 1"
            )),
        },
    }
}

/// Handles one batch of queue messages; the ids of those that failed go back to SQS.
pub async fn handle(corpus: &Corpus, event: SqsEvent, max_attempts: u32) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let attempt = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let body = record.body.as_deref().unwrap_or_default();
        match corpus
            .handle_ingest_message(body, attempt, max_attempts)
            .await
        {
            Ok(outcome) => tracing::info!(message_id = %id, ?outcome, "ingest message handled"),
            Err(e) => {
                tracing::warn!(message_id = %id, attempt, error = %e, "ingest message failed");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
