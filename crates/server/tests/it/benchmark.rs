//! `redis-benchmark` as a load gate: it exits 1 on the first error reply.

use std::process::Command;

use crate::support::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_benchmark_set_get_mset_pipelined() {
    let server = start("").await;
    let port = server.addr().port().to_string();
    let status = tokio::task::spawn_blocking(move || {
        Command::new("redis-benchmark")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-t",
                "set,get,mset",
                "-n",
                "200000",
                "-P",
                "16",
                "-q",
            ])
            .output()
            .expect("redis-benchmark is installed (apt-get install redis-tools)")
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "redis-benchmark failed: {out} {}",
        String::from_utf8_lossy(&status.stderr)
    );
    for test in ["SET", "GET", "MSET"] {
        assert!(out.contains(test), "no {test} result in {out}");
    }
}
