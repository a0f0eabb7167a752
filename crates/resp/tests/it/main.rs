//! Integration tests of relaycache-resp: property tests over the public API.

mod alloc;
mod garbage;
mod roundtrip;
