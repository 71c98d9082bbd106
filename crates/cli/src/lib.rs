//! The `ragenie` command-line client: a typed client for the RaGenie API, streamed chat,
//! import of everything a Ragbot user has (data folders in both layouts, saved sessions,
//! `engines.yaml`) and export to the Ragbot workspace layout or one JSON archive. The binary
//! (`src/main.rs`) only hands the process's arguments and streams to [`cli::run`].

pub mod admin;
pub mod admin_fsck;
pub mod chat;
pub mod cli;
pub mod client;
pub mod config;
pub mod export;
pub mod import;
pub mod plan;
pub mod ragbot;
pub mod sse;
