//! # relaycache-cluster
//!
//! The embeddable HA node behind relaycache's `ha` mode: SWIM membership (foca), a fixed partition table
//! placed by consistent hashing, replication with read/write quorums, the `member_count_quorum` split-brain
//! guard, and graceful leave with partition hand-off. Not implemented yet: this crate is a placeholder that
//! keeps the workspace layout of `ARCHITECTURE.md`.
