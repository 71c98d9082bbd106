//! How the AWS clients retry and how long they wait, in one place: adaptive retry (client-side
//! rate limiting that backs off when the service throttles) with a bounded number of attempts,
//! and per-attempt and per-operation timeouts, so a slow or throttling store costs a request a
//! bounded time and ends in a retryable 503, never a Lambda timeout.
//!
//! The budgets fit inside API Gateway's 29 s: DynamoDB and Secrets Manager answer in
//! milliseconds, so a 3 s attempt is already a fault; S3 attempts move up to 64 MB uploads.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// First retry waits up to this long (full jitter), doubling up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The services the adapters call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    S3,
    SecretsManager,
}

/// The shared configuration's loader with this policy (DynamoDB's timeouts as the default;
/// the S3 and Secrets Manager clients set their own).
pub fn apply(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    loader
        .retry_config(retry_config())
        .timeout_config(timeout_config(Service::DynamoDb))
}

/// Adaptive retry with bounded attempts, the same for every service.
pub fn retry_config() -> RetryConfig {
    RetryConfig::adaptive()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// The timeouts of one service's calls: one attempt, and the whole operation with its retries.
pub fn timeout_config(service: Service) -> TimeoutConfig {
    let (attempt, operation) = match service {
        Service::DynamoDb | Service::SecretsManager => {
            (Duration::from_secs(3), Duration::from_secs(10))
        }
        Service::S3 => (Duration::from_secs(15), Duration::from_secs(25)),
    };
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_config::retry::RetryMode;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::storage::aws::{AwsSecrets, DynamoTable, S3Blobs, load_sdk_config};
    use crate::storage::{StoreError, Table};

    #[tokio::test]
    async fn every_client_retries_adaptively_a_bounded_number_of_times_within_timeouts() {
        let sdk = load_sdk_config().await;
        let retry = sdk.retry_config().expect("retry config");
        assert_eq!(retry.mode(), RetryMode::Adaptive);
        assert_eq!(retry.max_attempts(), MAX_ATTEMPTS);
        assert_eq!(retry.max_backoff(), MAX_BACKOFF);
        let dynamo = DynamoTable::new(&sdk, "t");
        let s3 = S3Blobs::new(&sdk, "b");
        let secrets = AwsSecrets::new(&sdk);
        let configs = [
            (dynamo.client().config().timeout_config(), Service::DynamoDb),
            (s3.client().config().timeout_config(), Service::S3),
            (
                secrets.client().config().timeout_config(),
                Service::SecretsManager,
            ),
        ];
        for (config, service) in configs {
            let config = config.expect("timeouts");
            let expected = timeout_config(service);
            assert_eq!(config.connect_timeout(), Some(CONNECT_TIMEOUT));
            assert_eq!(
                config.operation_attempt_timeout(),
                expected.operation_attempt_timeout()
            );
            let operation = config.operation_timeout().expect("operation timeout");
            assert_eq!(Some(operation), expected.operation_timeout());
            // Every operation ends well inside API Gateway's 29 s.
            assert!(operation < Duration::from_secs(29), "{service:?}");
        }
        assert_eq!(
            s3.client().config().retry_config().map(|r| r.mode()),
            Some(RetryMode::Adaptive)
        );
    }

    /// An HTTP endpoint that answers every request with `response` (or never, when `None`),
    /// counting the requests.
    async fn fake_endpoint(response: Option<&'static str>) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut request = Vec::new();
                    // Reads one request: headers, then the body its length announces.
                    loop {
                        let Ok(n) = socket.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&request).to_lowercase();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length {
                                seen.fetch_add(1, Ordering::SeqCst);
                                match response {
                                    Some(body) => {
                                        let reply = format!(
                                            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                                            body.len()
                                        );
                                        let _ = socket.write_all(reply.as_bytes()).await;
                                        request.clear();
                                    }
                                    None => std::future::pending::<()>().await,
                                }
                            }
                        }
                    }
                });
            }
        });
        (url, count)
    }

    fn loader(url: &str) -> aws_config::ConfigLoader {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url(url)
    }

    #[tokio::test]
    async fn a_throttling_table_is_retried_max_attempts_times_then_reported_as_throttled() {
        let (url, requests) = fake_endpoint(Some(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
        ))
        .await;
        let sdk = apply(loader(&url)).load().await;
        let table = DynamoTable::new(&sdk, "t");
        let result = table.get("P", "S").await;
        assert!(matches!(result, Err(StoreError::Throttled)), "{result:?}");
        assert!(result.unwrap_err().is_transient());
        assert_eq!(requests.load(Ordering::SeqCst), MAX_ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn a_table_that_never_answers_times_out_as_a_transient_error() {
        let (url, requests) = fake_endpoint(None).await;
        // The policy's retries with shorter timeouts, so the test takes a second.
        let sdk = apply(loader(&url)).load().await;
        // Its own retry partition: adaptive retry's rate limiter is shared per partition, and the
        // throttling test beside this one slows the default partition down.
        let short = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_partition(aws_sdk_dynamodb::config::retry::RetryPartition::new(
                "never-answers",
            ))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(200))
                    .operation_timeout(Duration::from_millis(1500))
                    .build(),
            )
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(short);
        let started = std::time::Instant::now();
        let err = client
            .get_item()
            .table_name("t")
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("P".into()))
            .send()
            .await
            .unwrap_err();
        let mapped = super::super::table::write_error(err, "reading an item");
        assert!(matches!(mapped, StoreError::Timeout), "{mapped:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(requests.load(Ordering::SeqCst), MAX_ATTEMPTS as usize);
    }
}
