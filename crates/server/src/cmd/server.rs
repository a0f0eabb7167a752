//! INFO COMMAND CONFIG TIME CLUSTER.MEMBERS CLUSTER.PARTITIONS.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use relaycache::{Cache, Error};
use relaycache_resp::cmd::{COMMANDS, CommandInfo, Config, Spec, lookup};
use relaycache_resp::{Args, Writer, is};

use super::cache_error;
use crate::dispatch::Flow;
use crate::glob;
use crate::server::{REDIS_VERSION, Shared};

/// The `INFO` sections, in order.
const SECTIONS: [&str; 6] = [
    "server",
    "clients",
    "memory",
    "stats",
    "relaycache",
    "keyspace",
];

pub(super) async fn info<C: Cache>(
    shared: &Shared<C>,
    sections: Args<'_>,
    w: &mut Writer<'_>,
) -> Flow {
    let wanted = |name: &str| {
        sections.is_empty()
            || sections
                .iter()
                .any(|s| is(s, name) || is(s, "all") || is(s, "everything") || is(s, "default"))
    };
    let stats = shared.cache.stats().await.ok();
    let m = &shared.metrics;
    let uptime = shared.started.elapsed().as_secs();
    let mut text = String::with_capacity(2048);
    for section in SECTIONS {
        if !wanted(section) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let mut title = section.to_owned();
        title[..1].make_ascii_uppercase();
        let _ = write!(text, "# {title}\r\n");
        let mut line = |k: &str, v: &dyn std::fmt::Display| {
            let _ = write!(text, "{k}:{v}\r\n");
        };
        match section {
            "server" => {
                line("redis_version", &REDIS_VERSION);
                line("relaycache_version", &env!("CARGO_PKG_VERSION"));
                line("redis_mode", &"standalone");
                line("os", &std::env::consts::OS);
                line("arch_bits", &(usize::BITS));
                line("process_id", &std::process::id());
                line("tcp_port", &shared.port);
                line("uptime_in_seconds", &uptime);
                line("uptime_in_days", &(uptime / 86_400));
                line("config_file", &shared.config_file.as_deref().unwrap_or(""));
            }
            "clients" => {
                line("connected_clients", &m.connected.load(Ordering::Relaxed));
                line("maxclients", &shared.config.max_clients);
                line("blocked_clients", &0);
            }
            "memory" => {
                let rss = resident_bytes();
                let used = stats.map_or(rss, |s| s.bytes_used.max(1));
                line("used_memory", &used);
                line("used_memory_human", &human(used));
                line("used_memory_rss", &rss);
                line("used_memory_rss_human", &human(rss));
                line("maxmemory", &stats.map_or(0, |s| s.max_cost));
                line("maxmemory_policy", &"allkeys-lfu");
            }
            "stats" => {
                line(
                    "total_connections_received",
                    &m.connections_total.load(Ordering::Relaxed),
                );
                line("total_commands_processed", &m.commands_total());
                line(
                    "rejected_connections",
                    &m.connections_rejected.load(Ordering::Relaxed),
                );
                line("expired_keys", &stats.map_or(0, |s| s.expirations));
                line("evicted_keys", &stats.map_or(0, |s| s.evictions));
                line("keyspace_hits", &stats.map_or(0, |s| s.hits));
                line("keyspace_misses", &stats.map_or(0, |s| s.misses));
            }
            "relaycache" => {
                line("mode", &shared.mode);
                line("backend", &shared.cache.name());
                line("admission_rejections", &stats.map_or(0, |s| s.rejections));
            }
            _ => {
                if let Some(s) = stats.filter(|s| s.key_count > 0) {
                    let _ = write!(text, "db0:keys={},expires=0,avg_ttl=0\r\n", s.key_count);
                }
            }
        }
    }
    w.verbatim(text.as_bytes());
    Flow::Continue
}

fn human(bytes: u64) -> String {
    let units = ["B", "K", "M", "G", "T"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2}{}", units[unit])
}

/// Resident memory of this process (Linux), 0 where unknown.
pub(crate) fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn write_spec(spec: &Spec, w: &mut Writer<'_>) {
    w.array(10);
    w.bulk(spec.name.as_bytes());
    w.integer(spec.arity);
    w.set(spec.flags.len());
    for flag in spec.flags {
        w.simple(flag.as_bytes());
    }
    w.integer(spec.first_key);
    w.integer(spec.last_key);
    w.integer(spec.step);
    for _ in 0..4 {
        w.array(0);
    }
}

pub(super) fn command(info: CommandInfo<'_>, w: &mut Writer<'_>) -> Flow {
    match info {
        CommandInfo::Count => w.integer(COMMANDS.len() as i64),
        CommandInfo::List => {
            w.array(COMMANDS.len());
            for spec in COMMANDS {
                w.bulk(spec.name.as_bytes());
            }
        }
        CommandInfo::Docs => w.map(0),
        CommandInfo::Info(names) => {
            w.array(names.len());
            for name in names.iter() {
                match lookup(name) {
                    Some(spec) => write_spec(spec, w),
                    None => w.null_array(),
                }
            }
        }
        _ => {
            w.array(COMMANDS.len());
            for spec in COMMANDS {
                write_spec(spec, w);
            }
        }
    }
    Flow::Continue
}

pub(super) fn config<C: Cache>(shared: &Shared<C>, config: Config<'_>, w: &mut Writer<'_>) -> Flow {
    match config {
        Config::Get(patterns) => {
            let params: [(&str, String); 9] = [
                ("save", String::new()),
                ("appendonly", "no".to_owned()),
                ("databases", "1".to_owned()),
                ("maxclients", shared.config.max_clients.to_string()),
                ("timeout", shared.config.idle_timeout.as_secs().to_string()),
                ("port", shared.port.to_string()),
                ("tls-port", shared.tls_port.to_string()),
                ("bind", shared.config.bind.clone()),
                (
                    "proto-max-bulk-len",
                    shared.config.limits.max_bulk_len.to_string(),
                ),
            ];
            let hits: Vec<&(&str, String)> = params
                .iter()
                .filter(|(name, _)| {
                    patterns
                        .iter()
                        .any(|p| glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
                })
                .collect();
            w.map(hits.len());
            for (name, value) in hits {
                w.bulk(name.as_bytes());
                w.bulk(value.as_bytes());
            }
        }
        Config::ResetStat => {
            shared.metrics.reset_commands();
            w.ok();
        }
        _ => w.error(
            b"ERR CONFIG SET is not supported: relaycache is configured by its configuration file",
        ),
    }
    Flow::Continue
}

pub(super) fn time(w: &mut Writer<'_>) -> Flow {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    w.array(2);
    w.bulk(now.as_secs().to_string().as_bytes());
    w.bulk(now.subsec_micros().to_string().as_bytes());
    Flow::Continue
}

/// `CLUSTER.MEMBERS`: this node's view. The reference system's three fields first (`memberlist_addr`,
/// `cluster_members`, `is_embedded`), then `state`, `epoch` and `members`, one map per live member
/// (`gossip_addr`, `rpc_addr`, `generation`, `is_self`). Maps are flat arrays in RESP2.
pub(super) async fn cluster_members<C: Cache>(cache: &C, w: &mut Writer<'_>) -> Flow {
    match cache.cluster_info().await {
        Ok(info) => {
            w.map(6);
            w.bulk(b"memberlist_addr");
            w.bulk(info.memberlist_addr.as_bytes());
            w.bulk(b"cluster_members");
            w.integer(i64::try_from(info.cluster_members).unwrap_or(i64::MAX));
            w.bulk(b"is_embedded");
            w.integer(i64::from(info.is_embedded));
            w.bulk(b"state");
            w.bulk(info.state.as_bytes());
            w.bulk(b"epoch");
            w.integer(i64::try_from(info.epoch).unwrap_or(i64::MAX));
            w.bulk(b"members");
            w.array(info.members.len());
            for m in &info.members {
                w.map(4);
                w.bulk(b"gossip_addr");
                w.bulk(m.gossip_addr.as_bytes());
                w.bulk(b"rpc_addr");
                w.bulk(m.rpc_addr.as_bytes());
                w.bulk(b"generation");
                w.integer(i64::try_from(m.generation).unwrap_or(i64::MAX));
                w.bulk(b"is_self");
                w.integer(i64::from(m.is_self));
            }
            Flow::Continue
        }
        Err(e) => cluster_error(&e, w),
    }
}

/// `CLUSTER.PARTITIONS`: the routing table as this node sees it, one `[id, [owner rpc addr...]]` entry
/// per partition, primary first.
pub(super) async fn cluster_partitions<C: Cache>(cache: &C, w: &mut Writer<'_>) -> Flow {
    match cache.cluster_info().await {
        Ok(info) => {
            w.array(info.partitions.len());
            for (id, owners) in info.partitions.iter().enumerate() {
                w.array(2);
                w.integer(i64::try_from(id).unwrap_or(i64::MAX));
                w.array(owners.len());
                for owner in owners {
                    w.bulk(owner.as_bytes());
                }
            }
            Flow::Continue
        }
        Err(e) => cluster_error(&e, w),
    }
}

fn cluster_error(e: &Error, w: &mut Writer<'_>) -> Flow {
    match e {
        Error::Unsupported { backend, .. } => {
            w.error(format!("ERR this server is not clustered (mode {backend})").as_bytes());
            Flow::Continue
        }
        other => cache_error(other, w),
    }
}
