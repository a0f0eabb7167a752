//! INFO's shape against redis-server: which sections each selection gives (`INFO`, `default`, `all`,
//! `everything`, several names, any case, unknown names), the line structure (`# Title`, `field:value`,
//! `\r\n`, one blank line between sections), and for every field relaycache claims to report, that both
//! servers have it and its value has Redis's format. Values themselves differ (uptime, memory ...), except
//! the key counts of `db0`.

use std::collections::BTreeSet;

use relaycache_resp::Frame;

use super::{Compare, Pair};

/// Sections Redis has that relaycache leaves out (it keeps no per-command statistics).
const REDIS_ONLY: [&str; 2] = ["Commandstats", "Latencystats"];
/// relaycache's own section.
const OURS_ONLY: [&str; 1] = ["Relaycache"];

/// How a field's value is written.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// A decimal integer (maybe negative).
    Int,
    /// Digits with exactly two decimals.
    Fixed2,
    /// Digits with exactly six decimals.
    Fixed6,
    /// `512B`, `1.50K`, `2.00M` ...
    Human,
    /// `12.34%`.
    Percent,
    /// 40 lower-case hex digits.
    Hex40,
    /// A non-empty word.
    Word,
    /// Anything, even empty.
    Any,
}

/// Every field relaycache reports that Redis also has, with its format.
const CLAIMED: &[(&str, &str, Format)] = &[
    ("Server", "redis_version", Format::Word),
    ("Server", "redis_git_sha1", Format::Word),
    ("Server", "redis_git_dirty", Format::Int),
    ("Server", "redis_mode", Format::Word),
    ("Server", "os", Format::Word),
    ("Server", "arch_bits", Format::Int),
    ("Server", "multiplexing_api", Format::Word),
    ("Server", "process_id", Format::Int),
    ("Server", "process_supervised", Format::Word),
    ("Server", "run_id", Format::Hex40),
    ("Server", "tcp_port", Format::Int),
    ("Server", "server_time_usec", Format::Int),
    ("Server", "uptime_in_seconds", Format::Int),
    ("Server", "uptime_in_days", Format::Int),
    ("Server", "executable", Format::Any),
    ("Server", "config_file", Format::Any),
    ("Server", "io_threads_active", Format::Int),
    ("Clients", "connected_clients", Format::Int),
    ("Clients", "cluster_connections", Format::Int),
    ("Clients", "maxclients", Format::Int),
    ("Clients", "blocked_clients", Format::Int),
    ("Clients", "tracking_clients", Format::Int),
    ("Clients", "clients_in_timeout_table", Format::Int),
    ("Memory", "used_memory", Format::Int),
    ("Memory", "used_memory_human", Format::Human),
    ("Memory", "used_memory_rss", Format::Int),
    ("Memory", "used_memory_rss_human", Format::Human),
    ("Memory", "used_memory_peak", Format::Int),
    ("Memory", "used_memory_peak_human", Format::Human),
    ("Memory", "used_memory_peak_perc", Format::Percent),
    ("Memory", "total_system_memory", Format::Int),
    ("Memory", "total_system_memory_human", Format::Human),
    ("Memory", "maxmemory", Format::Int),
    ("Memory", "maxmemory_human", Format::Human),
    ("Memory", "maxmemory_policy", Format::Word),
    ("Memory", "mem_fragmentation_ratio", Format::Fixed2),
    ("Memory", "mem_fragmentation_bytes", Format::Int),
    ("Memory", "mem_allocator", Format::Word),
    ("Persistence", "loading", Format::Int),
    ("Persistence", "async_loading", Format::Int),
    ("Persistence", "rdb_changes_since_last_save", Format::Int),
    ("Persistence", "rdb_bgsave_in_progress", Format::Int),
    ("Persistence", "rdb_last_save_time", Format::Int),
    ("Persistence", "rdb_last_bgsave_status", Format::Word),
    ("Persistence", "rdb_saves", Format::Int),
    ("Persistence", "aof_enabled", Format::Int),
    ("Persistence", "aof_rewrite_in_progress", Format::Int),
    ("Persistence", "aof_rewrite_scheduled", Format::Int),
    ("Persistence", "aof_last_bgrewrite_status", Format::Word),
    ("Persistence", "aof_last_write_status", Format::Word),
    ("Stats", "total_connections_received", Format::Int),
    ("Stats", "total_commands_processed", Format::Int),
    ("Stats", "instantaneous_ops_per_sec", Format::Int),
    ("Stats", "rejected_connections", Format::Int),
    ("Stats", "expired_keys", Format::Int),
    ("Stats", "evicted_keys", Format::Int),
    ("Stats", "keyspace_hits", Format::Int),
    ("Stats", "keyspace_misses", Format::Int),
    ("Stats", "total_error_replies", Format::Int),
    ("Replication", "role", Format::Word),
    ("Replication", "connected_slaves", Format::Int),
    ("Replication", "master_failover_state", Format::Word),
    ("Replication", "master_replid", Format::Hex40),
    ("Replication", "master_replid2", Format::Hex40),
    ("Replication", "master_repl_offset", Format::Int),
    ("Replication", "second_repl_offset", Format::Int),
    ("Replication", "repl_backlog_active", Format::Int),
    ("Replication", "repl_backlog_size", Format::Int),
    ("Replication", "repl_backlog_first_byte_offset", Format::Int),
    ("Replication", "repl_backlog_histlen", Format::Int),
    ("CPU", "used_cpu_sys", Format::Fixed6),
    ("CPU", "used_cpu_user", Format::Fixed6),
    ("CPU", "used_cpu_sys_children", Format::Fixed6),
    ("CPU", "used_cpu_user_children", Format::Fixed6),
    ("Cluster", "cluster_enabled", Format::Int),
];

/// Fields whose values must be equal too.
const SAME_VALUE: [&str; 13] = [
    "redis_mode",
    "arch_bits",
    "multiplexing_api",
    "maxmemory_policy",
    "role",
    "connected_slaves",
    "master_repl_offset",
    "loading",
    "aof_enabled",
    "blocked_clients",
    "cluster_enabled",
    "used_cpu_sys_children",
    "master_failover_state",
];

/// An INFO reply: sections in order, each with its fields.
type Info = Vec<(String, Vec<(String, String)>)>;

/// Parses an INFO text, or says why its structure is not Redis's.
fn parse(text: &[u8]) -> Result<Info, String> {
    let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let body = text.strip_suffix("\r\n").ok_or("no final CRLF")?;
    let mut info: Info = Vec::new();
    let mut blank = false;
    for line in body.split("\r\n") {
        if line.contains('\n') || line.contains('\r') {
            return Err(format!("bare CR or LF in {line:?}"));
        }
        if line.is_empty() {
            if blank || info.is_empty() {
                return Err("blank line not between sections".into());
            }
            blank = true;
        } else if let Some(title) = line.strip_prefix("# ") {
            if !info.is_empty() && !blank {
                return Err(format!("no blank line before # {title}"));
            }
            blank = false;
            info.push((title.to_owned(), Vec::new()));
        } else {
            let (field, value) = line
                .split_once(':')
                .ok_or(format!("not field:value: {line}"))?;
            if blank {
                return Err(format!("blank line inside a section before {field}"));
            }
            let section = info.last_mut().ok_or("field before any section")?;
            section.1.push((field.to_owned(), value.to_owned()));
        }
    }
    Ok(info)
}

fn has_format(value: &str, format: Format) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let fixed = |s: &str, n: usize| {
        s.split_once('.')
            .is_some_and(|(a, b)| digits(a) && digits(b) && b.len() == n)
    };
    match format {
        Format::Int => digits(value.strip_prefix('-').unwrap_or(value)),
        Format::Fixed2 => fixed(value, 2),
        Format::Fixed6 => fixed(value, 6),
        Format::Human => {
            value.strip_suffix('B').is_some_and(digits)
                || ["K", "M", "G", "T", "P"]
                    .iter()
                    .any(|u| value.strip_suffix(u).is_some_and(|v| fixed(v, 2)))
        }
        Format::Percent => value.strip_suffix('%').is_some_and(|v| fixed(v, 2)),
        Format::Hex40 => value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit()),
        Format::Word => !value.is_empty(),
        Format::Any => true,
    }
}

fn text(frame: Option<Frame>) -> Vec<u8> {
    match frame {
        Some(Frame::Bulk(b)) => b.to_vec(),
        Some(Frame::Verbatim { text, .. }) => text.to_vec(),
        other => format!("{other:?}").into_bytes(),
    }
}

fn titles(info: &Info, leave_out: &[&str]) -> BTreeSet<String> {
    info.iter()
        .map(|(t, _)| t.clone())
        .filter(|t| !leave_out.contains(&t.as_str()))
        .collect()
}

/// Sends `INFO args`, compares sections and claimed fields; returns both parsed replies.
async fn compare(p: &mut Pair, args: &str) -> Option<(Info, Info)> {
    let mut command: Vec<&[u8]> = vec![b"info"];
    command.extend(args.split_whitespace().map(str::as_bytes));
    let (redis, ours) = p.both(&command).await;
    let (redis, ours) = match (parse(&text(redis)), parse(&text(ours))) {
        (Ok(r), Ok(o)) => (r, o),
        (r, o) => {
            p.note(format!(
                "INFO {args}: not INFO text: redis {r:?}, ours {o:?}"
            ));
            return None;
        }
    };
    if titles(&redis, &REDIS_ONLY) != titles(&ours, &OURS_ONLY) {
        p.note(format!(
            "INFO {args}: sections differ: redis {:?}, ours {:?}",
            titles(&redis, &[]),
            titles(&ours, &[])
        ));
    }
    for (section, field, format) in CLAIMED {
        let find = |info: &Info| {
            info.iter().find(|(t, _)| t == section).map(|(_, fields)| {
                fields
                    .iter()
                    .find(|(f, _)| f == field)
                    .map(|(_, v)| v.clone())
            })
        };
        match (find(&redis), find(&ours)) {
            (None, None) => {}
            (Some(Some(r)), Some(Some(o))) => {
                if !has_format(&r, *format) || !has_format(&o, *format) {
                    p.note(format!(
                        "INFO {args}: {field} not {format:?}: redis {r:?}, ours {o:?}"
                    ));
                }
                if SAME_VALUE.contains(field) && r != o {
                    p.note(format!("INFO {args}: {field}: redis {r:?}, ours {o:?}"));
                }
            }
            (r, o) => p.note(format!(
                "INFO {args}: {section}/{field}: redis {r:?}, ours {o:?}"
            )),
        }
    }
    Some((redis, ours))
}

#[tokio::test]
async fn sections_fields_and_formats() {
    // The memory policy relaycache reports.
    let mut p =
        Pair::start_with(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lfu"]).await;
    for args in [
        "",
        "default",
        "all",
        "everything",
        "ALL",
        "server clients",
        "clients server",
        "CPU",
        "Memory stats",
        "keyspace foo",
        "replication",
        "persistence",
        "modules",
        "module_list",
        "errorstats",
        "cluster",
        "server default",
        "all server",
    ] {
        compare(&mut p, args).await;
    }
    // Empty replies, byte for byte, in both protocols.
    for line in ["info foo", "info keyspace", "info foo bar"] {
        p.check(line).await;
    }
    p.check_with(Compare::Shape, "hello 3").await;
    for line in ["info foo", "info keyspace"] {
        p.check(line).await;
    }
    p.check_with(Compare::Shape, "info").await;
    p.check_with(Compare::Shape, "info server").await;
    p.assert_same();
}

#[tokio::test]
async fn keyspace_counts() {
    let mut p = Pair::start().await;
    p.check_all("set a 1\nset b 2 ex 1000\nset c 3 px 5000000")
        .await;
    if let Some((redis, ours)) = compare(&mut p, "keyspace").await {
        let db0 = |info: &Info| {
            info.first()
                .and_then(|(_, f)| f.iter().find(|(k, _)| k == "db0"))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let (r, o) = (db0(&redis), db0(&ours));
        let counts = |v: &str| {
            v.rsplit_once(",avg_ttl=")
                .map(|(c, t)| (c.to_owned(), t.parse::<u64>().is_ok()))
        };
        if counts(&r) != Some(("keys=3,expires=2".to_owned(), true)) || counts(&o) != counts(&r) {
            p.note(format!("db0: redis {r:?}, ours {o:?}"));
        }
    }
    p.assert_same();
}
