//! redis-py (the Python client most cache users have) against relaycache-server: `tests/python/smoke.py`
//! runs get/set with expiry, mget/mset, pipelines, scan_iter, ttl, delete, exists, `info()` (sections
//! parsed into typed fields, `db0` keys), the bit commands, LCS, OBJECT, MEMORY USAGE, DUMP/RESTORE, RESP3
//! (`protocol=3`), `pipeline(transaction=True)` with `watch()` and the retry loop of
//! `Redis.transaction()` (another client writes the watched key), and a threaded connection pool.
//! `scripts/test.sh` installs redis-py (`pip install redis`); without python3 or redis-py this test fails
//! with that hint rather than pass untested.

use std::process::Command;

use crate::support::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_smoke() {
    let probe = Command::new("python3")
        .args(["-c", "import redis; print(redis.__version__)"])
        .output();
    let version = match probe {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => panic!(
            "redis-py is not installed (run scripts/test.sh, or pip install redis): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("python3 is not available ({e}); scripts/test.sh needs it for redis-py"),
    };
    let server = start("").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/smoke.py");
    let port = server.addr().port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(port)
            .output()
            .expect("python3 runs")
    })
    .await
    .expect("joins");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "redis-py {version} smoke test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("protocol 3: ok"), "{stdout}");
    assert!(stdout.contains("threads: ok"), "{stdout}");
    assert!(stdout.contains("watch protocol 3: ok"), "{stdout}");
}
