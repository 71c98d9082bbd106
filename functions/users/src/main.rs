//! The `users` function on AWS Lambda: everything it does lives in the library's router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ragenie_common::lambda::serve(ragenie_users::router).await
}
