//! The `chat` function on AWS Lambda, streaming its answers through a Function URL in
//! RESPONSE_STREAM mode. Provider keys come from Secrets Manager, read once at cold start.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = ragenie_common::lambda::init().await?;
    let keys = ragenie_chat::load_provider_keys(&state).await?;
    let router = ragenie_common::http::with_fallback(ragenie_chat::router_with_keys(state, keys));
    lambda_http::run_with_streaming_response(router).await
}
