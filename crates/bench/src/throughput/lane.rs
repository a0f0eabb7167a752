//! Where a cache runs while it is measured: a child process of its own (the default), or this
//! process (`--in-process`, and the unit tests).
//!
//! With every cache in one process, the caches share one allocator heap and one set of warm pages, and
//! the order in which they were built mattered: the cache built and prefilled first measured slower in
//! its own runs (10M keys / 64 B writes, the same engine built twice: the first 1% to 7% slower over
//! 61 interleaved rounds). A child per cache gives each one its own heap, as in a real service; the
//! runs stay interleaved, one child at a time, so machine noise still spreads over all caches alike.
//!
//! The parent re-executes this binary with `throughput --lane <cache>` and the group's keyspace,
//! value size and TTL. The child builds its key streams (the same seeds give the same streams),
//! builds and prefills its cache, makes one short unmeasured run of gets, prints `READY` (or
//! `UNAVAILABLE`), then answers each `run` line on its stdin with one `sample` line until its stdin
//! closes. Only the child whose turn it is runs; the others wait in a blocking read.

use std::io::{BufRead, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use super::{Prepare, Row, Runner, Sample, WARMUP_MAX, Workload, key_streams};
use crate::adapter::{self, Peer, Spec};
use crate::lane_process::LaneProcess;
use crate::{UNAVAILABLE, cli_name, zipf};

/// One measured run as the parent asks for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RunSpec {
    pub(super) workload: Workload,
    pub(super) threads: usize,
    pub(super) run: Duration,
    /// Which run of the row this is (streams start at an offset per run); `None` for an unmeasured
    /// warm-up run.
    pub(super) index: Option<usize>,
}

impl RunSpec {
    fn to_line(self) -> String {
        format!(
            "run {} {} {} {}",
            cli_name(&self.workload),
            self.threads,
            self.run.as_nanos(),
            self.index.map_or("warm".to_owned(), |i| i.to_string())
        )
    }

    fn parse(line: &str) -> Result<Self> {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let ["run", workload, threads, nanos, index] = parts.as_slice() else {
            bail!("expected `run <workload> <threads> <nanos> <index|warm>`, got {line:?}");
        };
        Ok(Self {
            workload: Workload::from_str(workload, true)
                .map_err(|e| anyhow::anyhow!("bad workload in {line:?}: {e}"))?,
            threads: threads.parse().context("bad thread count")?,
            run: Duration::from_nanos(nanos.parse().context("bad run length")?),
            index: match *index {
                "warm" => None,
                i => Some(i.parse().context("bad run index")?),
            },
        })
    }
}

impl Sample {
    fn to_line(self) -> String {
        format!(
            "sample {} {} {} {}",
            self.mops,
            self.cpu_mops,
            self.hit_percent.map_or("-".to_owned(), |h| h.to_string()),
            self.worst_batch.as_nanos()
        )
    }

    fn parse(line: &str) -> Result<Self> {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let ["sample", mops, cpu, hits, worst] = parts.as_slice() else {
            bail!("expected a `sample` line, got {line:?}");
        };
        Ok(Self {
            mops: mops.parse().context("bad mops")?,
            cpu_mops: cpu.parse().context("bad cpu mops")?,
            hit_percent: match *hits {
                "-" => None,
                h => Some(h.parse().context("bad hit ratio")?),
            },
            worst_batch: Duration::from_nanos(worst.parse().context("bad batch time")?),
        })
    }
}

/// What a lane needs to build and prefill its cache.
#[derive(Debug, Clone, Copy)]
pub(super) struct LaneSpec {
    pub(super) keys: u64,
    pub(super) value_size: usize,
    /// The group's TTL: its caches are built for `insert_with_ttl` and prefilled with it.
    pub(super) ttl: Option<Duration>,
    /// The TTL of the TTL workload's inserts (also when the group has none).
    pub(super) ttl_run: Duration,
    /// Key streams to build: one per thread of the largest thread count.
    pub(super) streams: usize,
    pub(super) zipf_s: f64,
}

impl LaneSpec {
    /// The caches' capacity: 10% of the keyspace, in entries.
    fn capacity(&self) -> u64 {
        (self.keys / 10).max(1)
    }

    /// Builds and prefills `peer`'s cache; `None` if it is not available in this build.
    pub(super) fn prepare(&self, peer: Peer) -> Option<Box<dyn Runner>> {
        let capacity = self.capacity();
        let warmup: Vec<u64> = (1..=capacity.min(WARMUP_MAX))
            .map(zipf::rank_to_key)
            .collect();
        adapter::run(
            peer,
            &Spec::new(capacity, self.ttl),
            Prepare {
                label: peer.label(),
                warmup: &warmup,
                capacity,
                value_size: self.value_size,
                ttl: self.ttl,
            },
        )
    }

    /// What the worker threads need for run `run` over `streams`.
    pub(super) fn row<'a>(&self, streams: &'a [Vec<u64>], run: RunSpec) -> Row<'a> {
        Row {
            workload: run.workload,
            value_size: self.value_size,
            ttl: self.ttl_run,
            streams,
            threads: run.threads.max(1),
            run: run.run,
        }
    }
}

/// A built and prefilled cache that measures runs on request.
pub(super) trait Lane {
    fn measure(&mut self, run: RunSpec) -> Result<Sample>;
}

/// A cache in this process.
pub(super) struct Local<'a> {
    pub(super) runner: Box<dyn Runner>,
    pub(super) spec: LaneSpec,
    pub(super) streams: &'a [Vec<u64>],
}

impl Lane for Local<'_> {
    fn measure(&mut self, run: RunSpec) -> Result<Sample> {
        let row = self.spec.row(self.streams, run);
        Ok(self.runner.measure(&row, run.index.unwrap_or(usize::MAX)))
    }
}

/// A cache in a child process.
pub(super) struct Remote(LaneProcess);

impl Remote {
    /// Starts the child for `peer`; it builds and prefills while the caller starts the others.
    pub(super) fn spawn(peer: Peer, spec: &LaneSpec) -> Result<Self> {
        let mut args = vec![
            "throughput".to_owned(),
            "--lane".to_owned(),
            cli_name(&peer),
            "--keys".to_owned(),
            spec.keys.to_string(),
            "--values".to_owned(),
            spec.value_size.to_string(),
            "--threads".to_owned(),
            spec.streams.max(1).to_string(),
            "--ttl-ms".to_owned(),
            spec.ttl_run.as_millis().to_string(),
            "--zipf-s".to_owned(),
            spec.zipf_s.to_string(),
        ];
        if spec.ttl.is_some() {
            args.push("--lane-ttl".to_owned());
        }
        LaneProcess::spawn(peer.label(), &args).map(Self)
    }

    /// Waits until the child has prefilled; `None` (and the child gone) if its cache is not available
    /// in this build.
    pub(super) fn ready(self) -> Result<Option<Self>> {
        Ok(self.0.ready()?.map(Self))
    }
}

impl Lane for Remote {
    fn measure(&mut self, run: RunSpec) -> Result<Sample> {
        Sample::parse(&self.0.request(&run.to_line())?)
    }
}

/// Length of the unmeasured run a child makes before it reports ready.
const FIRST_RUN_WARMUP: Duration = Duration::from_millis(100);

/// The child's side: builds and prefills `peer`'s cache, then measures the runs its parent asks for.
pub(super) fn serve(peer: Peer, spec: &LaneSpec) -> Result<()> {
    let streams = key_streams(spec.keys, spec.zipf_s, spec.streams);
    let mut out = std::io::stdout().lock();
    let Some(runner) = spec.prepare(peer) else {
        writeln!(out, "{UNAVAILABLE}")?;
        return Ok(());
    };
    let mut lane = Local {
        runner,
        spec: *spec,
        streams: &streams,
    };
    // The first run in a new process pays one-off costs the later ones do not: the allocator sets up an
    // arena for each new worker thread and faults its pages in (16-28 ms batches for every cache in the
    // first row measured, before this). An unmeasured run of gets, which leave the cache's contents
    // alone, with every thread takes them here.
    lane.measure(RunSpec {
        workload: Workload::Read,
        threads: spec.streams.max(1),
        run: FIRST_RUN_WARMUP,
        index: None,
    })?;
    writeln!(out, "READY")?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        let run = RunSpec::parse(&line.context("reading a request")?)?;
        writeln!(out, "{}", lane.measure(run)?.to_line())?;
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_samples_survive_the_pipe() {
        for run in [
            RunSpec {
                workload: Workload::Ttl,
                threads: 2,
                run: Duration::from_millis(150),
                index: Some(4),
            },
            RunSpec {
                workload: Workload::Mixed,
                threads: 1,
                run: Duration::from_secs(1),
                index: None,
            },
        ] {
            assert_eq!(RunSpec::parse(&run.to_line()).ok(), Some(run));
        }
        let sample = Sample {
            mops: 2.5,
            cpu_mops: 2.75,
            hit_percent: Some(81.25),
            worst_batch: Duration::from_nanos(1_234_567),
        };
        let back = Sample::parse(&sample.to_line()).ok();
        assert_eq!(back.map(|s| (s.mops, s.cpu_mops)), Some((2.5, 2.75)));
        assert_eq!(back.and_then(|s| s.hit_percent), Some(81.25));
        assert_eq!(back.map(|s| s.worst_batch), Some(sample.worst_batch));
        let write = Sample {
            hit_percent: None,
            ..sample
        };
        assert_eq!(
            Sample::parse(&write.to_line()).ok().map(|s| s.hit_percent),
            Some(None)
        );
        assert!(RunSpec::parse("run sideways 1 5 0").is_err());
        assert!(Sample::parse("READY").is_err());
    }
}
