//! Reference policies simulated exactly by the tool: Belady's OPT and exact LRU. They are the ceiling and
//! the baseline every real cache is compared against.

pub(crate) mod lru;
pub(crate) mod opt;
