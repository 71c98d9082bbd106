//! The `ingest` function on AWS Lambda: SQS events in, the library's `handle` does the work.

use ragenie_corpus::{ProviderState, ProviderUse};

fn main() -> Result<(), lambda_runtime::Error> {
    // Uploads are extracted in limited child processes of this binary; as such a child, this
    // process does its one job and exits here.
    ragenie_extract::sandbox::init_with(ragenie_ingest::extraction_limits());
    serve()
}

#[tokio::main]
async fn serve() -> Result<(), lambda_runtime::Error> {
    let app = ragenie_common::lambda::init().await?;
    let max_attempts = ragenie_ingest::max_attempts(|name| std::env::var(name).ok())?;
    let state = ProviderState::connect(app, ProviderUse::Ingest).await?;
    let corpus = state.corpus;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<_>| {
            let corpus = corpus.clone();
            async move {
                let response = ragenie_ingest::handle(&corpus, event.payload, max_attempts).await;
                ragenie_common::metrics::emf::flush();
                Ok::<_, lambda_runtime::Error>(response)
            }
        },
    ))
    .await
}
