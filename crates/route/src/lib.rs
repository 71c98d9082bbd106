//! `#[route]`: a handler's OpenAPI declaration, stated once.
//!
//! What a route answers is already written where a reader looks: the path template, the
//! handler's return type and its doc comment. `#[route(patch, "/profiles/{id}", tag = "profiles")]`
//! expands to `#[utoipa::path]` with
//! - **the success response read from the return type**: `ApiResult<Json<T>>` is a 200 with
//!   `T`, `ApiResult<Created<T>>` a 201 with `T`, `ApiResult<Accepted<T>>` a 202 with `T`,
//!   `ApiResult<NoContent>` a 204 (a route whose
//!   success the type cannot tell, a stream or a redirect, declares it in `responses(…)`);
//! - **a `String` path parameter for every `{name}`** in the template that `params(…)` does
//!   not already describe;
//! - **a response for every bullet of the doc comment's `# Errors` section**
//!   (`- 409: other profiles inherit from it`), which leaves the operation's description.
//!
//! Every other argument (`params`, `security`, `request_body`, `responses`, …) passes through
//! to `utoipa::path`. Refusals every route shares (401, 404 of an id, 422 of a field, …) are
//! not declared here: `ragenie_common::openapi::Contract` adds them to the whole document.

use proc_macro::TokenStream;

mod expand;

/// See the crate documentation.
#[proc_macro_attribute]
pub fn route(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::route(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
