//! Integration tests of relaycache-server and the relaycache tool: real TCP, real clients (`redis-cli`,
//! `redis-benchmark`, the `redis` crate, our own client), in-process servers on port 0 and the real
//! binaries.

// A failed unwrap is a failed test, with its location; that is what tests want.
#![allow(clippy::unwrap_used)]

mod admin;
mod benchmark;
mod cli;
mod cli_config;
mod cluster;
mod commands;
mod differential;
mod limits;
mod malformed;
mod python;
mod redis_cli;
mod redis_crate;
mod redis_mode;
mod shutdown;
mod support;
mod tls;
mod transaction;
