//! Where a cache of the `facade` command runs while it is measured: a child process of its own (the
//! default, so each cache has its own allocator heap, as in a service), or this process
//! (`--in-process`, and the unit tests).
//!
//! The parent re-executes this binary with `facade --lane <cache>` and the group's keyspace, value
//! size and TTL. The child builds its key streams (the same seeds give the same streams), builds and
//! prefills its cache, makes one short unmeasured run of gets, prints `READY`, then answers each `run`
//! line on its stdin with one `sample` line until its stdin closes. A failed call ends the child with
//! an error on its stderr (inherited), and the parent's next read reports that the lane exited.

use std::io::{BufRead, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use super::store::{Moka, Quick, QuickExpiring, Single, Sizing};
use super::{Row, Runner, Sample, Subject, Workload, key_streams, prefill};
use crate::cli_name;
use crate::lane_process::LaneProcess;

/// One measured run as the parent asks for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RunSpec {
    /// The operation mix.
    pub(super) workload: Workload,
    /// Worker threads.
    pub(super) threads: usize,
    /// Length of the run.
    pub(super) run: Duration,
    /// Which run of the row this is (streams start at an offset per run); `None` for an unmeasured
    /// warm-up run.
    pub(super) index: Option<usize>,
}

impl RunSpec {
    /// The request line.
    fn to_line(self) -> String {
        format!(
            "run {} {} {} {}",
            cli_name(&self.workload),
            self.threads,
            self.run.as_nanos(),
            self.index.map_or("warm".to_owned(), |i| i.to_string())
        )
    }

    /// Parses a request line.
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
    /// The answer line.
    fn to_line(self) -> String {
        format!(
            "sample {} {} {}",
            self.mops,
            self.cpu_mops,
            self.hit_percent.map_or("-".to_owned(), |h| h.to_string()),
        )
    }

    /// Parses an answer line.
    fn parse(line: &str) -> Result<Self> {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let ["sample", mops, cpu, hits] = parts.as_slice() else {
            bail!("expected a `sample` line, got {line:?}");
        };
        Ok(Self {
            mops: mops.parse().context("bad mops")?,
            cpu_mops: cpu.parse().context("bad cpu mops")?,
            hit_percent: match *hits {
                "-" => None,
                h => Some(h.parse().context("bad hit ratio")?),
            },
        })
    }
}

/// What a lane needs to build and prefill its cache.
#[derive(Debug, Clone, Copy)]
pub(super) struct LaneSpec {
    /// Distinct keys of the Zipf distribution.
    pub(super) keys: u64,
    /// Bytes of every value.
    pub(super) value_size: usize,
    /// The group's TTL: its caches are built for `set_with_ttl` and prefilled with it.
    pub(super) ttl: Option<Duration>,
    /// The TTL of the TTL workload's writes (also when the group has none).
    pub(super) ttl_run: Duration,
    /// Key streams to build: one per thread of the largest thread count.
    pub(super) streams: usize,
    /// Keys per stream (a power of two).
    pub(super) stream_len: usize,
    /// Zipf exponent.
    pub(super) zipf_s: f64,
}

impl LaneSpec {
    /// The caches' capacity: 10% of the keyspace, in entries.
    pub(super) fn capacity(&self) -> u64 {
        (self.keys / 10).max(1)
    }

    /// Builds and prefills `subject`'s cache.
    pub(super) fn prepare(&self, subject: Subject) -> Result<Box<dyn Runner>> {
        let sizing = Sizing {
            capacity: self.capacity(),
            value_size: self.value_size,
            ttl: self.ttl,
        };
        let label = subject.label();
        match subject {
            Subject::Single => prefill(Single::build(&sizing)?, label, self),
            Subject::QuickCache if self.ttl.is_some() => {
                prefill(QuickExpiring::build(&sizing)?, label, self)
            }
            Subject::QuickCache => prefill(Quick::build(&sizing)?, label, self),
            Subject::Moka => prefill(Moka::build(&sizing)?, label, self),
        }
    }

    /// What the worker threads need for run `run` over `streams`.
    fn row<'a>(&self, streams: &'a [Vec<u64>], run: RunSpec) -> Row<'a> {
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
    /// Makes one run and returns its sample.
    fn measure(&mut self, run: RunSpec) -> Result<Sample>;
}

/// A cache in this process.
pub(super) struct Local<'a> {
    /// The built and prefilled cache.
    pub(super) runner: Box<dyn Runner>,
    /// What it was built for.
    pub(super) spec: LaneSpec,
    /// The key streams.
    pub(super) streams: &'a [Vec<u64>],
}

impl Lane for Local<'_> {
    fn measure(&mut self, run: RunSpec) -> Result<Sample> {
        let row = self.spec.row(self.streams, run);
        self.runner.measure(&row, run.index.unwrap_or(usize::MAX))
    }
}

/// A cache in a child process.
pub(super) struct Remote(LaneProcess);

impl Remote {
    /// Starts the child for `subject`; it builds and prefills while the caller starts the others.
    pub(super) fn spawn(subject: Subject, spec: &LaneSpec) -> Result<Self> {
        let mut args = vec![
            "facade".to_owned(),
            "--lane".to_owned(),
            cli_name(&subject),
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
        LaneProcess::spawn(subject.label(), &args).map(Self)
    }

    /// Waits until the child has prefilled.
    pub(super) fn ready(self) -> Result<Self> {
        match self.0.ready()? {
            Some(child) => Ok(Self(child)),
            None => bail!("a facade lane reported its cache unavailable"),
        }
    }
}

impl Lane for Remote {
    fn measure(&mut self, run: RunSpec) -> Result<Sample> {
        Sample::parse(&self.0.request(&run.to_line())?)
    }
}

/// Length of the unmeasured run a child makes before it reports ready.
const FIRST_RUN_WARMUP: Duration = Duration::from_millis(100);

/// The child's side: builds and prefills `subject`'s cache, then measures the runs its parent asks
/// for.
pub(super) fn serve(subject: Subject, spec: &LaneSpec) -> Result<()> {
    let streams = key_streams(spec.keys, spec.zipf_s, spec.streams, spec.stream_len);
    let mut lane = Local {
        runner: spec.prepare(subject)?,
        spec: *spec,
        streams: &streams,
    };
    // The first run in a new process pays one-off costs (an allocator arena per new worker thread,
    // its page faults): an unmeasured run of gets, which leave the cache's contents alone, takes them.
    lane.measure(RunSpec {
        workload: Workload::Read,
        threads: spec.streams.max(1),
        run: FIRST_RUN_WARMUP,
        index: None,
    })?;
    let mut out = std::io::stdout().lock();
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
        for sample in [
            Sample {
                mops: 2.5,
                cpu_mops: 2.75,
                hit_percent: Some(81.25),
            },
            Sample {
                mops: 1.0,
                cpu_mops: 1.5,
                hit_percent: None,
            },
        ] {
            assert_eq!(Sample::parse(&sample.to_line()).ok(), Some(sample));
        }
        assert!(RunSpec::parse("run sideways 1 5 0").is_err());
        assert!(Sample::parse("READY").is_err());
    }
}
