//! INFO: Redis's sections, names and formats, with relaycache's numbers.
//!
//! Sections come in Redis's order, each headed `# Name`, one `field:value` line each, separated by a
//! blank line; `INFO` / `INFO default` give the default sections, `INFO all` / `INFO everything` all of
//! them (relaycache keeps no per-command statistics, so `commandstats` and `latencystats` are not among
//! them); unknown names are ignored, so `INFO foo` is an empty reply, as in Redis.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use relaycache::{Cache, Stats};
use relaycache_resp::{Args, Writer};

use crate::dispatch::Flow;
use crate::server::{REDIS_VERSION, Shared};

/// Every section, in Redis's order, and whether it is a default one. `relaycache` is this server's own
/// (mode, backend, admission rejections), last as a module's section would be.
const SECTIONS: [(&str, &str, bool); 12] = [
    ("server", "Server", true),
    ("clients", "Clients", true),
    ("memory", "Memory", true),
    ("persistence", "Persistence", true),
    ("stats", "Stats", true),
    ("replication", "Replication", true),
    ("cpu", "CPU", true),
    ("modules", "Modules", true),
    ("errorstats", "Errorstats", true),
    ("cluster", "Cluster", true),
    ("keyspace", "Keyspace", true),
    ("relaycache", "Relaycache", true),
];

/// Keys whose TTL one `INFO keyspace` reads to estimate `expires` and `avg_ttl`.
const TTL_SAMPLE: usize = 64;

/// Which sections `args` ask for (no argument: the default ones).
fn selected(args: Args<'_>) -> [bool; SECTIONS.len()] {
    let mut on = [false; SECTIONS.len()];
    if args.is_empty() {
        return SECTIONS.map(|(_, _, default)| default);
    }
    for arg in args.iter() {
        for (i, (name, _, default)) in SECTIONS.iter().enumerate() {
            let all = relaycache_resp::is(arg, "all") || relaycache_resp::is(arg, "everything");
            if all
                || (*default && relaycache_resp::is(arg, "default"))
                || relaycache_resp::is(arg, name)
                || (*name == "modules" && relaycache_resp::is(arg, "module_list"))
            {
                on[i] = true;
            }
        }
    }
    on
}

pub(super) async fn info<C: Cache>(shared: &Shared<C>, args: Args<'_>, w: &mut Writer<'_>) -> Flow {
    let on = selected(args);
    let stats = if on[2] || on[4] || on[10] || on[11] {
        shared.cache.stats().await.ok()
    } else {
        None
    };
    let mut text = String::with_capacity(4096);
    for (i, (name, title, _)) in SECTIONS.iter().enumerate() {
        if !on[i] {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let _ = write!(text, "# {title}\r\n");
        let mut out = Lines(&mut text);
        match *name {
            "server" => server(shared, &mut out),
            "clients" => clients(shared, &mut out),
            "memory" => memory(shared, stats.as_ref(), &mut out),
            "persistence" => persistence(shared, &mut out),
            "stats" => counters(shared, stats.as_ref(), &mut out),
            "replication" => replication(shared, &mut out),
            "cpu" => cpu(&mut out),
            "cluster" => out.line("cluster_enabled", 0),
            "keyspace" => keyspace(shared, stats.as_ref(), &mut out).await,
            "relaycache" => {
                out.line("mode", shared.mode);
                out.line("backend", shared.cache.name());
                out.line("admission_rejections", stats.map_or(0, |s| s.rejections));
            }
            _ => {}
        }
    }
    w.verbatim(text.as_bytes());
    Flow::Continue
}

/// Writes `field:value\r\n` lines.
struct Lines<'a>(&'a mut String);

impl Lines<'_> {
    fn line(&mut self, field: &str, value: impl std::fmt::Display) {
        let _ = write!(self.0, "{field}:{value}\r\n");
    }
}

fn server<C: Cache>(shared: &Shared<C>, out: &mut Lines<'_>) {
    let uptime = shared.started.elapsed().as_secs();
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    out.line("redis_version", REDIS_VERSION);
    out.line("redis_git_sha1", "00000000");
    out.line("redis_git_dirty", 0);
    out.line("relaycache_version", env!("CARGO_PKG_VERSION"));
    out.line("redis_mode", "standalone");
    out.line(
        "os",
        format!(
            "{} {} {}",
            os_name(),
            release.trim(),
            std::env::consts::ARCH
        )
        .trim(),
    );
    out.line("arch_bits", usize::BITS);
    out.line("multiplexing_api", multiplexing_api());
    out.line("process_id", std::process::id());
    out.line("process_supervised", "no");
    out.line("run_id", &shared.run_id);
    out.line("tcp_port", shared.port);
    out.line("server_time_usec", now_us);
    out.line("uptime_in_seconds", uptime);
    out.line("uptime_in_days", uptime / 86_400);
    out.line("executable", executable);
    out.line("config_file", shared.config_file.as_deref().unwrap_or(""));
    out.line("io_threads_active", 0);
}

/// The kernel's name as `uname -s` prints it.
fn os_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "freebsd" => "FreeBSD",
        other => other,
    }
}

/// The readiness API tokio's driver (mio) uses on this platform.
fn multiplexing_api() -> &'static str {
    match std::env::consts::OS {
        "linux" | "android" => "epoll",
        "windows" => "iocp",
        _ => "kqueue",
    }
}

fn clients<C: Cache>(shared: &Shared<C>, out: &mut Lines<'_>) {
    out.line(
        "connected_clients",
        shared.metrics.connected.load(Ordering::Relaxed),
    );
    out.line("cluster_connections", 0);
    out.line("maxclients", shared.config.max_clients);
    out.line("blocked_clients", 0);
    out.line("tracking_clients", 0);
    out.line("clients_in_timeout_table", 0);
}

fn memory<C: Cache>(shared: &Shared<C>, stats: Option<&Stats>, out: &mut Lines<'_>) {
    let rss = resident_bytes();
    // The cache's own accounting when it has one (keys, values, per-entry bookkeeping), else the process.
    let used = stats.map_or(rss, |s| s.bytes_used).max(1);
    let peak = shared.metrics.observe_memory(used);
    let max = stats.map_or(0, |s| s.max_cost);
    let system = total_system_memory();
    out.line("used_memory", used);
    out.line("used_memory_human", human(used));
    out.line("used_memory_rss", rss);
    out.line("used_memory_rss_human", human(rss));
    out.line("used_memory_peak", peak);
    out.line("used_memory_peak_human", human(peak));
    out.line(
        "used_memory_peak_perc",
        format!("{:.2}%", used as f64 * 100.0 / peak as f64),
    );
    out.line("total_system_memory", system);
    out.line("total_system_memory_human", human(system));
    out.line("maxmemory", max);
    out.line("maxmemory_human", human(max));
    out.line("maxmemory_policy", "allkeys-lfu");
    out.line(
        "mem_fragmentation_ratio",
        format!("{:.2}", rss as f64 / used as f64),
    );
    out.line(
        "mem_fragmentation_bytes",
        i128::from(rss) - i128::from(used),
    );
    out.line("mem_allocator", "libc");
}

fn persistence<C: Cache>(shared: &Shared<C>, out: &mut Lines<'_>) {
    out.line("loading", 0);
    out.line("async_loading", 0);
    out.line("rdb_changes_since_last_save", 0);
    out.line("rdb_bgsave_in_progress", 0);
    out.line("rdb_last_save_time", shared.started_unix);
    out.line("rdb_last_bgsave_status", "ok");
    out.line("rdb_saves", 0);
    out.line("aof_enabled", 0);
    out.line("aof_rewrite_in_progress", 0);
    out.line("aof_rewrite_scheduled", 0);
    out.line("aof_last_bgrewrite_status", "ok");
    out.line("aof_last_write_status", "ok");
}

fn counters<C: Cache>(shared: &Shared<C>, stats: Option<&Stats>, out: &mut Lines<'_>) {
    let m = &shared.metrics;
    out.line(
        "total_connections_received",
        m.connections_total.load(Ordering::Relaxed),
    );
    out.line("total_commands_processed", m.commands_total());
    out.line("instantaneous_ops_per_sec", m.ops_per_sec());
    out.line(
        "rejected_connections",
        m.connections_rejected.load(Ordering::Relaxed),
    );
    out.line("expired_keys", stats.map_or(0, |s| s.expirations));
    out.line("evicted_keys", stats.map_or(0, |s| s.evictions));
    out.line("keyspace_hits", stats.map_or(0, |s| s.hits));
    out.line("keyspace_misses", stats.map_or(0, |s| s.misses));
    out.line("total_error_replies", m.error_replies());
}

fn replication<C: Cache>(shared: &Shared<C>, out: &mut Lines<'_>) {
    out.line("role", "master");
    out.line("connected_slaves", 0);
    out.line("master_failover_state", "no-failover");
    out.line("master_replid", &shared.replid);
    out.line("master_replid2", "0".repeat(40));
    out.line("master_repl_offset", 0);
    out.line("second_repl_offset", -1);
    out.line("repl_backlog_active", 0);
    out.line("repl_backlog_size", 0);
    out.line("repl_backlog_first_byte_offset", 0);
    out.line("repl_backlog_histlen", 0);
}

fn cpu(out: &mut Lines<'_>) {
    let (user, sys) = cpu_seconds();
    out.line("used_cpu_sys", format!("{sys:.6}"));
    out.line("used_cpu_user", format!("{user:.6}"));
    out.line("used_cpu_sys_children", "0.000000");
    out.line("used_cpu_user_children", "0.000000");
}

/// `db0:keys=N,expires=M,avg_ttl=T`, only when there are keys. `expires` and `avg_ttl` (milliseconds)
/// are estimated from the TTLs of up to [`TTL_SAMPLE`] keys of the first page of a scan, scaled to the
/// key count (exact when that page holds every key).
async fn keyspace<C: Cache>(shared: &Shared<C>, stats: Option<&Stats>, out: &mut Lines<'_>) {
    let Some(keys) = stats.map(|s| s.key_count).filter(|&n| n > 0) else {
        return;
    };
    let (mut sampled, mut with_ttl, mut ttl_sum_ms) = (0u64, 0u64, 0u128);
    if let Ok(page) = shared.cache.scan(0, b"", TTL_SAMPLE).await {
        for key in page.keys.iter().take(TTL_SAMPLE) {
            match shared.cache.ttl(key).await {
                Ok(Some(ttl)) => {
                    sampled += 1;
                    with_ttl += 1;
                    ttl_sum_ms += ttl.as_millis();
                }
                Ok(None) => sampled += 1,
                Err(_) => {}
            }
        }
    }
    let expires = if sampled == 0 {
        0
    } else {
        ((keys as f64) * (with_ttl as f64) / (sampled as f64)).round() as u64
    };
    let avg_ttl = if with_ttl == 0 {
        0
    } else {
        ttl_sum_ms / u128::from(with_ttl)
    };
    out.line(
        "db0",
        format!("keys={keys},expires={expires},avg_ttl={avg_ttl}"),
    );
}

/// Bytes as Redis writes them for people: `512B`, `1.50K`, `2.00M`, ... up to `P`.
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1024.0;
    for unit in UNITS {
        if value < 1024.0 || unit == "P" {
            return format!("{value:.2}{unit}");
        }
        value /= 1024.0;
    }
    format!("{bytes}B")
}

/// Resident memory of this process (Linux), 0 where unknown.
pub(crate) fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The machine's memory (Linux `MemTotal`), 0 where unknown.
fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// User and system CPU seconds of this process (Linux `/proc/self/stat`, in clock ticks of 1/100 s, the
/// kernel's fixed `USER_HZ`); zeros where unknown.
fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are plain.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, that is 11 and 12 after the state (field 3).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) as f64 / 100.0, ticks(12) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_like_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(human(100 << 20), "100.00M");
        assert_eq!(human(3 << 30), "3.00G");
        assert_eq!(human(u64::MAX), "16384.00P");
    }

    #[test]
    fn cpu_is_read() {
        let (user, sys) = cpu_seconds();
        assert!(user >= 0.0 && sys >= 0.0);
    }
}
