//! The backends: each a concrete type usable on its own, each implementing [`Cache`](crate::Cache).

pub mod disabled;
pub mod single;

pub use disabled::DisabledCache;
pub use single::SingleCache;
