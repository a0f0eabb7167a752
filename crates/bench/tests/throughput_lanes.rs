//! The `throughput` command as a user runs it: the real binary, one child process per cache.

use std::process::Command;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_relaycache-bench"))
}

#[test]
fn every_cache_is_measured_in_a_child_process_of_its_own() {
    let output = bench()
        .args([
            "throughput",
            "--keys",
            "2000",
            "--values",
            "8",
            "--workloads",
            "read,write,ttl",
            "--threads",
            "1,2",
            "--caches",
            "relaycache,quick-cache",
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
    // Each child prefills its own cache and says so; the parent builds none (no stream of its own).
    for cache in ["relaycache", "quick_cache"] {
        let prefills = stderr
            .lines()
            .filter(|l| l.contains(&format!("prefilled and warmed {cache}:")))
            .count();
        assert_eq!(
            prefills, 2,
            "one plain and one TTL child for {cache}:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("generated"),
        "the parent generated streams:\n{stderr}"
    );
    // Every row of the throughput tables has both caches' figures and the ratio.
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| 2k ")).collect();
    for workload in ["read", "write", "mixed + TTL"] {
        for threads in ["1", "2"] {
            let matching = rows
                .iter()
                .filter(|r| {
                    let cells: Vec<&str> = r.split('|').map(str::trim).collect();
                    cells.get(3) == Some(&workload) && cells.get(4) == Some(&threads)
                })
                .filter(|r| r.trim_end().ends_with("x |"))
                .count();
            assert_eq!(
                matching, 2,
                "{workload} x{threads}: wall and CPU rows with a ratio\n{stdout}"
            );
        }
    }
}

#[test]
fn a_lane_rejects_a_malformed_request() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = bench()
        .args([
            "throughput",
            "--lane",
            "relaycache",
            "--keys",
            "1000",
            "--values",
            "8",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bench binary runs");
    let mut stdin = child.stdin.take().expect("stdin piped");
    writeln!(stdin, "run write 1 1000000 0").expect("request written");
    writeln!(stdin, "run sideways 1 1000000 1").expect("request written");
    drop(stdin);
    let output = child.wait_with_output().expect("the lane exits");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"READY"));
    assert!(
        lines.get(1).is_some_and(|l| l.starts_with("sample ")),
        "a well-formed request is answered: {stdout}"
    );
    assert_eq!(
        lines.len(),
        2,
        "nothing answers the malformed one: {stdout}"
    );
    assert!(!output.status.success(), "a malformed request is an error");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("sideways"),
        "the error names what was wrong"
    );
}
