//! Asynchronous ingestion on the emulator: a large PDF (16 MB in the test command;
//! `scripts/bench.sh ingest` runs it with 100 MB through `RAGENIE_INGEST_TEST_MB`) uploaded through a presigned S3 PUT and committed is
//! stored `pending`, its job lands on the SQS queue the documents function sends to, and the
//! ingest function's handler, given that very message as Lambda delivers it, makes it `ready`
//! and searchable. A document that fails is retried through the API: a new job on the queue.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsEvent;
use lopdf::{Stream, dictionary};
use ragenie_common::storage::aws::SqsQueue;
use ragenie_common::testing::{Answered, test_user};
use ragenie_corpus::{Corpus, ProviderState};
use ragenie_extract::testing::OnePagePdf;
use rand::RngCore;
use serde_json::{Value, json};
use support::{AwsState, Served, fresh_queue};

/// A one-page PDF that says `text`, padded to about `size` bytes by an incompressible image
/// the page carries (as scanned or photo-heavy PDFs are big).
fn big_pdf(text: &str, size: usize) -> Vec<u8> {
    let mut pdf = OnePagePdf::new();
    let mut pixels = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut pixels);
    let side = ((size / 3) as f64).sqrt() as i64;
    let image_id = pdf.doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => side, "Height" => side,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8,
        },
        pixels,
    ));
    pdf.with_resource("XObject", "Im1", image_id)
        .bytes(OnePagePdf::text(&[text]))
}

struct App {
    api: Served,
    corpus: Arc<Corpus>,
    queue: Arc<SqsQueue>,
}

async fn app() -> App {
    let state = AwsState::new("ragenie-ingest")
        .test_tokens()
        .connect()
        .await;
    let queue = Arc::new(fresh_queue("ragenie-ingest").await);
    // The documents function as deployed: it queues ingestion on SQS.
    let corpus =
        Arc::new(Corpus::new(state.table.clone(), state.blobs.clone()).with_queue(queue.clone()));
    let mut providers = ProviderState::offline(state.clone()).unwrap();
    providers.corpus = corpus.clone();
    let router = ragenie_common::http::with_fallback(ragenie_documents::router(providers));
    App {
        api: Served::start(router, Duration::from_secs(300)).await,
        corpus,
        queue,
    }
}

impl App {
    /// The next message on the queue, as Lambda hands it to the ingest function.
    async fn next_event(&self) -> (SqsEvent, String) {
        let received = self
            .queue
            .client()
            .receive_message()
            .queue_url(self.queue.url())
            .max_number_of_messages(1)
            .wait_time_seconds(5)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let [message] = received.messages.unwrap_or_default().try_into().unwrap();
        let attributes: serde_json::Map<String, Value> = message
            .attributes()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.as_str().to_owned(), Value::from(v.as_str())))
                    .collect()
            })
            .unwrap_or_default();
        let event = json!({"Records": [{
            "messageId": message.message_id(),
            "receiptHandle": message.receipt_handle(),
            "body": message.body(),
            "attributes": attributes,
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "awsRegion": "us-east-1",
        }]});
        (
            serde_json::from_value(event).unwrap(),
            message.receipt_handle().unwrap().to_owned(),
        )
    }

    /// Runs the ingest function's handler on the next message; deletes it when it succeeded,
    /// as the event source mapping does.
    async fn ingest_next(&self) {
        let (event, receipt) = self.next_event().await;
        let response = ragenie_ingest::handle(&self.corpus, event, 3).await;
        assert!(response.batch_item_failures.is_empty());
        self.queue
            .client()
            .delete_message()
            .queue_url(self.queue.url())
            .receipt_handle(receipt)
            .send()
            .await
            .unwrap();
    }

    async fn document(&self, auth: &str, id: &str) -> Value {
        let path = format!("/documents/{id}");
        self.api.get(auth, &path).json_answer().await
    }
}

#[tokio::test]
async fn a_large_pdf_uploaded_presigned_is_ingested_from_the_queue_by_the_ingest_function() {
    let app = app().await;
    let (_, alice) = test_user();
    let mb: usize = std::env::var("RAGENIE_INGEST_TEST_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let pdf = big_pdf(
        "Descale the boiler with citric acid monthly.",
        mb * 1_000_000,
    );
    let started = Instant::now();
    let start = app
        .api
        .start_upload(&alice, "manual.pdf", "application/pdf", pdf.len())
        .await;
    let put = app.api.presigned_put(&start, pdf.clone().into(), true);
    assert!(put.send().await.unwrap().status().is_success());
    let id = start["document_id"].as_str().unwrap();
    let commit = app.api.commit(&alice, id).await;
    assert_eq!(commit.status(), 201);
    let committed: Value = commit.json().await.unwrap();
    assert_eq!(committed["status"], "pending", "{committed}");
    assert_eq!(committed["size"], pdf.len());
    let uploaded = started.elapsed();

    app.ingest_next().await;
    let doc = app.document(&alice, id).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    let ingested = started.elapsed() - uploaded;
    eprintln!(
        "{mb} MB PDF: uploaded and committed in {:.1} s, ingested in {:.1} s more",
        uploaded.as_secs_f64(),
        ingested.as_secs_f64()
    );
    if let Ok(out) = std::env::var("RAGENIE_INGEST_BENCH_OUT") {
        let figures = json!({
            "pdf_mb": mb,
            "upload_and_commit_s": (uploaded.as_secs_f64() * 10.0).round() / 10.0,
            "ingest_s": (ingested.as_secs_f64() * 10.0).round() / 10.0,
            "emulator": "moto server (S3, DynamoDB, SQS) on 127.0.0.1",
            "build": "debug (the emulator suite's test binary)",
        });
        std::fs::write(out, figures.to_string()).unwrap();
    }
    let hits = app.api.search(&alice, "citric acid").await;
    assert_eq!(hits["items"][0]["document_id"], id, "{hits}");
}

#[tokio::test]
async fn a_failed_ingestion_is_retried_through_the_api_with_a_new_job_on_the_queue() {
    let app = app().await;
    let (_, alice) = test_user();
    let broken = &b"%PDF-1.7\n1 0 obj garbage"[..];
    let doc = app
        .api
        .upload(&alice, "broken.pdf", "application/pdf", broken)
        .await;
    assert_eq!(doc["status"], "pending");
    let id = doc["id"].as_str().unwrap();
    app.ingest_next().await;
    let failed = app.document(&alice, id).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["failure_reason"].is_string(), "{failed}");

    let reindex = format!("/documents/{id}/reindex");
    let retry = app.api.post(&alice, &reindex).send().await.unwrap();
    assert_eq!(retry.status(), 202);
    assert_eq!(app.document(&alice, id).await["status"], "pending");
    app.ingest_next().await;
    assert_eq!(app.document(&alice, id).await["status"], "failed");
}
