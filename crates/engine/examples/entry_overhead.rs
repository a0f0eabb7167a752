//! Measures the resident bytes per entry beyond key + value of a [`ByteCache`] (the number behind
//! `ENTRY_OVERHEAD`): fills 1M entries of 16-byte keys and 64-byte values and compares RSS before and
//! after. Linux only (reads `/proc/self/statm`). Run: `cargo run --release -p relaycache-engine
//! --example entry_overhead [entries] [num_counters]`.

use relaycache_engine::ByteCache;

fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let mut args = std::env::args().skip(1);
    let entries: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let counters: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(entries * 10);
    let before = rss();
    let cache = ByteCache::new(u64::MAX / 2, counters).expect("valid");
    let sketch = rss() - before;
    for i in 0..entries {
        let key = format!("{i:016x}");
        cache.insert(key.as_bytes(), &[0xA5; 64]);
    }
    let after = rss();
    let held = cache.len() as u64;
    let per_entry = (after - before) as f64 / held as f64;
    println!(
        "{held} entries: {per_entry:.1} B/entry resident, {:.1} B beyond the 80-byte payload \
         ({:.1} B of it the admission sketch for {counters} counters)",
        per_entry - 80.0,
        sketch as f64 / held as f64
    );
}
