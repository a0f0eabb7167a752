//! # relaycache-server
//!
//! The binaries of relaycache and the library code they call (kept here so tests call it too):
//! - `relaycache-server`: serves the configured cache mode over RESP, so `redis-cli` and every Redis client
//!   work against it;
//! - `relaycache`: the command-line tool (`config validate`, `config init`, `version`, and client commands
//!   against a running server).
//!
//! Modules:
//! - [`cli`]: argument parsing and the commands of the `relaycache` tool.

pub mod cli;
