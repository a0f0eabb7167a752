//! The internal RPC (see `docs/cluster.md`, "The RPC protocol").

pub mod message;
