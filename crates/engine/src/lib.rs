//! # relaycache-engine
//!
//! The in-process cache engine behind relaycache's `single` mode. It is synchronous, owns no threads and
//! does not depend on tokio, so it can be used from any context and tested deterministically.
//!
//! Planned shape (see `ARCHITECTURE.md`):
//! - `shard`: a lock-protected slice of the key space holding entries and the eviction structure;
//! - `admission`: the TinyLFU frequency sketch (4-bit count-min, periodic halving, doorkeeper);
//! - `ttl`: the timer wheel that reclaims expired entries without needing reads;
//! - `stats`: hit, miss, insert, update, rejection and eviction counters by cause;
//! - `loader`: single-flight `get_or_load`.
