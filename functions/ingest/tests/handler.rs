//! The ingest function's handler on SQS events as Lambda delivers them, on the embedded store.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use bytes::Bytes;
use ragenie_common::storage::LocalQueue;
use ragenie_common::testing::{embedded_state, test_user};
use ragenie_corpus::{Corpus, DocumentKind, DocumentStatus, NewDocument};
use serde_json::json;

/// An SQS event of these (message id, body, receive count) records, in Lambda's JSON shape.
fn event(records: &[(&str, &str, u32)]) -> SqsEvent {
    let records: Vec<_> = records
        .iter()
        .map(|(id, body, count)| {
            json!({
                "messageId": id,
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": count.to_string(), "SentTimestamp": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn markdown(name: &str, text: &str) -> NewDocument {
    NewDocument {
        name: name.into(),
        folder: String::new(),
        kind: DocumentKind::Dataset,
        media_type: "text/markdown".into(),
        bytes: Bytes::from(text.to_owned()),
    }
}

#[tokio::test]
async fn a_batch_is_ingested_and_only_the_failed_messages_go_back_to_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let state = embedded_state(dir.path(), "http://127.0.0.1:9").await;
    let (queue, mut sent) = LocalQueue::new();
    let corpus = Corpus::new(state.table.clone(), state.blobs.clone()).with_queue(Arc::new(queue));
    let (user, _) = test_user();
    let (a, _) = corpus
        .upload(user, markdown("a.md", "apples"))
        .await
        .unwrap();
    let (b, _) = corpus
        .upload(user, markdown("b.md", "pears"))
        .await
        .unwrap();
    let (first, second) = (sent.try_recv().unwrap(), sent.try_recv().unwrap());

    let response = ragenie_ingest::handle(
        &corpus,
        event(&[("m1", &first, 1), ("m2", "not a job", 1)]),
        3,
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        corpus.get(user, &a.id).await.unwrap().status,
        DocumentStatus::Ready
    );

    // The blob store breaks: the message fails and is handed back by its id; on the last
    // delivery the document is marked failed.
    let blobs = dir.path().join("blobs");
    std::fs::rename(&blobs, dir.path().join("moved")).unwrap();
    std::fs::write(&blobs, b"not a folder").unwrap();
    let response = ragenie_ingest::handle(&corpus, event(&[("m3", &second, 1)]), 3).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m3"]);
    assert_eq!(
        corpus.get(user, &b.id).await.unwrap().status,
        DocumentStatus::Processing
    );
    let response = ragenie_ingest::handle(&corpus, event(&[("m3", &second, 3)]), 3).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let doc = corpus.get(user, &b.id).await.unwrap();
    assert_eq!(doc.status, DocumentStatus::Failed);
    assert!(doc.failure_reason.unwrap().contains("3 attempt"));
}

#[test]
fn the_attempts_come_from_the_environment_and_a_bad_value_names_the_variable() {
    let none = |_: &str| None;
    assert_eq!(
        ragenie_ingest::max_attempts(none),
        Ok(ragenie_ingest::DEFAULT_MAX_ATTEMPTS)
    );
    assert_eq!(ragenie_ingest::max_attempts(|_| Some("5".into())), Ok(5));
    for bad in ["0", "-1", "three"] {
        let error = ragenie_ingest::max_attempts(|_| Some(bad.into())).unwrap_err();
        assert!(error.contains(ragenie_ingest::MAX_ATTEMPTS_ENV), "{error}");
    }
}
