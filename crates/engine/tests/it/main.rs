//! Integration tests of the engine: one binary, one module per concern.

mod basics;
mod compute;
mod loader;
mod model;
#[cfg(feature = "shuttle")]
mod schedules;
mod stress;
