//! Integration tests of the facade: configuration, the disabled backend, and the conformance suite itself.

// A failed unwrap is a failed test, with its location; that is what tests want.
#![allow(clippy::unwrap_used)]

mod config;
mod disabled;
mod faulty;
mod suite_can_fail;
