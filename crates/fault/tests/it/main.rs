//! The gate's fault scenarios: each test runs `relaycache-fault <scenario>` (which re-executes itself
//! under `unshare --net`, so every scenario has its own network namespace) and asserts that every check
//! of its report passed. The runner finds `relaycache-server` next to itself in `target/<profile>/`
//! (`cargo nextest run --workspace` builds it) and fails with a clear message when it is missing.
//! Not here: the chaos scenario (`scripts/chaos.sh` runs it).

use std::process::Command;
use std::time::Instant;

/// Runs one scenario and fails the test, with the whole report, unless every check passed.
fn scenario(name: &str) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_relaycache-fault"))
        .arg(name)
        .output()
        .expect("the fault runner starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The report; the runner's stderr repeats it line by line as it goes, so only its end is shown.
    println!("{stdout}");
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    eprintln!("scenario {name} took {:?}", started.elapsed());
    match out.status.code() {
        Some(0) => {}
        Some(1) => {
            panic!("scenario {name}: a check failed (FAIL lines in the report above)\n{tail}")
        }
        _ => panic!(
            "scenario {name}: the harness could not run it ({})\n--- end of its stderr ---\n{tail}",
            out.status
        ),
    }
}

#[test]
fn fault_kill_one_of_three_under_write_load() {
    scenario("kill");
}

#[test]
fn fault_pause_one_of_three_for_twice_the_suspicion_time() {
    scenario("pause");
}

#[test]
fn fault_minority_partition_refuses_and_converges() {
    scenario("minority");
}

#[test]
fn fault_split_two_two_with_majority_quorum_refuses_on_both_sides() {
    scenario("split-refuse");
}

#[test]
fn fault_split_two_two_without_quorum_ends_last_writer_wins() {
    scenario("split-lww");
}

#[test]
fn fault_bridge_partition() {
    scenario("bridge");
}

#[test]
fn fault_gossip_port_only_partition() {
    scenario("gossip");
}

#[test]
fn fault_ten_percent_packet_loss() {
    scenario("loss10");
}

#[test]
fn fault_thirty_percent_packet_loss() {
    scenario("loss30");
}

#[test]
fn fault_black_hole_on_open_rpc_connections() {
    scenario("blackhole");
}

#[test]
fn fault_rolling_restart_under_load() {
    scenario("rolling");
}
