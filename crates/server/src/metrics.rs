//! [`Metrics`]: the server's counters, and their Prometheus text rendering.
//!
//! Connections count into a [`Local`] batch without touching shared cache lines, and add the batch to
//! the shared atomics once per read (every few commands under load), so two cores serving many clients
//! do not fight over one counter.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use relaycache::Stats;
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
}

impl CloseReason {
    const ALL: [CloseReason; 4] = [
        CloseReason::Protocol,
        CloseReason::Idle,
        CloseReason::Partial,
        CloseReason::OutputBuffer,
    ];

    /// The label value used in metrics and logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Protocol => "protocol_error",
            CloseReason::Idle => "idle_timeout",
            CloseReason::Partial => "partial_command_timeout",
            CloseReason::OutputBuffer => "output_buffer_limit",
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
    closed: [AtomicU64; 4],
    commands: [AtomicU64; NC],
    unknown_commands: AtomicU64,
    error_replies: AtomicU64,
    latency: [AtomicU64; NB],
    latency_sum_ns: AtomicU64,
}

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

    /// Resets the command counters (`CONFIG RESETSTAT`).
    pub fn reset_commands(&self) {
        for c in self.commands.iter().chain(&self.latency) {
            c.store(0, Ordering::Relaxed);
        }
        self.unknown_commands.store(0, Ordering::Relaxed);
        self.error_replies.store(0, Ordering::Relaxed);
        self.latency_sum_ns.store(0, Ordering::Relaxed);
    }

    /// Renders every metric in the Prometheus text format; `stats` are the cache's, when it has them.
    #[must_use]
    pub fn render(&self, stats: Option<&Stats>, mode: &str) -> String {
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
