//! RaGenie's shared core: configuration, errors, telemetry, HTTP plumbing, authentication, and
//! the storage ports with their AWS and embedded adapters. Every function crate builds on it.

pub mod accounts;
pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod http;
pub mod lambda;
pub mod state;
pub mod storage;
pub mod telemetry;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use error::{ApiError, ApiResult};
pub use state::AppState;
