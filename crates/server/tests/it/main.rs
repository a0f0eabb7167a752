//! Integration tests of the relaycache binaries.

// A failed unwrap is a failed test, with its location; that is what tests want.
#![allow(clippy::unwrap_used)]

mod cli_config;
