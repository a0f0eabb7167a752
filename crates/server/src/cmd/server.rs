//! COMMAND CONFIG TIME CLUSTER.MEMBERS CLUSTER.PARTITIONS.

use std::time::{SystemTime, UNIX_EPOCH};

use relaycache::{Error, KeyOps};
use relaycache_resp::Writer;
use relaycache_resp::cmd::{COMMANDS, CommandInfo, Config, Spec, lookup};

use super::cache_error;
use crate::dispatch::Flow;
use crate::glob;
use crate::server::Shared;

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

/// `CONFIG GET|RESETSTAT` (`SET` is refused). `maxmemory` is the cache's byte bound, as `INFO memory`
/// reports it (0 when the backend has none or cannot say).
pub(super) async fn config<C: KeyOps>(
    shared: &Shared<C>,
    config: Config<'_>,
    w: &mut Writer<'_>,
) -> Flow {
    match config {
        Config::Get(patterns) => {
            let wants = |name: &str| {
                patterns
                    .iter()
                    .any(|p| glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
            };
            let maxmemory = if wants("maxmemory") {
                shared.cache.stats().await.map_or(0, |s| s.max_cost)
            } else {
                0
            };
            let params: [(&str, String); 11] = [
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
                ("maxmemory", maxmemory.to_string()),
                ("maxmemory-policy", "allkeys-lfu".to_owned()),
            ];
            // A name without glob characters is answered under the spelling it was asked with, as
            // Redis does; a pattern lists each matching parameter once, under its own name.
            let mut hits: Vec<(&[u8], &str)> = Vec::new();
            for pattern in patterns.iter() {
                let exact = !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
                for (name, value) in &params {
                    let hit = if exact {
                        pattern.eq_ignore_ascii_case(name.as_bytes())
                    } else {
                        glob::matches(&pattern.to_ascii_lowercase(), name.as_bytes())
                    };
                    let seen = hits
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()));
                    if hit && !seen {
                        hits.push((if exact { pattern } else { name.as_bytes() }, value));
                    }
                }
            }
            w.map(hits.len());
            for (name, value) in hits {
                w.bulk(name);
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
pub(super) async fn cluster_members<C: KeyOps>(cache: &C, w: &mut Writer<'_>) -> Flow {
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
pub(super) async fn cluster_partitions<C: KeyOps>(cache: &C, w: &mut Writer<'_>) -> Flow {
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
