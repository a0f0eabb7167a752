//! The `facade` command as a user runs it: the real binary, one child process per cache.

use std::process::Command;

/// Runs `relaycache-bench facade` on a tiny configuration; every row has all three caches and a ratio.
#[test]
fn every_cache_is_measured_through_its_own_child_process() {
    let output = Command::new(env!("CARGO_BIN_EXE_relaycache-bench"))
        .args([
            "facade",
            "--keys",
            "2000",
            "--values",
            "8",
            "--workloads",
            "read,write,ttl",
            "--threads",
            "1,2",
            "--runs",
            "2",
            "--run-ms",
            "5",
            "--ttl-ms",
            "50",
        ])
        .output()
        .expect("the bench binary runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "failed:\n{stderr}");
    for cache in ["SingleCache", "quick_cache", "moka"] {
        let prefills = stderr
            .lines()
            .filter(|l| l.contains(&format!("prefilled and warmed {cache}:")))
            .count();
        assert_eq!(
            prefills, 2,
            "one plain and one TTL child for {cache}:\n{stderr}"
        );
    }
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("| 2k "))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    for workload in ["read", "write", "mixed + TTL"] {
        for threads in ["1", "2"] {
            let rates = rows
                .iter()
                .filter(|cells| cells.get(3) == Some(&workload) && cells.get(4) == Some(&threads))
                .filter(|cells| cells.get(8).is_some_and(|ratio| ratio.ends_with('x')))
                .count();
            assert_eq!(
                rates, 2,
                "{workload} x{threads}: wall and CPU rows with a ratio\n{stdout}"
            );
        }
    }
}
