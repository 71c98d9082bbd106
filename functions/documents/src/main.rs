//! The `documents` function on AWS Lambda: everything it does lives in the library's router.
//! With an embedding model configured, provider keys come from Secrets Manager, read once at
//! cold start (and only then: plain BM25 needs no provider).

use ragenie_corpus::{ProviderState, ProviderUse};

fn main() -> Result<(), lambda_http::Error> {
    // Uploads are extracted in limited child processes of this binary (a hostile PDF must not
    // end the function); as such a child, this process does its one job and exits here.
    ragenie_extract::sandbox::init();
    serve()
}

#[tokio::main]
async fn serve() -> Result<(), lambda_http::Error> {
    let app = ragenie_common::lambda::init().await?;
    let state = ProviderState::connect(app.clone(), ProviderUse::EmbeddingsOnly).await?;
    let router = ragenie_common::lambda::wrap(ragenie_documents::router(state), &app).await?;
    lambda_http::run(router).await
}
