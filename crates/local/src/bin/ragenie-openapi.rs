//! Prints the OpenAPI document `GET /openapi.json` serves, so tools (the web app's type
//! generator, the contract tests) read the same document without starting a server.

fn main() -> anyhow::Result<()> {
    let doc = ragenie_local::openapi();
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
