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

/// The memory allocator of every binary built on this crate (each function, the local server).
/// glibc's malloc raises its mmap threshold to the size of the largest block freed, so after
/// the first sign-in (Argon2id allocates 19 MiB) such blocks come from per-thread arenas that
/// keep them: a local server grew from 76 MB to 531 MB resident over 64 sign-ins, and kept
/// growing under the soak. mimalloc reuses freed memory and returns it to the system
/// (`tests/soak.rs`: `sign_ins_leave_resident_memory_bounded`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub use state::{AppState, FunctionState, HasAppState};
