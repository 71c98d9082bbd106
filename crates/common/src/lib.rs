//! RaGenie's shared core: configuration, errors, telemetry (logs, request ids, metrics), HTTP
//! plumbing, authentication, the audit trail, and the storage ports with their AWS and embedded
//! adapters. Every function crate builds on it.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod folders;
pub mod http;
pub mod idempotency;
pub mod lambda;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod origin;
pub mod request_id;
pub mod state;
pub mod storage;
pub mod telemetry;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use error::{ApiError, ApiResult};
pub use state::AppState;
