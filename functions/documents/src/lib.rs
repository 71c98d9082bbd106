//! The `documents` function: its routes, served on Lambda, by the local server and in tests.

use axum::Router;
use ragenie_common::AppState;
use ragenie_common::http::function_router;

/// The name this function's health route and logs carry.
pub const FUNCTION: &str = "documents";

pub fn router(state: AppState) -> Router {
    function_router(FUNCTION, Router::new(), state)
}
