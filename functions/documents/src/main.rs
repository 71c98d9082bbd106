//! The `documents` function on AWS Lambda: everything it does lives in the library's router.
//! With an embedding model configured, provider keys come from Secrets Manager, read once at
//! cold start (and only then: plain BM25 needs no provider).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = ragenie_common::lambda::init().await?;
    let keys = match state.settings.embedding {
        Some(_) => ragenie_corpus::embedding::load_provider_keys(&state).await?,
        None => ragenie_gateway::ProviderKeys::default(),
    };
    let router =
        ragenie_common::http::with_fallback(ragenie_documents::router_with_keys(state, keys));
    lambda_http::run(router).await
}
