//! The backends: each a concrete type usable on its own, each implementing [`Cache`](crate::Cache).

pub mod disabled;
pub mod ha;
#[cfg(feature = "redis")]
pub mod redis;
pub mod single;

pub use disabled::DisabledCache;
pub use ha::HaCache;
#[cfg(feature = "redis")]
pub use redis::{RedisBuilder, RedisCache};
pub use single::SingleCache;
