//! Integration tests of relaycache-server: real TCP, real clients (`redis-cli`, `redis-benchmark`, the
//! `redis` crate, our own client), in-process servers on port 0 and the real binaries.

mod admin;
mod benchmark;
mod cli;
mod commands;
mod limits;
mod malformed;
mod redis_cli;
mod redis_crate;
mod shutdown;
mod support;
