//! [`Metrics`]: the server's counters, and their Prometheus text rendering; [`install_recorder`]: the
//! process's `metrics` recorder, which collects what the libraries record (the cluster node's
//! `relaycache_cluster_*` series) and is rendered after the server's own series on `/metrics`.
//!
//! Connections count into a [`Local`] batch without touching shared cache lines, and add the batch to
//! the shared atomics once per read (every few commands under load), so two cores serving many clients
//! do not fight over one counter.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use relaycache::{ClusterInfo, Stats};
use relaycache_resp::cmd::COMMANDS;

/// Upper bounds of the command latency histogram buckets, in microseconds (`+Inf` is implied).
pub const LATENCY_BUCKETS_US: [u64; 12] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000,
];
const NB: usize = LATENCY_BUCKETS_US.len() + 1;
const NC: usize = COMMANDS.len();

/// Why the server closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Malformed or over-limit input.
    Protocol,
    /// No input for `idle_timeout`.
    Idle,
    /// A command did not complete within `partial_command_timeout`.
    Partial,
    /// Unread replies passed `max_output_buffer`.
    OutputBuffer,
    /// The TLS handshake failed (not TLS, a refused or missing client certificate) or did not finish
    /// within `tls_handshake_timeout`.
    TlsHandshake,
}

impl CloseReason {
    const ALL: [CloseReason; 5] = [
        CloseReason::Protocol,
        CloseReason::Idle,
        CloseReason::Partial,
        CloseReason::OutputBuffer,
        CloseReason::TlsHandshake,
    ];

    /// The label value used in metrics and logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Protocol => "protocol_error",
            CloseReason::Idle => "idle_timeout",
            CloseReason::Partial => "partial_command_timeout",
            CloseReason::OutputBuffer => "output_buffer_limit",
            CloseReason::TlsHandshake => "tls_handshake",
        }
    }
}

/// Counters shared by every connection of one server.
#[derive(Debug)]
pub struct Metrics {
    /// Connections accepted.
    pub connections_total: AtomicU64,
    /// Connections refused because `max_clients` were connected.
    pub connections_rejected: AtomicU64,
    /// Connections open now.
    pub connected: AtomicU64,
    closed: [AtomicU64; 5],
    commands: [AtomicU64; NC],
    unknown_commands: AtomicU64,
    error_replies: AtomicU64,
    latency: [AtomicU64; NB],
    latency_sum_ns: AtomicU64,
    memory_peak: AtomicU64,
    ops_sample: Mutex<OpsSample>,
}

/// The last `INFO` rate sample: when, the command count then, the rate computed then.
#[derive(Debug, Clone, Copy)]
struct OpsSample {
    at: Instant,
    commands: u64,
    rate: u64,
}

/// The shortest interval over which [`Metrics::ops_per_sec`] computes a new rate.
const OPS_MIN_INTERVAL: Duration = Duration::from_millis(100);

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connections_total: AtomicU64::new(0),
            connections_rejected: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            closed: std::array::from_fn(|_| AtomicU64::new(0)),
            commands: std::array::from_fn(|_| AtomicU64::new(0)),
            unknown_commands: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_ns: AtomicU64::new(0),
            memory_peak: AtomicU64::new(0),
            ops_sample: Mutex::new(OpsSample {
                at: Instant::now(),
                commands: 0,
                rate: 0,
            }),
        }
    }
}

/// One connection's counts not yet added to [`Metrics`].
#[derive(Debug)]
pub struct Local {
    commands: [u32; NC],
    unknown: u32,
    errors: u32,
    latency: [u32; NB],
    latency_sum_ns: u64,
    dirty: bool,
}

impl Default for Local {
    fn default() -> Self {
        Local {
            commands: [0; NC],
            unknown: 0,
            errors: 0,
            latency: [0; NB],
            latency_sum_ns: 0,
            dirty: false,
        }
    }
}

impl Local {
    /// Counts one executed command (`spec` is its index in [`COMMANDS`], `None` when unknown).
    pub fn command(&mut self, spec: Option<usize>, took: Duration) {
        self.dirty = true;
        match spec {
            Some(i) if i < NC => self.commands[i] += 1,
            _ => self.unknown += 1,
        }
        let us = took.as_micros() as u64;
        let bucket = LATENCY_BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(NB - 1);
        self.latency[bucket] += 1;
        self.latency_sum_ns += took.as_nanos() as u64;
    }

    /// Counts one error reply.
    pub fn error(&mut self) {
        self.dirty = true;
        self.errors += 1;
    }

    /// Adds the batch to `shared` and resets it.
    pub fn flush(&mut self, shared: &Metrics) {
        if !self.dirty {
            return;
        }
        for (i, n) in self.commands.iter_mut().enumerate() {
            if *n > 0 {
                shared.commands[i].fetch_add(u64::from(*n), Ordering::Relaxed);
                *n = 0;
            }
        }
        for (i, n) in self.latency.iter_mut().enumerate() {
            if *n > 0 {
                shared.latency[i].fetch_add(u64::from(*n), Ordering::Relaxed);
                *n = 0;
            }
        }
        if self.unknown > 0 {
            shared
                .unknown_commands
                .fetch_add(u64::from(self.unknown), Ordering::Relaxed);
            self.unknown = 0;
        }
        if self.errors > 0 {
            shared
                .error_replies
                .fetch_add(u64::from(self.errors), Ordering::Relaxed);
            self.errors = 0;
        }
        shared
            .latency_sum_ns
            .fetch_add(self.latency_sum_ns, Ordering::Relaxed);
        self.latency_sum_ns = 0;
        self.dirty = false;
    }
}

impl Metrics {
    /// Counts a connection closed by the server for `reason`.
    pub fn closed(&self, reason: CloseReason) {
        let i = CloseReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.closed[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Commands executed so far (all kinds, unknown included).
    #[must_use]
    pub fn commands_total(&self) -> u64 {
        self.commands
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.unknown_commands.load(Ordering::Relaxed)
    }

    /// Error replies sent so far.
    #[must_use]
    pub fn error_replies(&self) -> u64 {
        self.error_replies.load(Ordering::Relaxed)
    }

    /// Records `used` bytes as observed now and returns the highest value observed so far.
    pub fn observe_memory(&self, used: u64) -> u64 {
        self.memory_peak
            .fetch_max(used, Ordering::Relaxed)
            .max(used)
    }

    /// Commands per second between the previous call and this one (at least 100 ms apart: a call
    /// sooner repeats the previous rate). `INFO` calls it for `instantaneous_ops_per_sec`.
    pub fn ops_per_sec(&self) -> u64 {
        let now = Instant::now();
        let commands = self.commands_total();
        let mut sample = self
            .ops_sample
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = now.duration_since(sample.at);
        if elapsed >= OPS_MIN_INTERVAL {
            let done = commands.saturating_sub(sample.commands);
            sample.rate = (done as f64 / elapsed.as_secs_f64()).round() as u64;
            sample.at = now;
            sample.commands = commands;
        }
        sample.rate
    }

    /// Resets the command counters (`CONFIG RESETSTAT`).
    pub fn reset_commands(&self) {
        for c in self.commands.iter().chain(&self.latency) {
            c.store(0, Ordering::Relaxed);
        }
        self.unknown_commands.store(0, Ordering::Relaxed);
        self.error_replies.store(0, Ordering::Relaxed);
        self.latency_sum_ns.store(0, Ordering::Relaxed);
    }

    /// Renders every metric in the Prometheus text format; `stats` are the cache's, when it has them,
    /// `cluster` the cluster's view in `ha` mode. The series of the process's recorder
    /// ([`install_recorder`]) follow, except those whose names the server already rendered.
    #[must_use]
    pub fn render(
        &self,
        stats: Option<&Stats>,
        cluster: Option<&ClusterInfo>,
        mode: &str,
    ) -> String {
        let mut out = self.render_own(stats, cluster, mode);
        if let Some(handle) = install_recorder() {
            append_recorded(&mut out, &handle.render());
        }
        out
    }

    /// The server's own series (no recorder output).
    fn render_own(
        &self,
        stats: Option<&Stats>,
        cluster: Option<&ClusterInfo>,
        mode: &str,
    ) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        metric(
            "relaycache_info",
            "gauge",
            "Build and mode of this server.",
            &[(
                format!(
                    "{{version=\"{}\",mode=\"{mode}\"}}",
                    env!("CARGO_PKG_VERSION")
                ),
                1,
            )],
        );
        if let Some(s) = stats {
            let one = |v: u64| vec![(String::new(), v)];
            metric(
                "relaycache_hits_total",
                "counter",
                "Reads that found a value.",
                &one(s.hits),
            );
            metric(
                "relaycache_misses_total",
                "counter",
                "Reads that found nothing.",
                &one(s.misses),
            );
            metric(
                "relaycache_evictions_total",
                "counter",
                "Keys removed by the cache, by cause (size bound, expiry, admission refusal).",
                &[
                    ("{cause=\"size\"}".to_owned(), s.evictions),
                    ("{cause=\"expired\"}".to_owned(), s.expirations),
                    ("{cause=\"rejected\"}".to_owned(), s.rejections),
                ],
            );
            metric("relaycache_keys", "gauge", "Keys held.", &one(s.key_count));
            metric(
                "relaycache_bytes",
                "gauge",
                "Bytes charged against the bound.",
                &one(s.bytes_used),
            );
            metric(
                "relaycache_max_bytes",
                "gauge",
                "The bound in bytes (0: none).",
                &one(s.max_cost),
            );
        }
        if let Some(c) = cluster {
            let one = |v: u64| vec![(String::new(), v)];
            metric(
                "relaycache_cluster_members",
                "gauge",
                "Live cluster members this node sees, itself included.",
                &one(c.cluster_members as u64),
            );
            metric(
                "relaycache_cluster_partitions",
                "gauge",
                "Partitions this node owns, by role (incoming: still being received).",
                &[
                    (
                        "{role=\"primary\"}".to_owned(),
                        u64::from(c.primary_partitions),
                    ),
                    (
                        "{role=\"backup\"}".to_owned(),
                        u64::from(c.backup_partitions),
                    ),
                    (
                        "{role=\"incoming\"}".to_owned(),
                        u64::from(c.incoming_partitions),
                    ),
                ],
            );
            metric(
                "relaycache_cluster_epoch",
                "gauge",
                "The routing table's local epoch (changes with every membership change seen).",
                &one(c.epoch),
            );
            metric(
                "relaycache_cluster_has_member_quorum",
                "gauge",
                "1 while this node sees at least member_count_quorum members (it serves), else 0.",
                &one(u64::from(
                    c.cluster_members as u64 >= u64::from(c.member_count_quorum),
                )),
            );
        }
        let mut commands: Vec<(String, u64)> = COMMANDS
            .iter()
            .zip(&self.commands)
            .filter(|(_, c)| load(c) > 0)
            .map(|(s, c)| (format!("{{command=\"{}\"}}", s.name), load(c)))
            .collect();
        commands.push((
            "{command=\"unknown\"}".to_owned(),
            load(&self.unknown_commands),
        ));
        metric(
            "relaycache_commands_total",
            "counter",
            "Commands executed, by command.",
            &commands,
        );
        metric(
            "relaycache_command_errors_total",
            "counter",
            "Error replies sent.",
            &[(String::new(), load(&self.error_replies))],
        );
        metric(
            "relaycache_connections",
            "gauge",
            "Clients connected now.",
            &[(String::new(), load(&self.connected))],
        );
        metric(
            "relaycache_connections_total",
            "counter",
            "Clients accepted.",
            &[(String::new(), load(&self.connections_total))],
        );
        metric(
            "relaycache_connections_rejected_total",
            "counter",
            "Clients refused because max_clients were connected.",
            &[(String::new(), load(&self.connections_rejected))],
        );
        let closed: Vec<(String, u64)> = CloseReason::ALL
            .iter()
            .zip(&self.closed)
            .map(|(r, c)| (format!("{{reason=\"{}\"}}", r.as_str()), load(c)))
            .collect();
        metric(
            "relaycache_connections_closed_total",
            "counter",
            "Clients disconnected by the server, by reason.",
            &closed,
        );
        let _ = writeln!(
            out,
            "# HELP relaycache_command_duration_seconds Time to execute one command.\n\
             # TYPE relaycache_command_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (i, bucket) in self.latency.iter().enumerate() {
            cumulative += load(bucket);
            let le = LATENCY_BUCKETS_US
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |us| format!("{}", *us as f64 / 1e6));
            let _ = writeln!(
                out,
                "relaycache_command_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "relaycache_command_duration_seconds_sum {}\nrelaycache_command_duration_seconds_count {cumulative}",
            load(&self.latency_sum_ns) as f64 / 1e9
        );
        out
    }
}

/// Buckets of the recorder's histograms (`relaycache_cluster_rpc_seconds`), in seconds.
const RECORDER_BUCKETS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// How often the recorder's histograms are folded in, whether or not `/metrics` is scraped (so they
/// stay bounded).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs a Prometheus recorder as the process's global `metrics` recorder, once per process, and
/// returns its handle; later calls return the same handle. `None` when another recorder was installed
/// first (then the libraries' series go there, and `/metrics` shows only the server's own).
///
/// Call it before starting the cache, so the series recorded at start are kept (`relaycache-server`
/// does; [`Server::bind`](crate::Server::bind) calls it too). The first successful call also starts a
/// thread that runs the recorder's upkeep every few seconds.
pub fn install_recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let builder = match builder.set_buckets(&RECORDER_BUCKETS) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "histogram buckets refused; using summaries");
                    PrometheusBuilder::new()
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                tracing::debug!(error = %e, "a metrics recorder is already installed");
                return None;
            }
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("relaycache-metrics".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
            }
            Some(handle)
        })
        .as_ref()
}

/// The metric family a text-format line belongs to (for comments, the name they describe).
fn family(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("# HELP ")
        .or_else(|| line.strip_prefix("# TYPE "))
        .unwrap_or(line);
    if rest.starts_with('#') {
        return None;
    }
    let end = rest.find(['{', ' ']).unwrap_or(rest.len());
    let name = &rest[..end];
    (!name.is_empty()).then_some(name)
}

/// Appends the recorder's text to `out`, leaving out every family `out` already has (a histogram's
/// `_bucket`, `_sum` and `_count` lines count as its family), so no name appears twice.
fn append_recorded(out: &mut String, recorded: &str) {
    let own: HashSet<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let taken = |name: &str| {
        own.contains(name)
            || ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| name.strip_suffix(s).is_some_and(|base| own.contains(base)))
    };
    for line in recorded.lines() {
        if line.is_empty() || family(line).is_some_and(taken) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_families_the_server_renders_are_left_out() {
        let mut out = "# HELP a_members x\n# TYPE a_members gauge\na_members 3\n".to_owned();
        let recorded = "# TYPE a_members gauge\na_members 1\n\n# TYPE b_total counter\n\
                        b_total{k=\"v\"} 2\n\n# TYPE a_members_seconds histogram\n\
                        a_members_seconds_bucket{le=\"1\"} 1\n";
        append_recorded(&mut out, recorded);
        assert_eq!(
            out,
            "# HELP a_members x\n# TYPE a_members gauge\na_members 3\n# TYPE b_total counter\n\
             b_total{k=\"v\"} 2\n# TYPE a_members_seconds histogram\n\
             a_members_seconds_bucket{le=\"1\"} 1\n"
        );
    }

    #[test]
    fn cluster_gauges_are_rendered_once() {
        let mut info = ClusterInfo::default();
        info.cluster_members = 2;
        info.member_count_quorum = 2;
        info.primary_partitions = 5;
        info.backup_partitions = 4;
        info.incoming_partitions = 1;
        info.epoch = 7;
        assert!(
            install_recorder().is_some(),
            "no other recorder in this process"
        );
        metrics::gauge!("relaycache_cluster_members").set(9.0);
        metrics::counter!("relaycache_cluster_test_total").increment(1);
        let text = Metrics::default().render(None, Some(&info), "ha");
        for line in [
            "relaycache_cluster_members 2",
            "relaycache_cluster_partitions{role=\"primary\"} 5",
            "relaycache_cluster_partitions{role=\"backup\"} 4",
            "relaycache_cluster_partitions{role=\"incoming\"} 1",
            "relaycache_cluster_epoch 7",
            "relaycache_cluster_has_member_quorum 1",
            "relaycache_cluster_test_total 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert_eq!(
            text.matches("# TYPE relaycache_cluster_members ").count(),
            1,
            "{text}"
        );
        assert!(!text.contains("relaycache_cluster_members 9"), "{text}");
    }
}
