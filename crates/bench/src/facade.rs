//! The `facade` command: Mops/s of relaycache's `single` backend as an application gets it, against the
//! caches the application would otherwise hold `Bytes` in.
//!
//! The subjects (see [`store`]): `SingleCache` driven through the async [`relaycache::Cache`] trait
//! (`get` / `set` / `set_with_ttl`, each future polled once with a no-op waker, no runtime; a future
//! that pends is counted as a failed call and fails the command), quick_cache 0.7 and moka 0.12
//! `sync::Cache<Bytes, Bytes>`. Keys are the Zipf streams' `u64` keys written as 16 hex digits;
//! values are a fixed payload of the row's size. The calls are symmetric with what each user writes:
//!
//! - a set hands the cache the key and value as byte slices: `SingleCache::set` copies them into its
//!   entry, and the peers' callers copy them into two fresh `Bytes` and insert those;
//! - a get hands the cache the key as a byte slice and gets an owned `Bytes` back: whatever
//!   `SingleCache::get` returns, and a clone of the stored `Bytes` (a reference-count increment) from
//!   the peers.
//!
//! Capacity is 10% of the keyspace in entries; `SingleCache`'s byte bound is that many entries of key +
//! value + `ENTRY_OVERHEAD` bytes. quick_cache has no TTL, so for the TTL workload it stores the value
//! with its deadline and treats an expired value as a miss; moka takes the TTL as its cache-wide
//! `time_to_live`. Otherwise the method is the `throughput` command's: one child process per cache
//! (see [`lane`]), prefill with the hottest keys, interleaved runs with a rotating order, median and
//! min-max, wall-clock and on-CPU rates, ratio of medians to quick_cache. `SingleCache` also runs its
//! expiry reaper thread, as in a service; that thread's CPU time is not in the on-CPU rates.

mod lane;
mod store;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use self::lane::{Lane, LaneSpec, Local, Remote, RunSpec};
use self::store::{Failure, Store, key_bytes};
use crate::cputime;
use crate::table::Table;
use crate::throughput::Workload;
use crate::zipf;

/// The caches this command compares, in table column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Subject {
    /// relaycache's `SingleCache` (the `single` backend) through the async `Cache` trait.
    Single,
    /// quick_cache 0.7 `sync::Cache<Bytes, Bytes>` (the reference for ratios).
    QuickCache,
    /// moka 0.12 `sync::Cache<Bytes, Bytes>`.
    Moka,
}

impl Subject {
    /// Every subject, in column order.
    pub(crate) const ALL: [Subject; 3] = [Subject::Single, Subject::QuickCache, Subject::Moka];

    /// The column label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Subject::Single => "SingleCache",
            Subject::QuickCache => "quick_cache",
            Subject::Moka => "moka",
        }
    }
}

/// The row label of a workload.
fn workload_label(workload: Workload) -> &'static str {
    match workload {
        Workload::Read => "read",
        Workload::Mixed => "75/25 mixed",
        Workload::Write => "write",
        Workload::Ttl => "mixed + TTL",
    }
}

/// Arguments of `facade`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Keyspace sizes (distinct keys of the Zipf distribution); capacity is 10% of each.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000_000u64, 10_000_000])]
    keys: Vec<u64>,
    /// Value sizes in bytes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![64usize, 1024])]
    values: Vec<usize>,
    /// Workloads to run.
    #[arg(long, value_delimiter = ',', default_values_t = vec![Workload::Read, Workload::Mixed, Workload::Write, Workload::Ttl], value_enum)]
    workloads: Vec<Workload>,
    /// Thread counts to run.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 2])]
    threads: Vec<usize>,
    /// Caches to run.
    #[arg(long, value_delimiter = ',', default_values_t = Subject::ALL.to_vec(), value_enum)]
    caches: Vec<Subject>,
    /// Measured runs per cache and row, interleaved between caches; the table shows the median and
    /// the min-max.
    #[arg(long, default_value_t = 9)]
    runs: usize,
    /// Length of one measured run in milliseconds.
    #[arg(long, default_value_t = 150)]
    run_ms: u64,
    /// TTL of the `ttl` workload's writes, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    ttl_ms: u64,
    /// Zipf exponent.
    #[arg(long, default_value_t = 1.0)]
    zipf_s: f64,
    /// Fast smoke run: 1M keys, 64-byte values, 3 runs of 100 ms per cell.
    #[arg(long)]
    quick: bool,
    /// Build and run every cache in this process instead of one child process per cache.
    #[arg(long)]
    in_process: bool,
    /// Internal: serve one cache's runs as a child process (see the `lane` module).
    #[arg(long, hide = true)]
    lane: Option<Subject>,
    /// Internal: the child's cache is built and prefilled for the TTL workload.
    #[arg(long, hide = true)]
    lane_ttl: bool,
}

/// Hottest keys requested again after the prefill.
const WARMUP_MAX: u64 = 100_000;

/// Keys per pre-generated stream (per thread); a power of two so indexing is a mask.
const STREAM_LEN: usize = 1 << 22;

/// Operations between two looks at the clocks.
const BATCH: usize = 1024;

/// `count` key streams (one per thread) over a keyspace of `keys`, from fixed seeds: every process
/// that builds them gets the same keys.
fn key_streams(keys: u64, zipf_s: f64, count: usize, len: usize) -> Vec<Vec<u64>> {
    (0..count.max(1))
        .map(|t| zipf::key_stream(keys, zipf_s, len, 0xFACA_DE00 + t as u64))
        .collect()
}

/// One measured run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    /// Million operations per wall-clock second, all threads together.
    mops: f64,
    /// Million operations per second of on-CPU time, summed over threads (each thread's ops divided by
    /// the CPU time it got). Time blocked on a lock does not count, time spinning does.
    cpu_mops: f64,
    /// Share of the gets that hit; `None` when the run made no get.
    hit_percent: Option<f64>,
}

/// What one worker thread did.
struct ThreadResult {
    ops: u64,
    gets: u64,
    hits: u64,
    wall: Duration,
    cpu: Option<Duration>,
    /// Calls that returned `Pending` or an error other than a miss.
    failures: u64,
    /// The first of them.
    first_failure: Option<Failure>,
}

/// Everything a measured run needs.
struct Row<'a> {
    workload: Workload,
    value_size: usize,
    ttl: Duration,
    streams: &'a [Vec<u64>],
    threads: usize,
    run: Duration,
}

/// A built and prefilled cache, ready for measured runs (type-erased once per cache, not per call).
trait Runner: Send + Sync {
    /// Runs `row` once; an error if any call failed.
    fn measure(&self, row: &Row<'_>, run_index: usize) -> Result<Sample>;
}

/// A concrete store behind [`Runner`], so the measured loop is monomorphised per cache.
struct Bound<S>(S);

impl<S: Store> Runner for Bound<S> {
    fn measure(&self, row: &Row<'_>, run_index: usize) -> Result<Sample> {
        let barrier = Barrier::new(row.threads);
        let payload = vec![0xA5u8; row.value_size];
        let results = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..row.threads)
                .map(|t| {
                    let (barrier, payload) = (&barrier, &payload);
                    let stream = &row.streams[t % row.streams.len()];
                    // Each run starts at a different offset so runs do not replay the same slice.
                    let offset = run_index.wrapping_mul(STREAM_LEN / 7 + 1);
                    scope.spawn(move || {
                        barrier.wait();
                        worker(&self.0, row, stream, payload, offset)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow::anyhow!("a worker panicked")))
                .collect::<Result<Vec<_>>>()
        })?;
        let failures: u64 = results.iter().map(|r| r.failures).sum();
        if let Some(first) = results.iter().find_map(|r| r.first_failure.as_ref()) {
            bail!("{failures} calls failed; the first: {first}");
        }
        let ops: u64 = results.iter().map(|r| r.ops).sum();
        let (gets, hits) = results
            .iter()
            .fold((0, 0), |(g, h), r| (g + r.gets, h + r.hits));
        let elapsed = results.iter().map(|r| r.wall).max().unwrap_or_default();
        Ok(Sample {
            mops: ops as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6,
            cpu_mops: results
                .iter()
                .map(|r| r.ops as f64 / r.cpu.unwrap_or(r.wall).as_secs_f64().max(1e-9) / 1e6)
                .sum(),
            hit_percent: (gets > 0).then(|| hits as f64 * 100.0 / gets as f64),
        })
    }
}

/// One thread's loop, bounded by time (checked every [`BATCH`] calls).
fn worker<S: Store>(
    store: &S,
    row: &Row<'_>,
    stream: &[u64],
    payload: &[u8],
    offset: usize,
) -> ThreadResult {
    let mask = stream.len() - 1;
    let (mut ops, mut gets, mut hits, mut failures) = (0u64, 0u64, 0u64, 0u64);
    let mut first_failure = None;
    let mut i = offset;
    let start = Instant::now();
    let cpu_start = cputime::thread_cpu_time();
    loop {
        for _ in 0..BATCH {
            let key = key_bytes(stream[i & mask]);
            let write = match row.workload {
                Workload::Read => false,
                Workload::Write => true,
                Workload::Mixed | Workload::Ttl => i % 4 == 3,
            };
            i = i.wrapping_add(1);
            let done = if !write {
                gets += 1;
                store.get(&key).map(|value| {
                    hits += u64::from(std::hint::black_box(value).is_some());
                })
            } else if row.workload == Workload::Ttl {
                store.set_with_ttl(&key, payload, row.ttl)
            } else {
                store.set(&key, payload)
            };
            if let Err(failure) = done {
                failures += 1;
                first_failure.get_or_insert(failure);
            }
        }
        ops += BATCH as u64;
        let wall = start.elapsed();
        if wall >= row.run {
            let cpu = cputime::thread_cpu_time()
                .zip(cpu_start)
                .map(|(end, start)| end.saturating_sub(start));
            return ThreadResult {
                ops,
                gets,
                hits,
                wall,
                cpu,
                failures,
                first_failure,
            };
        }
    }
}

/// Fills `store` with the hottest `capacity` keys, then requests the hottest [`WARMUP_MAX`] again
/// (get, set on a miss), so a cache that evicted some of the first-written keys while filling takes
/// them back if its policy admits them.
fn prefill<S: Store>(store: S, label: &str, spec: &LaneSpec) -> Result<Box<dyn Runner>> {
    let started = Instant::now();
    let capacity = spec.capacity();
    let payload = vec![0x5Au8; spec.value_size];
    let write = |key: u64| {
        let key = key_bytes(key);
        match spec.ttl {
            Some(ttl) => store.set_with_ttl(&key, &payload, ttl),
            None => store.set(&key, &payload),
        }
    };
    let failed = |e: Failure| anyhow::anyhow!("prefilling {label}: {e}");
    for rank in 1..=capacity {
        write(zipf::rank_to_key(rank)).map_err(failed)?;
        if rank % 4096 == 0 {
            store.settle();
        }
    }
    store.settle();
    for rank in 1..=capacity.min(WARMUP_MAX) {
        let key = zipf::rank_to_key(rank);
        if store.get(&key_bytes(key)).map_err(failed)?.is_none() {
            write(key).map_err(failed)?;
        }
    }
    store.settle();
    crate::lane_process::child_note(&format!(
        "  prefilled and warmed {label}: {} of {capacity} entries resident ({:.1}s)",
        store.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(Box::new(Bound(store)))
}

/// Median, min and max of the runs.
fn summarize(samples: &[f64]) -> (f64, f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    (
        sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
        sorted.first().copied().unwrap_or(0.0),
        sorted.last().copied().unwrap_or(0.0),
    )
}

/// Runs the command.
pub(crate) fn main(mut args: Args) -> Result<()> {
    if args.quick {
        args.keys = vec![1_000_000];
        args.values = vec![64];
        args.runs = 3;
        args.run_ms = 100;
    }
    let max_threads = args.threads.iter().copied().max().unwrap_or(1).max(1);
    let lane_spec = |keys: u64, value_size: usize, with_ttl: bool| LaneSpec {
        keys,
        value_size,
        ttl: with_ttl.then_some(Duration::from_millis(args.ttl_ms)),
        ttl_run: Duration::from_millis(args.ttl_ms),
        streams: max_threads,
        stream_len: STREAM_LEN,
        zipf_s: args.zipf_s,
    };
    if let Some(subject) = args.lane {
        let (Some(&keys), Some(&value_size)) = (args.keys.first(), args.values.first()) else {
            bail!("a lane needs --keys and --values");
        };
        return lane::serve(subject, &lane_spec(keys, value_size, args.lane_ttl));
    }
    let mut report = Report::new(&args.caches);
    let started = Instant::now();
    for &keys in &args.keys {
        // Children build their own streams (the same seeds, so the same keys).
        let streams = if args.in_process {
            key_streams(keys, args.zipf_s, max_threads, STREAM_LEN)
        } else {
            Vec::new()
        };
        for &value_size in &args.values {
            // One build + prefill serves every plain workload and thread count; TTL needs its own
            // (moka takes the TTL at build time, quick_cache stores deadlines).
            for with_ttl in [false, true] {
                let workloads: Vec<Workload> = args
                    .workloads
                    .iter()
                    .copied()
                    .filter(|&w| (w == Workload::Ttl) == with_ttl)
                    .collect();
                if workloads.is_empty() {
                    continue;
                }
                let group = Group {
                    spec: lane_spec(keys, value_size, with_ttl),
                    workloads,
                    streams: &streams,
                };
                for (workload, threads, results) in measure_group(&args, &group)? {
                    let labels = [
                        human(keys),
                        format!("{value_size} B"),
                        workload_label(workload).to_owned(),
                        threads.to_string(),
                    ];
                    report.add_row(labels, workload, &results);
                }
            }
        }
    }
    eprintln!("done in {:.0}s", started.elapsed().as_secs_f64());
    println!(
        "\n### Facade throughput, Mops/s of wall-clock time: median of {} runs of {} ms (min-max), capacity 10% of keys, Zipf s={}, 16-byte keys\n",
        args.runs, args.run_ms, args.zipf_s
    );
    print!("{}", report.wall.render());
    println!(
        "\n### Facade throughput, Mops/s of on-CPU time (each thread's ops / the CPU time it got, summed over threads)\n"
    );
    print!("{}", report.cpu.render());
    println!("\n### Hit ratio of the gets during those runs, %\n");
    print!("{}", report.hits.render());
    Ok(())
}

/// Rows sharing one set of built caches.
struct Group<'a> {
    spec: LaneSpec,
    workloads: Vec<Workload>,
    /// The key streams, for caches built in this process (empty otherwise).
    streams: &'a [Vec<u64>],
}

/// Per cache (in `args.caches` order), its samples.
type CacheSamples = Vec<Vec<Sample>>;

/// Builds and prefills every cache once for the group (in child processes unless `--in-process`), then
/// for each workload and thread count interleaves the caches' runs.
fn measure_group(args: &Args, group: &Group<'_>) -> Result<Vec<(Workload, usize, CacheSamples)>> {
    let spec = group.spec;
    let mut lanes: Vec<Box<dyn Lane + '_>> = if args.in_process {
        args.caches
            .iter()
            .map(|&subject| {
                Ok(Box::new(Local {
                    runner: spec.prepare(subject)?,
                    spec,
                    streams: group.streams,
                }) as Box<dyn Lane>)
            })
            .collect::<Result<_>>()?
    } else {
        // Started together, so they prefill side by side; then each is waited for.
        let started: Vec<Remote> = args
            .caches
            .iter()
            .map(|&subject| Remote::spawn(subject, &spec))
            .collect::<Result<_>>()?;
        started
            .into_iter()
            .map(|remote| Ok(Box::new(remote.ready()?) as Box<dyn Lane>))
            .collect::<Result<_>>()?
    };
    if spec.ttl.is_some() {
        // The prefill gave every entry its TTL within the same second: let that one-off wave of
        // expiry pass, unmeasured, so the runs see steady-state expiry.
        let warm = RunSpec {
            workload: Workload::Ttl,
            threads: 1,
            run: spec.ttl_run,
            index: None,
        };
        for lane in &mut lanes {
            lane.measure(warm)?;
        }
    }
    let mut out = Vec::new();
    for &workload in &group.workloads {
        for &threads in &args.threads {
            let mut samples: CacheSamples = vec![Vec::with_capacity(args.runs); lanes.len()];
            // The cache that runs first in a round can measure slower, so the order rotates.
            let n = lanes.len().max(1);
            for run in 0..args.runs.max(1) {
                for k in 0..n {
                    let c = (k + run) % n;
                    if let (Some(lane), Some(out)) = (lanes.get_mut(c), samples.get_mut(c)) {
                        let sample = lane
                            .measure(RunSpec {
                                workload,
                                threads: threads.max(1),
                                run: Duration::from_millis(args.run_ms),
                                index: Some(run),
                            })
                            .with_context(|| {
                                format!(
                                    "{} on {} x{threads}",
                                    args.caches[c].label(),
                                    workload_label(workload)
                                )
                            })?;
                        out.push(sample);
                    }
                }
            }
            out.push((workload, threads, samples));
        }
    }
    Ok(out)
}

/// The output tables.
struct Report {
    caches: Vec<Subject>,
    /// Wall-clock Mops/s.
    wall: Table,
    /// On-CPU Mops/s.
    cpu: Table,
    /// Hit ratio of the gets.
    hits: Table,
}

impl Report {
    fn new(caches: &[Subject]) -> Self {
        let mut header = ["keys", "value", "workload", "threads"]
            .map(String::from)
            .to_vec();
        header.extend(caches.iter().map(|s| s.label().to_owned()));
        let hits = Table::new(header.clone());
        if Self::has_ratio(caches) {
            header.push("SingleCache / quick_cache".to_owned());
        }
        Self {
            caches: caches.to_vec(),
            wall: Table::new(header.clone()),
            cpu: Table::new(header),
            hits,
        }
    }

    /// Whether the rate tables get a ratio column: when both `SingleCache` and quick_cache ran.
    fn has_ratio(caches: &[Subject]) -> bool {
        caches.contains(&Subject::Single) && caches.contains(&Subject::QuickCache)
    }

    /// The cells of one rate: per cache `median (min-max)`, then the ratio of the medians.
    fn rate_cells(
        &self,
        labels: &[String; 4],
        results: &CacheSamples,
        metric: fn(&Sample) -> f64,
    ) -> Vec<String> {
        let mut cells = labels.to_vec();
        let mut medians = Vec::new();
        for samples in results {
            let (median, min, max) = summarize(&samples.iter().map(metric).collect::<Vec<_>>());
            medians.push(median);
            cells.push(format!("{median:.2} ({min:.2}-{max:.2})"));
        }
        if Self::has_ratio(&self.caches) {
            let at = |s: Subject| {
                self.caches
                    .iter()
                    .position(|&c| c == s)
                    .and_then(|i| medians.get(i).copied())
            };
            cells.push(match (at(Subject::Single), at(Subject::QuickCache)) {
                (Some(ours), Some(qc)) if qc > 0.0 => format!("{:.2}x", ours / qc),
                _ => "n/a".into(),
            });
        }
        cells
    }

    fn add_row(&mut self, labels: [String; 4], workload: Workload, results: &CacheSamples) {
        let wall = self.rate_cells(&labels, results, |s| s.mops);
        let cpu = self.rate_cells(&labels, results, |s| s.cpu_mops);
        let mut hit_cells = labels.to_vec();
        for samples in results {
            hit_cells.push(if workload == Workload::Write {
                "-".to_owned()
            } else {
                let hits: Vec<f64> = samples.iter().filter_map(|s| s.hit_percent).collect();
                format!("{:.1}", summarize(&hits).0)
            });
        }
        eprintln!("  wall: {}", wall.join(" | "));
        eprintln!("  cpu:  {}", cpu.join(" | "));
        self.wall.row(wall);
        self.cpu.row(cpu);
        self.hits.row(hit_cells);
    }
}

/// `n` with an `M` or `k` suffix when it is a round number of them.
fn human(n: u64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n % 1000 == 0 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_args() -> Args {
        Args {
            keys: vec![1000],
            values: vec![8],
            workloads: vec![],
            threads: vec![1, 2],
            caches: Subject::ALL.to_vec(),
            runs: 2,
            run_ms: 5,
            ttl_ms: 1000,
            zipf_s: 1.0,
            quick: false,
            // A unit test's executable is the test harness, not this tool, so no child processes
            // here; `tests/facade_lanes.rs` runs the real binary with them.
            in_process: true,
            lane: None,
            lane_ttl: false,
        }
    }

    fn tiny_spec(ttl: Option<Duration>) -> LaneSpec {
        LaneSpec {
            keys: 1000,
            value_size: 8,
            ttl,
            ttl_run: Duration::from_millis(1000),
            streams: 2,
            stream_len: 1024,
            zipf_s: 1.0,
        }
    }

    #[test]
    fn a_tiny_group_measures_every_cache_and_workload() {
        let args = tiny_args();
        let streams = key_streams(1000, 1.0, 2, 1024);
        for (ttl, workloads) in [
            (None, vec![Workload::Read, Workload::Mixed, Workload::Write]),
            (Some(Duration::from_millis(1000)), vec![Workload::Ttl]),
        ] {
            let group = Group {
                spec: tiny_spec(ttl),
                workloads: workloads.clone(),
                streams: &streams,
            };
            let rows = measure_group(&args, &group).expect("every call completes");
            assert_eq!(rows.len(), workloads.len() * 2);
            let mut report = Report::new(&args.caches);
            for (workload, threads, results) in rows {
                assert_eq!(results.len(), Subject::ALL.len());
                for (subject, samples) in Subject::ALL.iter().zip(&results) {
                    let what = format!("{subject:?} {workload:?} x{threads}");
                    assert_eq!(samples.len(), 2, "{what}");
                    assert!(
                        samples.iter().all(|s| s.mops > 0.0 && s.cpu_mops > 0.0),
                        "{what}"
                    );
                    // Prefilled with the hottest 10%: gets hit often; writes do no gets.
                    match workload {
                        Workload::Write => {
                            assert!(samples.iter().all(|s| s.hit_percent.is_none()), "{what}");
                        }
                        _ => assert!(
                            samples.iter().all(|s| s.hit_percent.unwrap_or(0.0) > 30.0),
                            "{what}: {samples:?}"
                        ),
                    }
                }
                report.add_row(
                    [
                        "1k".into(),
                        "8 B".into(),
                        workload_label(workload).into(),
                        threads.to_string(),
                    ],
                    workload,
                    &results,
                );
            }
            for table in [&report.wall, &report.cpu] {
                let rendered = table.render();
                assert!(rendered.contains("SingleCache / quick_cache"), "{rendered}");
                assert_eq!(
                    rendered.lines().filter(|l| l.ends_with("x |")).count(),
                    workloads.len() * 2,
                    "a ratio in every row: {rendered}"
                );
            }
        }
    }

    /// A store whose every call pends, as a facade future that waited would.
    struct Pends;

    impl Store for Pends {
        fn get(&self, _: &[u8]) -> Result<Option<bytes::Bytes>, Failure> {
            Err(Failure::Pending)
        }
        fn set(&self, _: &[u8], _: &[u8]) -> Result<(), Failure> {
            Err(Failure::Pending)
        }
        fn set_with_ttl(&self, _: &[u8], _: &[u8], _: Duration) -> Result<(), Failure> {
            Err(Failure::Pending)
        }
        fn len(&self) -> u64 {
            0
        }
    }

    #[test]
    fn a_call_that_pends_fails_the_run() {
        let streams = key_streams(1000, 1.0, 1, 1024);
        let row = Row {
            workload: Workload::Read,
            value_size: 8,
            ttl: Duration::from_secs(1),
            streams: &streams,
            threads: 1,
            run: Duration::from_millis(1),
        };
        let error = Bound(Pends)
            .measure(&row, 0)
            .expect_err("pending calls are failures");
        assert!(error.to_string().contains("Pending"), "{error}");
        assert!(prefill(Pends, "pends", &tiny_spec(None)).is_err());
    }

    #[test]
    fn summary_is_median_min_max() {
        assert_eq!(summarize(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(summarize(&[]), (0.0, 0.0, 0.0));
        assert_eq!(human(10_000_000), "10M");
    }
}
