//! The `throughput` command: Mops/s of every cache on Zipf(1.0) key streams.
//!
//! Per row (keyspace, value size, workload, threads) every cache is built with capacity 10% of the
//! keyspace and prefilled with the hottest keys, each in a child process of its own (see [`lane`]);
//! then the runs are interleaved (run 1 of every cache, then run 2, ...) so that noise from other
//! processes spreads over all caches alike, and the order within a round rotates so that no cache
//! always runs first (the first run of a round measured slower). Key streams are generated before any
//! timing. Every insert copies the payload once, as a real user's borrowed bytes are copied: into a fresh
//! `Bytes` for the caches of owned values, into the packed entry for `ByteCache` (as relaycache's
//! facade does), so value size costs what it costs a real user.

mod lane;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;

use self::lane::{Lane, LaneSpec, Local, Remote, RunSpec};
use crate::adapter::{Adapter, Job, Peer};
use crate::cputime;
use crate::table::Table;
use crate::zipf;

/// The measured operation mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Workload {
    /// 100% `get` (misses are not filled).
    Read,
    /// 75% `get`, 25% `insert`.
    Mixed,
    /// 100% `insert`.
    Write,
    /// 75% `get`, 25% `insert_with_ttl`; prefilled with the same TTL, then run unmeasured for one TTL
    /// so the prefill's simultaneous expiry is over before the measured runs.
    Ttl,
}

impl Workload {
    fn label(self) -> &'static str {
        match self {
            Workload::Read => "read",
            Workload::Mixed => "75/25 mixed",
            Workload::Write => "write",
            Workload::Ttl => "mixed + TTL",
        }
    }
}

/// Arguments of `throughput`.
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
    #[arg(long, value_delimiter = ',', default_values_t = Peer::ALL.to_vec(), value_enum)]
    caches: Vec<Peer>,
    /// Measured runs per cache and row, interleaved between caches; the table shows the median and
    /// the min-max. Nine, because on a shared 2-core machine one run of a row can land 15% off its
    /// neighbours, and with five runs the medians of a row still moved by up to 0.15x between
    /// complete runs.
    #[arg(long, default_value_t = 9)]
    runs: usize,
    /// Length of one measured run in milliseconds.
    #[arg(long, default_value_t = 150)]
    run_ms: u64,
    /// TTL of the `ttl` workload's inserts, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    ttl_ms: u64,
    /// Zipf exponent.
    #[arg(long, default_value_t = 1.0)]
    zipf_s: f64,
    /// Fast smoke run: 1M keys, 64-byte values, 3 runs of 100 ms per cell.
    #[arg(long)]
    quick: bool,
    /// Build and run every cache in this process instead of one child process per cache (the caches
    /// then share the allocator, and the order they were built in shows in their figures).
    #[arg(long)]
    in_process: bool,
    /// Internal: serve one cache's runs as a child process (see the `lane` module).
    #[arg(long, hide = true)]
    lane: Option<Peer>,
    /// Internal: the child's cache is built and prefilled for the TTL workload.
    #[arg(long, hide = true)]
    lane_ttl: bool,
}

/// Hottest keys requested again after the prefill.
const WARMUP_MAX: u64 = 100_000;

/// Keys per pre-generated stream (per thread); a power of two so indexing is a mask.
const STREAM_LEN: usize = 1 << 22;

/// `count` key streams (one per thread) over a keyspace of `keys`, from fixed seeds: every process
/// that builds them gets the same keys.
fn key_streams(keys: u64, zipf_s: f64, count: usize) -> Vec<Vec<u64>> {
    (0..count.max(1))
        .map(|t| zipf::key_stream(keys, zipf_s, STREAM_LEN, 0xC0FF_EE00 + t as u64))
        .collect()
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Million operations per wall-clock second, all threads together.
    mops: f64,
    /// Million operations per second of on-CPU time, summed over threads (each thread's ops divided by
    /// the CPU time it got): what the run would do with a core per thread to itself. Time spent blocked
    /// on a lock does not count, time spent spinning does.
    cpu_mops: f64,
    hit_percent: Option<f64>,
    /// The longest CPU time any thread spent on one batch of 1024 operations: shows pauses such as a
    /// mass expiry handled inside one call (descheduling by other processes does not count).
    worst_batch: Duration,
}

/// What one worker thread did.
#[derive(Debug, Clone, Copy)]
struct ThreadResult {
    ops: u64,
    gets: u64,
    hits: u64,
    wall: Duration,
    cpu: Option<Duration>,
    worst_batch: Duration,
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

/// A built and prefilled cache, ready for measured runs (type-erased once per cache, not per op).
trait Runner: Send + Sync {
    fn measure(&self, row: &Row<'_>, run_index: usize) -> Sample;
}

struct Bound<C>(C);

impl<C: Adapter<u64, Bytes>> Runner for Bound<C> {
    fn measure(&self, row: &Row<'_>, run_index: usize) -> Sample {
        let barrier = Barrier::new(row.threads);
        let payload = vec![0xA5u8; row.value_size];
        let results: Vec<ThreadResult> = std::thread::scope(|scope| {
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
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let ops: u64 = results.iter().map(|r| r.ops).sum();
        let (gets, hits): (u64, u64) = results
            .iter()
            .fold((0, 0), |(g, h), r| (g + r.gets, h + r.hits));
        let elapsed = results
            .iter()
            .map(|r| r.wall)
            .max()
            .unwrap_or(Duration::from_secs(1));
        let cpu_mops = results
            .iter()
            .map(|r| r.ops as f64 / r.cpu.unwrap_or(r.wall).as_secs_f64().max(1e-9) / 1e6)
            .sum();
        Sample {
            mops: ops as f64 / elapsed.as_secs_f64() / 1e6,
            cpu_mops,
            hit_percent: (gets > 0).then(|| hits as f64 * 100.0 / gets as f64),
            worst_batch: results
                .iter()
                .map(|r| r.worst_batch)
                .max()
                .unwrap_or_default(),
        }
    }
}

/// One thread's loop.
fn worker<C: Adapter<u64, Bytes>>(
    cache: &C,
    row: &Row<'_>,
    stream: &[u64],
    payload: &[u8],
    offset: usize,
) -> ThreadResult {
    const BATCH: usize = 1024;
    let mask = stream.len() - 1;
    let (mut ops, mut gets, mut hits) = (0u64, 0u64, 0u64);
    let mut i = offset;
    let start = Instant::now();
    let cpu_start = cputime::thread_cpu_time();
    let mut cpu_batch = cpu_start;
    let mut worst_batch = Duration::ZERO;
    // Bounded by time: checked every BATCH ops.
    loop {
        for _ in 0..BATCH {
            let key = stream[i & mask];
            let write = match row.workload {
                Workload::Read => false,
                Workload::Write => true,
                Workload::Mixed | Workload::Ttl => i % 4 == 3,
            };
            i = i.wrapping_add(1);
            if write {
                let ttl = (row.workload == Workload::Ttl).then_some(row.ttl);
                cache.insert_copy(key, payload, ttl);
            } else {
                gets += 1;
                if cache.get(&key).is_some() {
                    hits += 1;
                }
            }
        }
        ops += BATCH as u64;
        let wall = start.elapsed();
        let cpu_now = cputime::thread_cpu_time();
        if let (Some(now), Some(before)) = (cpu_now, cpu_batch) {
            worst_batch = worst_batch.max(now.saturating_sub(before));
        }
        cpu_batch = cpu_now;
        if wall >= row.run {
            let cpu = cpu_now
                .zip(cpu_start)
                .map(|(end, start)| end.saturating_sub(start));
            return ThreadResult {
                ops,
                gets,
                hits,
                wall,
                cpu,
                worst_batch,
            };
        }
    }
}

/// Builds a cache and prefills it with the hottest `capacity` keys.
struct Prepare<'a> {
    label: &'static str,
    /// Keys requested again after the prefill (get, insert on miss): the hottest ones, so a cache that
    /// evicted some of the first-inserted (hottest) keys while filling gets them back if its policy
    /// admits them, rather than the get-only `read` workload measuring the prefill order.
    warmup: &'a [u64],
    capacity: u64,
    value_size: usize,
    ttl: Option<Duration>,
}

impl Job<u64, Bytes> for Prepare<'_> {
    type Output = Box<dyn Runner>;

    fn run<C: Adapter<u64, Bytes>>(self, cache: C) -> Box<dyn Runner> {
        let started = Instant::now();
        let payload = vec![0x5Au8; self.value_size];
        for rank in 1..=self.capacity {
            cache.insert_copy(zipf::rank_to_key(rank), &payload, self.ttl);
            // Buffered caches drop inserts when their buffers overflow: let them catch up.
            if rank % 4096 == 0 {
                cache.settle();
            }
        }
        cache.settle();
        for key in self.warmup {
            if cache.get(key).is_none() {
                cache.insert_copy(*key, &payload, self.ttl);
            }
        }
        cache.settle();
        crate::lane_process::child_note(&format!(
            "  prefilled and warmed {}: {} of {} entries resident ({:.1}s)",
            self.label,
            cache.len(),
            self.capacity,
            started.elapsed().as_secs_f64()
        ));
        Box::new(Bound(cache))
    }
}

/// Median, min and max of the runs.
fn summarize(samples: &[f64]) -> (f64, f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.is_empty() {
        0.0
    } else {
        sorted[sorted.len() / 2]
    };
    (
        median,
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
        zipf_s: args.zipf_s,
    };
    if let Some(peer) = args.lane {
        let (keys, values) = (args.keys.first(), args.values.first());
        let (Some(&keys), Some(&value_size)) = (keys, values) else {
            anyhow::bail!("a lane needs --keys and --values");
        };
        return lane::serve(peer, &lane_spec(keys, value_size, args.lane_ttl));
    }
    let mut report = Report::new(&args.caches);
    let started = Instant::now();
    for &keys in &args.keys {
        // Children build their own streams (the same seeds, so the same keys).
        let streams = if args.in_process {
            let t0 = Instant::now();
            let streams = key_streams(keys, args.zipf_s, max_threads);
            eprintln!(
                "generated {max_threads} streams over {keys} keys in {:.1}s",
                t0.elapsed().as_secs_f64()
            );
            streams
        } else {
            Vec::new()
        };
        for &value_size in &args.values {
            // One build + prefill serves every plain workload and thread count; TTL needs its own
            // (moka takes the TTL at build time).
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
                        workload.label().to_owned(),
                        threads.to_string(),
                    ];
                    report.add_row(labels, workload, &results);
                }
            }
        }
    }
    eprintln!("done in {:.0}s", started.elapsed().as_secs_f64());
    println!(
        "\n### Throughput, Mops/s of wall-clock time: median of {} runs of {} ms (min-max), capacity 10% of keys, Zipf s={}\n",
        args.runs, args.run_ms, args.zipf_s
    );
    print!("{}", report.wall.render());
    println!(
        "\n### Throughput, Mops/s of on-CPU time (each thread's ops / the CPU time it got, summed over threads)\n"
    );
    print!("{}", report.cpu.render());
    println!("\n### Hit ratio of the gets during those runs, %\n");
    print!("{}", report.hits.render());
    println!(
        "\n### Longest 1024-operation batch of any thread in any run, CPU milliseconds (pauses)\n"
    );
    print!("{}", report.stalls.render());
    Ok(())
}

/// Rows sharing one set of built caches.
struct Group<'a> {
    spec: LaneSpec,
    workloads: Vec<Workload>,
    /// The key streams, for caches built in this process (empty otherwise).
    streams: &'a [Vec<u64>],
}

/// Per cache (in `args.caches` order): its samples, or `None` if not available.
type CacheSamples = Vec<Option<Vec<Sample>>>;

/// Builds and prefills every cache once for the group (in child processes unless `--in-process`), then
/// for each workload and thread count interleaves the caches' runs.
fn measure_group(args: &Args, group: &Group<'_>) -> Result<Vec<(Workload, usize, CacheSamples)>> {
    let spec = group.spec;
    let mut lanes: Vec<Option<Box<dyn Lane + '_>>> = if args.in_process {
        args.caches
            .iter()
            .map(|&peer| {
                spec.prepare(peer).map(|runner| {
                    Box::new(Local {
                        runner,
                        spec,
                        streams: group.streams,
                    }) as Box<dyn Lane>
                })
            })
            .collect()
    } else {
        // Started together, so they prefill side by side; then each is waited for.
        let started: Vec<Remote> = args
            .caches
            .iter()
            .map(|&peer| Remote::spawn(peer, &spec))
            .collect::<Result<_>>()?;
        let mut lanes = Vec::new();
        for remote in started {
            lanes.push(remote.ready()?.map(|r| Box::new(r) as Box<dyn Lane>));
        }
        lanes
    };
    if spec.ttl.is_some() {
        // Every prefilled entry got its TTL within the same second, so they all expire together. Let
        // that one-off wave pass before measuring: run the TTL workload on each cache, unmeasured, for
        // one TTL. The runs then see steady-state expiry: entries written at the workload's rate
        // expiring at that rate (plus what expires while the other caches take their turn).
        let warm = RunSpec {
            workload: Workload::Ttl,
            threads: 1,
            run: spec.ttl_run,
            index: None,
        };
        for lane in lanes.iter_mut().flatten() {
            lane.measure(warm)?;
        }
    }
    let mut out = Vec::new();
    for &workload in &group.workloads {
        for &threads in &args.threads {
            let mut samples: CacheSamples = lanes
                .iter()
                .map(|r| r.as_ref().map(|_| Vec::with_capacity(args.runs)))
                .collect();
            // The cache that runs first in a round measured slower (10M / 64 B writes: relaycache
            // 0.81x quick_cache when listed first, 1.08x when listed second), so the order rotates:
            // each cache leads the same number of rounds (with as many runs as caches, or a multiple).
            let n = lanes.len().max(1);
            for run in 0..args.runs.max(1) {
                for k in 0..n {
                    let c = (k + run) % n;
                    if let (Some(lane), Some(out)) = (&mut lanes[c], &mut samples[c]) {
                        out.push(lane.measure(RunSpec {
                            workload,
                            threads: threads.max(1),
                            run: Duration::from_millis(args.run_ms),
                            index: Some(run),
                        })?);
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
    caches: Vec<Peer>,
    /// The caches given a "/ quick_cache" ratio column.
    ratios: Vec<Peer>,
    /// Wall-clock Mops/s.
    wall: Table,
    /// On-CPU Mops/s.
    cpu: Table,
    /// Hit ratio of the gets.
    hits: Table,
    /// Longest batch.
    stalls: Table,
}

impl Report {
    fn new(caches: &[Peer]) -> Self {
        let labels = ["keys", "value", "workload", "threads"].map(String::from);
        let mut header = labels.to_vec();
        header.extend(caches.iter().map(|p| p.label().to_owned()));
        let hits = Table::new(header.clone());
        let stalls = Table::new(header.clone());
        // One ratio column per relaycache cache, when quick_cache ran too.
        let ratios: Vec<Peer> = if caches.contains(&Peer::QuickCache) {
            caches.iter().copied().filter(|p| p.is_ours()).collect()
        } else {
            Vec::new()
        };
        header.extend(
            ratios
                .iter()
                .map(|p| format!("{} / quick_cache", p.label())),
        );
        Self {
            caches: caches.to_vec(),
            ratios,
            wall: Table::new(header.clone()),
            cpu: Table::new(header),
            hits,
            stalls,
        }
    }

    /// The cells of one metric: per cache `median (min-max)`, then the ratio of the medians.
    fn metric_cells(
        &self,
        labels: &[String; 4],
        results: &CacheSamples,
        metric: fn(&Sample) -> f64,
    ) -> Vec<String> {
        let mut cells = labels.to_vec();
        let mut medians = Vec::new();
        for samples in results {
            let Some(samples) = samples else {
                medians.push(None);
                cells.push("n/a".into());
                continue;
            };
            let (median, min, max) = summarize(&samples.iter().map(metric).collect::<Vec<_>>());
            medians.push(Some(median));
            cells.push(format!("{median:.2} ({min:.2}-{max:.2})"));
        }
        let at = |p: Peer| {
            self.caches
                .iter()
                .position(|&c| c == p)
                .and_then(|i| medians[i])
        };
        for &ours in &self.ratios {
            cells.push(match (at(ours), at(Peer::QuickCache)) {
                (Some(ours), Some(qc)) if qc > 0.0 => format!("{:.2}x", ours / qc),
                _ => "n/a".into(),
            });
        }
        cells
    }

    fn add_row(&mut self, labels: [String; 4], workload: Workload, results: &CacheSamples) {
        let wall = self.metric_cells(&labels, results, |s| s.mops);
        let cpu = self.metric_cells(&labels, results, |s| s.cpu_mops);
        let mut hit_cells = labels.to_vec();
        for samples in results {
            hit_cells.push(match samples {
                None => "n/a".into(),
                Some(_) if workload == Workload::Write => "-".into(),
                Some(samples) => {
                    let hits: Vec<f64> = samples.iter().filter_map(|s| s.hit_percent).collect();
                    format!("{:.1}", summarize(&hits).0)
                }
            });
        }
        let mut stall_cells = labels.to_vec();
        for samples in results {
            stall_cells.push(match samples {
                None => "n/a".into(),
                Some(samples) => {
                    let worst = samples
                        .iter()
                        .map(|s| s.worst_batch)
                        .max()
                        .unwrap_or_default();
                    format!("{:.2}", worst.as_secs_f64() * 1e3)
                }
            });
        }
        self.stalls.row(stall_cells);
        eprintln!("  wall: {}", wall.join(" | "));
        eprintln!("  cpu:  {}", cpu.join(" | "));
        self.wall.row(wall);
        self.cpu.row(cpu);
        self.hits.row(hit_cells);
    }
}

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

    #[test]
    fn a_tiny_group_measures_every_cache_and_workload() {
        let streams = vec![zipf::key_stream(1000, 1.0, 1024, 1)];
        let args = Args {
            keys: vec![1000],
            values: vec![8],
            workloads: vec![],
            threads: vec![1, 2],
            caches: Peer::ALL.to_vec(),
            runs: 2,
            run_ms: 5,
            ttl_ms: 1000,
            zipf_s: 1.0,
            quick: false,
            // A unit test's executable is the test harness, not this tool, so no child processes
            // here; `tests/throughput_lanes.rs` runs the real binary with them.
            in_process: true,
            lane: None,
            lane_ttl: false,
        };
        for (with_ttl, workloads) in [
            (
                false,
                vec![Workload::Read, Workload::Mixed, Workload::Write],
            ),
            (true, vec![Workload::Ttl]),
        ] {
            let group = Group {
                spec: LaneSpec {
                    keys: 1000,
                    value_size: 8,
                    ttl: with_ttl.then_some(Duration::from_millis(1000)),
                    ttl_run: Duration::from_millis(1000),
                    streams: 2,
                    zipf_s: 1.0,
                },
                workloads: workloads.clone(),
                streams: &streams,
            };
            let rows = measure_group(&args, &group).expect("in-process lanes do not fail");
            assert_eq!(rows.len(), workloads.len() * 2);
            let mut report = Report::new(&args.caches);
            for (workload, threads, results) in rows {
                assert_eq!(results.len(), Peer::ALL.len());
                for samples in &results {
                    let samples = samples.clone().unwrap_or_default();
                    assert_eq!(samples.len(), 2, "{workload:?} x{threads}");
                    assert!(samples.iter().all(|s| s.mops > 0.0));
                    // Prefilled with the hottest 10%: gets hit often; writes do no gets.
                    match workload {
                        Workload::Write => assert!(samples.iter().all(|s| s.hit_percent.is_none())),
                        _ => assert!(samples.iter().all(|s| s.hit_percent.unwrap_or(0.0) > 30.0)),
                    }
                }
                report.add_row(
                    [
                        "1k".into(),
                        "8 B".into(),
                        workload.label().into(),
                        threads.to_string(),
                    ],
                    workload,
                    &results,
                );
            }
            assert!(report.wall.render().contains("x |"), "ratio column present");
            assert!(report.cpu.render().contains("x |"), "ratio column present");
        }
    }

    #[test]
    fn summary_is_median_min_max() {
        assert_eq!(summarize(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(human(10_000_000), "10M");
    }
}
