//! Test helpers (feature `testing`): [`MemoryCache`], a small storing backend, so the server's tests do
//! not depend on a particular engine.

mod memory;

pub use memory::MemoryCache;
