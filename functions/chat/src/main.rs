//! The `chat` function on AWS Lambda, streaming its answers through a Function URL in
//! RESPONSE_STREAM mode. Provider keys come from Secrets Manager, read once at cold start. The
//! URL answers only requests CloudFront forwarded (`RAGENIE_ORIGIN_SECRET_ID`).

use ragenie_corpus::{ProviderState, ProviderUse};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = ragenie_common::lambda::init().await?;
    let state = ProviderState::connect(app.clone(), ProviderUse::Chat).await?;
    // Only CloudFront may call the Function URL; metrics flushed after each answer.
    let router = ragenie_common::lambda::wrap(ragenie_chat::router(state), &app).await?;
    lambda_http::run_with_streaming_response(router).await
}
