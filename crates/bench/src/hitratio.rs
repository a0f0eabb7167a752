//! The `hitratio` command: replays every trace at five capacities through OPT, exact LRU and every
//! cache, prints one table per trace and writes one SVG chart per trace.
//!
//! Protocol per request: `get`; on a miss `insert` with weight 1, then `settle()` so that caches that
//! buffer work (moka, stretto) have applied the insert before the next request.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::adapter::{self, Adapter, Job, Peer, Spec};
use crate::sim;
use crate::svg::{Chart, Series};
use crate::synthetic;
use crate::table::Table;
use crate::trace::{self, Trace};

/// Arguments of `hitratio`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Directory of LIRS traces (searched recursively for *.gz, *.lirs, *.trace).
    /// Default: `<repo>/../shared/traces`.
    #[arg(long)]
    traces: Option<PathBuf>,
    /// Only these traces (by name, e.g. `gli`, `loop`, `zipf-100k`); default all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Caches to run (OPT and LRU always run). `relaycache-bytes` is left out by default: it runs the
    /// same policy as `relaycache`.
    #[arg(long, value_delimiter = ',', default_values_t = default_caches(), value_enum)]
    caches: Vec<Peer>,
    /// Replays per cell for the caches; the median is reported (moka's results vary between runs).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Worker threads replaying cells in parallel (hit ratios do not depend on timing).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Requests in the synthetic Zipf(1.0) trace over 100k keys.
    #[arg(long, default_value_t = 1_000_000)]
    zipf_requests: usize,
    /// `num_counters` per entry of capacity for relaycache and stretto (default 10).
    #[arg(long)]
    counters_per_entry: Option<u64>,
    /// Fast smoke run: 2 capacities per trace (the DESIGN.md cells), a 200k-request Zipf trace.
    #[arg(long)]
    quick: bool,
    /// Where to write the SVG charts. Default: `<repo>/docs`.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Do not write SVG charts.
    #[arg(long)]
    no_svg: bool,
}

fn default_caches() -> Vec<Peer> {
    Peer::ALL
        .into_iter()
        .filter(|&p| p != Peer::RelaycacheBytes)
        .collect()
}

/// Seed of the synthetic Zipf trace (fixed so every run replays the same requests).
const ZIPF_SEED: u64 = 0x5EED_2026;

/// The capacities for a trace: fixed lists for the known traces (containing the DESIGN.md cells),
/// otherwise fractions of the number of distinct keys. The first two are the quick-mode cells.
fn capacities(trace: &Trace) -> Vec<u64> {
    match trace.name.as_str() {
        "gli" => vec![250, 1000, 500, 1500, 2000],
        "loop" => vec![800, 200, 400, 600, 1000],
        "multi1" => vec![500, 1000, 250, 1500, 2000],
        "cpp" => vec![50, 200, 100, 400, 800],
        "2_pools" => vec![1000, 4000, 500, 2000, 8000],
        "zipf-100k" => vec![1000, 10_000, 500, 2500, 5000],
        "shift" => vec![2000, 4000, 1000, 3000, 6000],
        "loop-plus" => vec![4500, 4000, 4750, 3000, 2000],
        "scan-hot" => vec![1000, 2500, 500, 4000, 6000],
        "stack" | "phases" => vec![1000, 5000, 500, 2500, 10_000],
        _ => {
            let unique = trace.unique_keys() as u64;
            [5u64, 25, 10, 50, 75]
                .iter()
                .map(|pct| (unique * pct / 100).max(1))
                .collect()
        }
    }
}

/// Replays a trace through one cache and counts hits.
struct Replay<'a> {
    keys: &'a [u64],
}

impl Job<u64, ()> for Replay<'_> {
    type Output = u64;

    fn run<C: Adapter<u64, ()>>(self, cache: C) -> u64 {
        let mut hits = 0;
        for key in self.keys {
            if cache.get(key).is_some() {
                hits += 1;
            } else {
                cache.insert(*key, ());
                cache.settle();
            }
        }
        hits
    }
}

/// A column of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Opt,
    Lru,
    Cache(Peer),
}

impl Column {
    fn label(self) -> &'static str {
        match self {
            Column::Opt => "OPT",
            Column::Lru => "LRU",
            Column::Cache(p) => p.label(),
        }
    }
}

/// One trace with its capacities and, per capacity and column, the hit ratio in percent.
struct TraceResult {
    trace: Trace,
    capacities: Vec<u64>,
    /// `ratios[capacity][column]`, the median over runs; `None` = n/a.
    ratios: Vec<Vec<Option<f64>>>,
    /// `spreads[capacity][column]`: (min, max) over runs.
    spreads: Vec<Vec<Option<(f64, f64)>>>,
}

/// One cell: median, min and max over the runs.
type Cell = (f64, f64, f64);

fn hit_percent(hits: u64, requests: usize) -> f64 {
    if requests == 0 {
        0.0
    } else {
        hits as f64 * 100.0 / requests as f64
    }
}

fn run_cell(
    trace: &Trace,
    capacity: u64,
    column: Column,
    runs: usize,
    counters_per_entry: Option<u64>,
) -> Option<Cell> {
    let keys = &trace.keys;
    let exact = |v: f64| (v, v, v);
    match column {
        Column::Opt => Some(exact(hit_percent(
            sim::opt::hits(keys, capacity as usize),
            keys.len(),
        ))),
        Column::Lru => Some(exact(hit_percent(
            sim::lru::hits(keys, capacity as usize),
            keys.len(),
        ))),
        Column::Cache(peer) => {
            let spec = Spec {
                counters_per_entry,
                ..Spec::new(capacity, None)
            };
            let mut results = Vec::with_capacity(runs);
            for _ in 0..runs.max(1) {
                results.push(hit_percent(
                    adapter::run(peer, &spec, Replay { keys })?,
                    keys.len(),
                ));
            }
            results.sort_by(f64::total_cmp);
            Some((
                results[results.len() / 2],
                results[0],
                results[results.len() - 1],
            ))
        }
    }
}

/// Runs the command.
pub(crate) fn main(args: Args) -> Result<()> {
    let traces = load_traces(&args)?;
    let mut columns = vec![Column::Opt, Column::Lru];
    columns.extend(args.caches.iter().map(|&p| Column::Cache(p)));
    let mut results: Vec<TraceResult> = traces
        .into_iter()
        .map(|trace| {
            let mut caps = capacities(&trace);
            if args.quick {
                caps.truncate(2);
            }
            caps.sort_unstable();
            let ratios = vec![vec![None; columns.len()]; caps.len()];
            let spreads = vec![vec![None; columns.len()]; caps.len()];
            TraceResult {
                trace,
                capacities: caps,
                ratios,
                spreads,
            }
        })
        .collect();

    // Every (trace, capacity, column) cell is independent: hand them to a few worker threads.
    let cells: Vec<(usize, usize, usize)> = results
        .iter()
        .enumerate()
        .flat_map(|(t, r)| {
            let columns = &columns;
            (0..r.capacities.len()).flat_map(move |c| (0..columns.len()).map(move |k| (t, c, k)))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(cells.len()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.threads.max(1) {
            scope.spawn(|| {
                while let Some(&(t, c, k)) = cells.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let r = &results[t];
                    let t0 = Instant::now();
                    let ratio = run_cell(
                        &r.trace,
                        r.capacities[c],
                        columns[k],
                        args.runs,
                        args.counters_per_entry,
                    );
                    eprintln!(
                        "  {:>10} @ {:>6} {:<12} {:>6}  ({:.1}s)",
                        r.trace.name,
                        r.capacities[c],
                        columns[k].label(),
                        ratio.map_or("n/a".into(), |v| format!("{:.2}", v.0)),
                        t0.elapsed().as_secs_f64()
                    );
                    done.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((t, c, k, ratio));
                }
            });
        }
    });
    for (t, c, k, ratio) in done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        results[t].ratios[c][k] = ratio.map(|v| v.0);
        results[t].spreads[c][k] = ratio.map(|v| (v.1, v.2));
    }
    eprintln!(
        "replayed {} cells in {:.1}s",
        cells.len(),
        started.elapsed().as_secs_f64()
    );

    print_report(&results, &columns);
    if !args.no_svg {
        write_charts(
            &results,
            &columns,
            args.out_dir
                .unwrap_or_else(|| crate::repo_root().join("docs")),
        )?;
    }
    Ok(())
}

fn load_traces(args: &Args) -> Result<Vec<Trace>> {
    let dir = match &args.traces {
        Some(dir) => dir.clone(),
        None => default_traces_dir()?,
    };
    let mut traces = Vec::new();
    for path in
        trace::find_files(&dir).with_context(|| "pass --traces DIR to point at the LIRS traces")?
    {
        traces.push(trace::load_file(&path)?);
    }
    let requests = if args.quick {
        args.zipf_requests.min(200_000)
    } else {
        args.zipf_requests
    };
    traces.push(trace::zipf(100_000, 1.0, requests, ZIPF_SEED));
    traces.extend(synthetic::all(if args.quick { 0.4 } else { 1.0 }));
    if !args.only.is_empty() {
        traces.retain(|t| args.only.iter().any(|o| o == &t.name));
        if traces.is_empty() {
            bail!("no trace matches --only {:?}", args.only);
        }
    }
    for t in &traces {
        eprintln!(
            "trace {}: {} requests, {} distinct keys",
            t.name,
            t.keys.len(),
            t.unique_keys()
        );
    }
    Ok(traces)
}

/// `<repo>/../shared/traces`, or else the nearest `shared/traces` above the repository (a git worktree
/// may sit deeper than the main checkout).
fn default_traces_dir() -> Result<PathBuf> {
    let root = crate::repo_root();
    root.ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/traces"))
        .find(|dir| dir.is_dir())
        .with_context(|| {
            format!(
                "no shared/traces directory above {}; pass --traces DIR",
                root.display()
            )
        })
}

/// Within this many percentage points of the best peer (and, on the synthetic recency workloads, of
/// exact LRU) counts as meeting the target.
const TOLERANCE_PP: f64 = 0.5;

/// The workloads on which exact LRU is a bar too: the synthetic ones, made to reward recency.
fn recency_heavy(trace: &Trace) -> bool {
    synthetic::NAMES.contains(&trace.name.as_str())
}

fn print_report(results: &[TraceResult], columns: &[Column]) {
    let relay = columns
        .iter()
        .position(|&c| c == Column::Cache(Peer::Relaycache));
    let lru_column = columns.iter().position(|&c| c == Column::Lru);
    let verdict = |delta: f64| {
        let ok = delta >= -TOLERANCE_PP;
        (
            ok,
            format!("{delta:+.2} {}", if ok { "ok" } else { "MISS" }),
        )
    };
    let peers: Vec<usize> = (0..columns.len())
        .filter(|&i| matches!(columns[i], Column::Cache(p) if !p.is_ours()))
        .collect();
    let (mut met, mut measured) = (0, 0);
    for r in results {
        println!(
            "\n### {} ({} requests, {} distinct keys): hit ratio %\n",
            r.trace.name,
            r.trace.keys.len(),
            r.trace.unique_keys()
        );
        let mut header = vec!["capacity".to_owned()];
        header.extend(columns.iter().map(|c| c.label().to_owned()));
        let lru_bar = recency_heavy(&r.trace);
        if relay.is_some() {
            header.push("relaycache − best peer (pp)".to_owned());
            if lru_bar {
                header.push("relaycache − LRU (pp)".to_owned());
            }
        }
        let mut table = Table::new(header);
        for (c, cap) in r.capacities.iter().enumerate() {
            let row = &r.ratios[c];
            let mut cells = vec![cap.to_string()];
            cells.extend(
                row.iter()
                    .map(|v| v.map_or("n/a".to_owned(), |v| format!("{v:.2}"))),
            );
            if let Some(relay) = relay {
                let best = peers
                    .iter()
                    .filter_map(|&i| row[i])
                    .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
                let lru = lru_column.and_then(|i| row[i]);
                match (row[relay], best) {
                    (Some(ours), Some(best)) => {
                        measured += 1;
                        let (mut ok, text) = verdict(ours - best);
                        cells.push(text);
                        if lru_bar {
                            let (lru_ok, text) =
                                lru.map_or((true, "n/a".to_owned()), |l| verdict(ours - l));
                            ok &= lru_ok;
                            cells.push(text);
                        }
                        met += usize::from(ok);
                    }
                    _ => {
                        cells.push("n/a".to_owned());
                        if lru_bar {
                            cells.push("n/a".to_owned());
                        }
                    }
                }
            }
            table.row(cells);
        }
        print!("{}", table.render());
        print_spreads(r, columns);
    }
    if relay.is_some() {
        if measured == 0 {
            println!("\nrelaycache: n/a (the engine's Cache API is not available in this build)");
        } else {
            println!(
                "\nrelaycache within {TOLERANCE_PP} pp of the best peer or above (and of exact LRU on {}) in {met} of {measured} cells",
                synthetic::NAMES.join(", ")
            );
        }
    }
}

/// Lists the cells whose runs spread over more than the tolerance (only possible with `--runs` > 1).
fn print_spreads(r: &TraceResult, columns: &[Column]) {
    let mut notes = Vec::new();
    for (k, column) in columns.iter().enumerate() {
        let wide: Vec<String> = r
            .capacities
            .iter()
            .enumerate()
            .filter_map(|(c, cap)| {
                let (min, max) = r.spreads[c][k]?;
                (max - min > TOLERANCE_PP).then(|| format!("@{cap} {min:.2}-{max:.2}"))
            })
            .collect();
        if !wide.is_empty() {
            notes.push(format!("{} {}", column.label(), wide.join(", ")));
        }
    }
    if !notes.is_empty() {
        println!(
            "\nRuns spread by more than {TOLERANCE_PP} pp (min-max): {}.",
            notes.join("; ")
        );
    }
}

fn write_charts(results: &[TraceResult], columns: &[Column], dir: PathBuf) -> Result<()> {
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for r in results {
        let series = columns
            .iter()
            .enumerate()
            .map(|(k, col)| Series {
                label: col.label().to_owned(),
                points: r
                    .capacities
                    .iter()
                    .enumerate()
                    .map(|(c, &cap)| (cap as f64, r.ratios[c][k]))
                    .collect(),
                dashed: matches!(col, Column::Opt | Column::Lru),
            })
            .collect();
        let chart = Chart {
            title: format!(
                "Hit ratio: {} ({} requests)",
                r.trace.name,
                r.trace.keys.len()
            ),
            x_label: "capacity (entries)".into(),
            y_label: "hit ratio (%)".into(),
            series,
        };
        let path = dir.join(format!("hitratio-{}.svg", r.trace.name));
        std::fs::write(&path, chart.render())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_counts_hits_like_the_exact_lru_for_the_lru_crate() {
        let keys = crate::zipf::key_stream(200, 1.0, 3000, 1);
        let spec = Spec::new(20, None);
        let lru = adapter::run(Peer::Lru, &spec, Replay { keys: &keys });
        assert_eq!(lru, Some(sim::lru::hits(&keys, 20)));
    }

    #[test]
    fn known_traces_include_the_design_cells() {
        let named = |name: &str| Trace {
            name: name.into(),
            keys: vec![1, 2, 3],
        };
        assert!(capacities(&named("gli"))[..2].contains(&250));
        assert!(capacities(&named("gli"))[..2].contains(&1000));
        assert!(capacities(&named("zipf-100k"))[..2].contains(&10_000));
        assert_eq!(capacities(&named("other")).len(), 5);
    }
}
