//! relaycache-engine, the cache under test.
//!
//! The engine's `Cache` API is not on this branch yet: until it is, [`Relay::build`] returns `None` and
//! every table shows `n/a` for relaycache. No number is ever made up for it.

use std::marker::PhantomData;
use std::time::Duration;

use super::{Adapter, Key, Spec, Value};

/// Placeholder for the engine's cache.
pub(crate) struct Relay<K, V>(PhantomData<fn(K) -> V>);

impl<K: Key, V: Value> Adapter<K, V> for Relay<K, V> {
    fn build(_spec: &Spec) -> Option<Self> {
        None
    }

    fn get(&self, _key: &K) -> Option<V> {
        None
    }

    fn insert(&self, _key: K, _value: V) {}

    fn insert_with_ttl(&self, _key: K, _value: V, _ttl: Duration) {}
}
