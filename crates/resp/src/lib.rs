//! # relaycache-resp
//!
//! The Redis serialization protocol (RESP2 and RESP3) as used by relaycache: frames, an incremental decoder
//! with limits, an encoder and command parsing. It knows nothing about caches; the server executes commands.
