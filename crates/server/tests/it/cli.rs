//! The `relaycache` tool against a server: output and exit codes.

use std::process::Command;

use crate::support::start;

fn tool(port: u16, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_relaycache"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .env_remove("RELAYCACHE_PASSWORD")
        .output()
        .expect("the relaycache binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_commands_and_exit_codes() {
    let server = start("  requirepass: pw\n").await;
    let port = server.addr().port();
    let outcome = tokio::task::spawn_blocking(move || {
        let with_pw = |args: &[&str]| {
            let mut all = vec!["-a", "pw"];
            all.extend_from_slice(args);
            tool(port, &all)
        };
        assert_eq!(with_pw(&["set", "greeting", "hello", "--ttl", "5s"]).0, 0);
        assert_eq!(
            with_pw(&["get", "greeting"]),
            (0, "hello\n".to_owned(), String::new())
        );
        let (code, ttl, _) = with_pw(&["ttl", "greeting"]);
        assert_eq!(code, 0);
        assert!(ttl.trim_end().ends_with('s') || ttl.contains("ms"), "{ttl}");
        assert_eq!(with_pw(&["get", "missing"]).0, 1);
        assert_eq!(with_pw(&["ttl", "missing"]).0, 1);
        assert_eq!(with_pw(&["set", "greeting", "x", "--nx"]).0, 1);
        assert_eq!(with_pw(&["set", "user:1", "a"]).0, 0);
        assert_eq!(with_pw(&["set", "user:2", "b"]).0, 0);
        let (code, keys, _) = with_pw(&["scan", "--prefix", "user:"]);
        assert_eq!(code, 0);
        let mut keys: Vec<&str> = keys.lines().collect();
        keys.sort_unstable();
        assert_eq!(keys, vec!["user:1", "user:2"]);
        assert_eq!(with_pw(&["scan", "--prefix", "nothing:"]).0, 1);
        assert_eq!(
            with_pw(&["del", "user:1", "user:9"]),
            (0, "deleted 1\n".to_owned(), String::new())
        );
        assert_eq!(with_pw(&["del", "user:9"]).0, 1);
        let (code, pong, _) = with_pw(&["ping"]);
        assert_eq!(code, 0);
        assert!(pong.starts_with("PONG ("), "{pong}");
        let (code, stats, _) = with_pw(&["stats"]);
        assert_eq!(code, 0);
        assert!(stats.contains("keys") && stats.contains("hits"), "{stats}");
        // Errors: wrong password, no password, nobody listening.
        let (code, _, err) = tool(port, &["-a", "wrong", "get", "k"]);
        assert_eq!(code, 2);
        assert!(err.contains("WRONGPASS"), "{err}");
        let (code, _, err) = tool(port, &["get", "k"]);
        assert_eq!(code, 2);
        assert!(err.contains("NOAUTH"), "{err}");
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (code, _, err) = tool(free, &["ping"]);
        assert_eq!(code, 2);
        assert!(err.contains("cannot connect"), "{err}");
    });
    outcome.await.unwrap();
}

#[test]
fn the_example_configuration_is_valid() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/relaycache.yaml"
    );
    let text = std::fs::read_to_string(path).expect("examples/relaycache.yaml exists");
    let config = relaycache::Config::from_yaml_str_with_env(&text, &[]).expect("it validates");
    assert_eq!(config.server.port, 6380);
    assert_eq!(config.server.bind, "127.0.0.1");
}
