//! `relaycache-bench`: compares relaycache's engine with peer caches (quick_cache, moka, stretto,
//! `Mutex<lru>`), one command per table:
//!
//! - `hitratio`: trace replays with Belady OPT and exact LRU columns, plus SVG charts in `docs/`;
//! - `throughput`: Zipf key streams, read / mixed / write / mixed-with-TTL, 1 and 2 threads, one
//!   child process per cache;
//! - `memory`: resident bytes per entry beyond key + value, one cache per child process;
//! - `facade`: the path users get: the facade's `SingleCache` through the async `Cache` trait against
//!   quick_cache and moka holding `Bytes` keys and values, the same workloads as `throughput`, one
//!   child process per cache.
//!
//! Modules: [`adapter`] (one impl per cache), [`sim`] (OPT and exact LRU), [`trace`] and [`zipf`]
//! (inputs), [`table`] and [`svg`] (outputs), one module per command ([`facade`] has its own
//! byte-slice view of its caches).

mod adapter;
mod cputime;
mod facade;
mod hitratio;
mod lane_process;
mod memory;
mod rng;
mod sim;
mod svg;
mod synthetic;
mod table;
mod throughput;
mod trace;
mod zipf;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Benchmarks of relaycache's engine against peer caches.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Hit ratio of every cache on every trace at five capacities, with OPT and LRU; writes SVG charts.
    Hitratio(hitratio::Args),
    /// Mops/s on Zipf key streams (read, 75/25 mixed, write, mixed with TTL), 1 and 2 threads.
    Throughput(throughput::Args),
    /// Resident bytes per entry beyond key + value at 1M entries, one cache per child process.
    Memory(memory::Args),
    /// Mops/s of the facade's SingleCache through the async Cache trait against quick_cache and moka
    /// holding Bytes, on the throughput workloads.
    Facade(facade::Args),
}

/// The name clap accepts for `v` on the command line (what a child process is given).
pub(crate) fn cli_name<T: clap::ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map_or_else(String::new, |p| p.get_name().to_owned())
}

/// What a child process prints when the cache it was asked for is not available in this build.
pub(crate) const UNAVAILABLE: &str = "UNAVAILABLE";

/// The repository root (this crate lives in `<repo>/crates/bench`).
pub(crate) fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(std::path::Path::parent)
        .map_or(manifest.clone(), std::path::Path::to_path_buf)
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Hitratio(args) => hitratio::main(args),
        Command::Throughput(args) => throughput::main(args),
        Command::Memory(args) => memory::main(args),
        Command::Facade(args) => facade::main(args),
    }
}
