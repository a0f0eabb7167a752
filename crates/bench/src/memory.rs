//! The `memory` command: resident bytes per entry beyond key + value, one cache per process.
//!
//! The parent re-executes this binary once per subject (`memory --child <subject>`). The child reads its
//! resident set size from `/proc/self/statm`, builds the cache (sized to hold every entry), inserts
//! `--entries` entries whose 16-byte `String` key and 64-byte `Bytes` value are each their own heap
//! allocation (as a real user's would be), lets buffered caches settle, reads RSS again and reports.
//! Per entry = (after - before) / resident entries; "beyond key + value" subtracts the 80-byte payload,
//! so allocator headers, tables, policy metadata and sketches all count as overhead.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bytes::Bytes;

use crate::adapter::{self, Adapter, Job, Peer, Spec};
use crate::table::Table;
use crate::{UNAVAILABLE, cli_name};

/// Key length in bytes.
const KEY_LEN: usize = 16;
/// Value length in bytes.
const VALUE_LEN: usize = 64;

/// What one child process measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Subject {
    /// relaycache-engine's generic `Cache<String, Bytes>`.
    Relaycache,
    /// relaycache-engine's `ByteCache` (key and value packed in one allocation; what the facade uses),
    /// weighing key + value + `ENTRY_OVERHEAD` bytes.
    RelaycacheBytes,
    /// quick_cache `sync::Cache`.
    QuickCache,
    /// moka `sync::Cache`.
    Moka,
    /// stretto sync `Cache`.
    Stretto,
    /// `Mutex<lru::LruCache>`.
    Lru,
    /// A bare `std::collections::HashMap<String, Bytes>` (no eviction, no policy).
    Hashmap,
    /// A bare pre-sized `Vec<(String, Bytes)>`: the floor (the allocations alone).
    Vec,
}

impl Subject {
    const ALL: [Subject; 8] = [
        Subject::Relaycache,
        Subject::RelaycacheBytes,
        Subject::QuickCache,
        Subject::Moka,
        Subject::Stretto,
        Subject::Lru,
        Subject::Hashmap,
        Subject::Vec,
    ];

    fn label(self) -> &'static str {
        match self {
            Subject::Relaycache => Peer::Relaycache.label(),
            Subject::RelaycacheBytes => "relaycache ByteCache",
            Subject::QuickCache => Peer::QuickCache.label(),
            Subject::Moka => Peer::Moka.label(),
            Subject::Stretto => Peer::Stretto.label(),
            Subject::Lru => Peer::Lru.label(),
            Subject::Hashmap => "HashMap<String, Bytes>",
            Subject::Vec => "Vec<(String, Bytes)>",
        }
    }

    fn peer(self) -> Option<Peer> {
        match self {
            Subject::Relaycache => Some(Peer::Relaycache),
            Subject::QuickCache => Some(Peer::QuickCache),
            Subject::Moka => Some(Peer::Moka),
            Subject::Stretto => Some(Peer::Stretto),
            Subject::Lru => Some(Peer::Lru),
            Subject::RelaycacheBytes | Subject::Hashmap | Subject::Vec => None,
        }
    }

    /// The figure DESIGN.md section 8 reports for this subject, bytes beyond key + value.
    fn design_figure(self) -> Option<u32> {
        match self {
            Subject::QuickCache => Some(115),
            Subject::Moka => Some(401),
            Subject::Stretto => Some(310),
            Subject::Lru => Some(148),
            Subject::Hashmap => Some(152),
            Subject::Relaycache | Subject::RelaycacheBytes | Subject::Vec => None,
        }
    }
}

/// Arguments of `memory`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Entries to insert.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Subjects to measure, each in its own process.
    #[arg(long, value_delimiter = ',', default_values_t = Subject::ALL.to_vec(), value_enum)]
    subjects: Vec<Subject>,
    /// `num_counters` per entry for relaycache and stretto (default 10, the documented guidance).
    #[arg(long)]
    counters_per_entry: Option<u64>,
    /// Fast smoke run: 100k entries.
    #[arg(long)]
    quick: bool,
    /// Internal: measure this one subject in this process and print a `RESULT` line.
    #[arg(long, hide = true)]
    child: Option<Subject>,
}

/// What a child reports.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Measurement {
    /// Entries actually resident after filling (caches may reject or evict a few).
    resident: u64,
    /// RSS before building the structure, bytes.
    before: u64,
    /// RSS after filling, bytes.
    after: u64,
}

impl Measurement {
    fn per_entry(&self) -> f64 {
        self.after.saturating_sub(self.before) as f64 / self.resident.max(1) as f64
    }

    fn to_line(self) -> String {
        format!(
            "RESULT resident={} before={} after={}",
            self.resident, self.before, self.after
        )
    }

    fn parse(text: &str) -> Result<Self> {
        let line = text
            .lines()
            .find(|l| l.starts_with("RESULT "))
            .context("child printed no RESULT line")?;
        let field = |name: &str| -> Result<u64> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .with_context(|| format!("RESULT line lacks {name}: {line}"))?
                .parse()
                .with_context(|| format!("bad {name} in {line}"))
        };
        Ok(Self {
            resident: field("resident")?,
            before: field("before")?,
            after: field("after")?,
        })
    }
}

/// Resident set size of this process in bytes, from `/proc/self/statm` (second field, in pages of
/// 4 KiB, the page size of the x86_64 and aarch64 Linux machines this runs on).
fn rss_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("reading /proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .context("/proc/self/statm has no resident field")?
        .parse()
        .context("parsing /proc/self/statm")?;
    Ok(pages * 4096)
}

/// The i-th key: exactly 16 bytes in an allocation of exactly 16 bytes.
fn key(i: u64) -> String {
    let mut key = String::with_capacity(KEY_LEN);
    let _ = write!(key, "{i:016x}");
    key
}

/// A fresh 64-byte value in its own allocation.
fn value(i: u64) -> Bytes {
    let mut bytes = vec![0u8; VALUE_LEN];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    Bytes::from(bytes)
}

/// Fills a cache and measures it.
struct Fill {
    entries: u64,
    before: u64,
}

impl Job<String, Bytes> for Fill {
    type Output = Result<Measurement>;

    fn run<C: Adapter<String, Bytes>>(self, cache: C) -> Result<Measurement> {
        for i in 0..self.entries {
            cache.insert(key(i), value(i));
            if i % 4096 == 4095 {
                cache.settle();
            }
        }
        cache.settle();
        let after = rss_bytes()?;
        let resident = (0..self.entries)
            .filter(|&i| cache.get(&key(i)).is_some())
            .count() as u64;
        let result = Measurement {
            resident,
            before: self.before,
            after,
        };
        // Keep the cache alive until after the measurement.
        drop(cache);
        Ok(result)
    }
}

/// Runs in the child process: measures one subject; `None` if it is not available in this build.
fn measure(
    subject: Subject,
    entries: u64,
    counters_per_entry: Option<u64>,
) -> Result<Option<Measurement>> {
    let before = rss_bytes()?;
    if let Some(peer) = subject.peer() {
        let spec = Spec {
            counters_per_entry,
            ..Spec::new(entries, None)
        };
        return adapter::run(peer, &spec, Fill { entries, before }).transpose();
    }
    match subject {
        Subject::RelaycacheBytes => {
            let weight = (KEY_LEN + VALUE_LEN) as u64 + relaycache_engine::ENTRY_OVERHEAD;
            let counters = entries
                .saturating_mul(counters_per_entry.unwrap_or(10))
                .max(100);
            let cache = relaycache_engine::ByteCache::new(entries * weight, counters)?;
            for i in 0..entries {
                cache.insert(key(i).as_bytes(), &value(i));
            }
            let after = rss_bytes()?;
            Ok(Some(Measurement {
                resident: cache.len() as u64,
                before,
                after,
            }))
        }
        Subject::Hashmap => {
            let mut map = std::collections::HashMap::new();
            for i in 0..entries {
                map.insert(key(i), value(i));
            }
            let after = rss_bytes()?;
            Ok(Some(Measurement {
                resident: map.len() as u64,
                before,
                after,
            }))
        }
        _ => {
            let mut all = Vec::with_capacity(usize::try_from(entries)?);
            for i in 0..entries {
                all.push((key(i), value(i)));
            }
            let after = rss_bytes()?;
            Ok(Some(Measurement {
                resident: all.len() as u64,
                before,
                after,
            }))
        }
    }
}

/// Runs the command (parent or child).
pub(crate) fn main(args: Args) -> Result<()> {
    let entries = if args.quick { 100_000 } else { args.entries };
    if let Some(subject) = args.child {
        match measure(subject, entries, args.counters_per_entry)? {
            Some(m) => println!("{}", m.to_line()),
            None => println!("{UNAVAILABLE}"),
        }
        return Ok(());
    }
    let exe = std::env::current_exe().context("locating this binary to re-execute it")?;
    let payload = (KEY_LEN + VALUE_LEN) as f64;
    let mut rows: Vec<(Subject, Option<Measurement>)> = Vec::new();
    for &subject in &args.subjects {
        let t0 = Instant::now();
        let mut command = Command::new(&exe);
        command.arg("memory");
        if let Some(n) = args.counters_per_entry {
            command.args(["--counters-per-entry", &n.to_string()]);
        }
        let output = command
            .args(["--entries", &entries.to_string(), "--child"])
            .arg(cli_name(&subject))
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let measured = if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            bail!(
                "measuring {} failed: {}",
                subject.label(),
                stderr.lines().next().unwrap_or("no message")
            );
        } else if stdout.contains(UNAVAILABLE) {
            eprintln!("  {}: n/a (not available in this build)", subject.label());
            None
        } else {
            Some(Measurement::parse(&stdout)?)
        };
        if let Some(m) = measured {
            eprintln!(
                "  {}: {:.1} B/entry beyond key+value ({} resident, {:.1}s)",
                subject.label(),
                m.per_entry() - payload,
                m.resident,
                t0.elapsed().as_secs_f64()
            );
        }
        rows.push((subject, measured));
    }
    let quick = rows
        .iter()
        .find(|(s, _)| *s == Subject::QuickCache)
        .and_then(|(_, m)| *m);
    let mut table = Table::new([
        "structure",
        "entries resident",
        "RSS growth (MiB)",
        "bytes/entry",
        "beyond key+value (B)",
        "vs quick_cache",
        "DESIGN.md (B)",
    ]);
    for (subject, m) in &rows {
        let design = subject
            .design_figure()
            .map_or("-".to_owned(), |f| format!("≈{f}"));
        match m {
            Some(m) => {
                let beyond = m.per_entry() - payload;
                let ratio = quick.map_or("n/a".to_owned(), |q| {
                    format!("{:.2}x", beyond / (q.per_entry() - payload))
                });
                table.row([
                    subject.label().to_owned(),
                    m.resident.to_string(),
                    format!("{:.1}", m.after.saturating_sub(m.before) as f64 / 1048576.0),
                    format!("{:.1}", m.per_entry()),
                    format!("{beyond:.1}"),
                    ratio,
                    design,
                ]);
            }
            None => table.row([subject.label(), "n/a", "n/a", "n/a", "n/a", "n/a", &design]),
        }
    }
    println!(
        "\n### Memory at {entries} entries ({KEY_LEN}-byte String keys, {VALUE_LEN}-byte Bytes values, one process each)\n"
    );
    print!("{}", table.render());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_round_trips_through_its_cli_name() {
        for subject in Subject::ALL {
            let name = cli_name(&subject);
            assert_eq!(
                clap::ValueEnum::from_str(&name, false),
                Ok(subject),
                "{name}"
            );
        }
    }

    #[test]
    fn keys_and_values_have_the_stated_sizes() {
        assert_eq!(key(255), "00000000000000ff");
        assert_eq!(key(7).capacity(), KEY_LEN);
        assert_eq!(value(3).len(), VALUE_LEN);
    }

    #[test]
    fn result_lines_round_trip_and_garbage_is_rejected() -> Result<()> {
        let m = Measurement {
            resident: 10,
            before: 4096,
            after: 8192,
        };
        assert_eq!(Measurement::parse(&format!("noise\n{}\n", m.to_line()))?, m);
        assert!((m.per_entry() - 409.6).abs() < 1e-9);
        assert!(Measurement::parse("nothing here").is_err());
        assert!(Measurement::parse("RESULT resident=x before=1 after=2").is_err());
        Ok(())
    }

    #[test]
    fn rss_is_readable_and_grows_with_a_touched_allocation() -> Result<()> {
        let before = rss_bytes()?;
        let block = vec![1u8; 64 << 20];
        let after = rss_bytes()?;
        assert!(block.iter().step_by(4096).all(|&b| b == 1));
        assert!(
            after >= before + (32 << 20),
            "before {before}, after {after}"
        );
        Ok(())
    }
}
