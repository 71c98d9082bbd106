//! The `chat` function on AWS Lambda, streaming its answers through a Function URL in
//! RESPONSE_STREAM mode. Provider keys come from Secrets Manager, read once at cold start.

use ragenie_corpus::{ProviderState, ProviderUse};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = ragenie_common::lambda::init().await?;
    let state = ProviderState::connect(app, ProviderUse::Chat).await?;
    lambda_http::run_with_streaming_response(ragenie_common::http::with_fallback(
        ragenie_chat::router(state),
    ))
    .await
}
