//! Access traces: loading the gzip'd LIRS files and generating the synthetic Zipf trace.
//!
//! LIRS format: one integer key per line. Blank lines and `*` lines (segment markers in some LIRS
//! files) are skipped; trailing `\r` is tolerated. Anything else is an error naming the line.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use flate2::read::GzDecoder;

/// A named sequence of keys to replay.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    /// Short name used in tables and chart file names (file name without extensions).
    pub(crate) name: String,
    /// The keys, in request order.
    pub(crate) keys: Vec<u64>,
}

impl Trace {
    /// Number of distinct keys.
    pub(crate) fn unique_keys(&self) -> usize {
        let set: std::collections::HashSet<u64> = self.keys.iter().copied().collect();
        set.len()
    }
}

/// Parses LIRS text (one key per line) from `reader`.
pub(crate) fn parse_lirs(reader: impl Read) -> Result<Vec<u64>> {
    let mut keys = Vec::new();
    for (index, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", index + 1))?;
        let text = line.trim();
        if text.is_empty() || text == "*" {
            continue;
        }
        match text.parse::<u64>() {
            Ok(key) => keys.push(key),
            Err(_) => bail!(
                "line {}: expected an integer key, found {text:?}",
                index + 1
            ),
        }
    }
    Ok(keys)
}

/// Loads one gzip'd (`.gz`) or plain LIRS trace file.
pub(crate) fn load_file(path: &Path) -> Result<Trace> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let keys = if path.extension().is_some_and(|e| e == "gz") {
        parse_lirs(GzDecoder::new(file))
    } else {
        parse_lirs(file)
    }
    .with_context(|| format!("parsing {}", path.display()))?;
    Ok(Trace {
        name: trace_name(path),
        keys,
    })
}

/// `gli.lirs.gz` -> `gli`, `2_pools.trace.gz` -> `2_pools`.
fn trace_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.split('.').next().unwrap_or(&file).to_owned()
}

/// Every trace file (`*.gz`, `*.lirs`, `*.trace`) below `dir`, recursively, sorted by name.
pub(crate) fn find_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("listing traces in {}", current.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if is_trace_file(&path) {
                found.push(path);
            }
        }
    }
    found.sort_by_key(|p| trace_name(p));
    Ok(found)
}

fn is_trace_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.ends_with(".gz") || name.ends_with(".lirs") || name.ends_with(".trace")
}

/// The synthetic trace: Zipf(`s`) over `keys` ranks, `len` requests, fixed `seed`.
pub(crate) fn zipf(keys: u64, s: f64, len: usize, seed: u64) -> Trace {
    Trace {
        name: format!("zipf-{}k", keys / 1000),
        keys: crate::zipf::key_stream(keys, s, len, seed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parses_keys_skipping_blank_and_marker_lines_and_crlf() -> Result<()> {
        let text = "0\r\n1\r\n\n*\n  42 \n18446744073709551615\n";
        assert_eq!(parse_lirs(text.as_bytes())?, vec![0, 1, 42, u64::MAX]);
        Ok(())
    }

    #[test]
    fn rejects_garbage_and_names_the_line() {
        let err = parse_lirs("1\n2\nabc\n".as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("line 3"), "{err}");
        assert!(parse_lirs("-5\n".as_bytes()).is_err());
    }

    #[test]
    fn loads_a_gzip_file_and_names_it() -> Result<()> {
        let dir =
            std::env::temp_dir().join(format!("relaycache-bench-trace-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub"))?;
        let path = dir.join("sub").join("tiny.trace.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&path)?,
            flate2::Compression::fast(),
        );
        enc.write_all(b"5\n6\n5\n")?;
        enc.finish()?;
        let files = find_files(&dir)?;
        assert_eq!(files, vec![path.clone()]);
        let trace = load_file(&path)?;
        std::fs::remove_dir_all(&dir)?;
        assert_eq!(trace.name, "tiny");
        assert_eq!(trace.keys, vec![5, 6, 5]);
        assert_eq!(trace.unique_keys(), 2);
        Ok(())
    }
}
