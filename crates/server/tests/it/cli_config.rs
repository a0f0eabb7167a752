//! `relaycache config validate|init` and `relaycache version`, run as real processes.

use std::path::Path;
use std::process::{Command, Output};

fn relaycache(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relaycache"))
        .args(args)
        .env_remove("RELAYCACHE_CONFIG")
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn validate_rejects_write_quorum_above_replica_count() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.yaml",
        "cache:\n  mode: ha\n  olric:\n    embedded: true\n    bind_addr: \"0.0.0.0:3320\"\n    replica_count: 2\n    write_quorum: 3\n",
    );
    let out = relaycache(&["config", "validate", &file]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("write_quorum") && err.contains("replica_count"),
        "{err}"
    );
    assert_eq!(
        err.trim().lines().count(),
        1,
        "one-line message expected: {err}"
    );
}

#[test]
fn validate_accepts_the_three_node_seed_configs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    for node in 1..=3 {
        let file = format!("{root}/cluster/config-node{node}.yaml");
        let out = relaycache(&["config", "validate", &file]);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
    }
}

#[test]
fn validate_names_unknown_keys_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "typo.yaml",
        "cache:\n  ristretto:\n    max_cots: 1\n",
    );
    let out = relaycache(&["config", "validate", &file]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cache.ristretto.max_cots"));
    let out = relaycache(&["config", "validate", "/nonexistent/relaycache.yaml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/relaycache.yaml"));
}

#[test]
fn init_prints_a_config_that_validates_to_the_defaults() {
    let out = relaycache(&["config", "init"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for key in [
        "num_counters",
        "max_cost",
        "buffer_items",
        "replica_count",
        "member_count_quorum",
        "leave_timeout",
        "requirepass",
    ] {
        assert!(text.contains(key), "sample lacks {key}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "sample.yaml", &text);
    let out = relaycache(&["config", "validate", "--print", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["cache"]["ristretto"]["max_cost"], 104_857_600);
    assert_eq!(printed["cache"]["mode"], "single");
}

#[test]
fn version_and_help() {
    let out = relaycache(&["version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = relaycache(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("config") && help.contains("version"),
        "{help}"
    );
    let out = relaycache(&["no-such-command"]);
    assert!(!out.status.success());
}

#[test]
fn server_refuses_zero_worker_threads() {
    let out = Command::new(env!("CARGO_BIN_EXE_relaycache-server"))
        .args(["--threads", "0", "--port", "0", "--no-admin"])
        .env_remove("RELAYCACHE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--threads"), "{err}");
}
