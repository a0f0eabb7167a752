//! The backends: each a concrete type usable on its own, each implementing [`Cache`](crate::Cache).

pub mod disabled;

pub use disabled::DisabledCache;
