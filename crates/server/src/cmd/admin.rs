//! MOVE SWAPDB WAIT WAITAOF LASTSAVE SAVE BGSAVE ROLE READONLY READWRITE SLOWLOG LATENCY: the replies of
//! a Redis server with one database, no persistence, no replicas and cluster support disabled (and, for
//! `SAVE`/`BGSAVE`, relaycache's own error: it keeps no data on disk).

use relaycache::KeyOps;
use relaycache_resp::Writer;
use relaycache_resp::cmd::{Latency, Slowlog};

use crate::dispatch::Flow;
use crate::server::Shared;

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

/// `LATENCY DOCTOR`'s report: relaycache records no latency events.
const LATENCY_DOCTOR: &str = "relaycache does not monitor latency events: LATENCY LATEST and HISTORY \
     are always empty. Command durations are in the relaycache_command_duration_seconds histogram of the \
     admin endpoint's /metrics.";

/// The error of `SAVE` and `BGSAVE`.
pub(crate) const NO_DISK: &[u8] =
    b"ERR relaycache keeps no data on disk: SAVE and BGSAVE are not supported";

/// Writes a `HELP` reply: one status line each.
fn help(lines: &[&str], w: &mut Writer<'_>) -> Flow {
    w.array(lines.len());
    for line in lines {
        w.simple(line.as_bytes());
    }
    Flow::Continue
}

/// `MOVE key db`: db 0 is the source itself, any other is out of range (Redis checks the index before
/// the key, so a missing key gets the same errors).
pub(super) fn move_key(db: i32, w: &mut Writer<'_>) -> Flow {
    if db == 0 {
        w.error(b"ERR source and destination objects are the same");
    } else {
        w.error(b"ERR DB index is out of range");
    }
    Flow::Continue
}

/// `SWAPDB a b`: `SWAPDB 0 0` swaps nothing, any other index is out of range.
pub(super) fn swapdb(first: i32, second: i32, w: &mut Writer<'_>) -> Flow {
    if first == 0 && second == 0 {
        w.ok();
    } else {
        w.error(b"ERR DB index is out of range");
    }
    Flow::Continue
}

/// `WAITAOF`: `numlocal` 1 needs an append-only file; else no local fsync and no replica acknowledged.
pub(super) fn waitaof(local: bool, w: &mut Writer<'_>) -> Flow {
    if local {
        w.error(b"ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.");
    } else {
        w.array(2);
        w.integer(0);
        w.integer(0);
    }
    Flow::Continue
}

/// `LASTSAVE`: the server's start (nothing is saved, so the data set is "as saved" then), the same
/// second as `INFO`'s `rdb_last_save_time`.
pub(super) fn lastsave<C: KeyOps>(shared: &Shared<C>, w: &mut Writer<'_>) -> Flow {
    w.integer(i64::try_from(shared.started_unix).unwrap_or(i64::MAX));
    Flow::Continue
}

/// `ROLE`: a master at replication offset 0 without replicas.
pub(super) fn role(w: &mut Writer<'_>) -> Flow {
    w.array(3);
    w.bulk(b"master");
    w.integer(0);
    w.array(0);
    Flow::Continue
}

/// `SLOWLOG`: the log stays empty (relaycache records no slow commands).
pub(super) fn slowlog(sub: Slowlog, w: &mut Writer<'_>) -> Flow {
    match sub {
        Slowlog::Len => w.integer(0),
        Slowlog::Reset => w.ok(),
        Slowlog::Help => return help(SLOWLOG_HELP, w),
        _ => w.array(0),
    }
    Flow::Continue
}

/// `LATENCY`: no event is ever recorded, and no per-command histogram is kept.
pub(super) fn latency(sub: Latency<'_>, w: &mut Writer<'_>) -> Flow {
    match sub {
        Latency::Reset => w.integer(0),
        Latency::Doctor => w.verbatim(LATENCY_DOCTOR.as_bytes()),
        Latency::Graph(event) => {
            let text = format!(
                "ERR No samples available for event '{}'",
                String::from_utf8_lossy(event)
            );
            w.error(text.as_bytes());
        }
        Latency::Histogram => w.map(0),
        Latency::Help => return help(LATENCY_HELP, w),
        _ => w.array(0),
    }
    Flow::Continue
}
