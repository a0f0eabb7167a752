//! `redis-cli` against the server, the way people will first try it.

use crate::support::{redis_cli, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_set_get_and_friends() {
    let server = start("").await;
    let addr = server.addr();
    let run = move |args: &'static [&'static str]| {
        tokio::task::spawn_blocking(move || redis_cli(addr, args))
    };
    assert_eq!(
        run(&["set", "hello", "world"]).await.unwrap(),
        ("OK".into(), true)
    );
    assert_eq!(
        run(&["get", "hello"]).await.unwrap(),
        ("world".into(), true)
    );
    assert_eq!(run(&["set", "t", "v", "EX", "100"]).await.unwrap().0, "OK");
    assert_eq!(run(&["ttl", "t"]).await.unwrap().0, "100");
    assert_eq!(run(&["mset", "a", "1", "b", "2"]).await.unwrap().0, "OK");
    assert_eq!(run(&["mget", "a", "b", "c"]).await.unwrap().0, "1\n2");
    assert_eq!(run(&["dbsize"]).await.unwrap().0, "4");
    let (keys, _) = run(&["--scan", "--pattern", "h*"]).await.unwrap();
    assert_eq!(keys, "hello");
    let (info, _) = run(&["info", "server"]).await.unwrap();
    assert!(info.contains("redis_version:"), "{info}");
    let (keyspace, _) = run(&["info", "keyspace"]).await.unwrap();
    assert!(
        keyspace.starts_with("# Keyspace") && keyspace.contains("db0:keys=4,expires=1,avg_ttl="),
        "{keyspace}"
    );
    let (err, _) = run(&["get"]).await.unwrap();
    assert_eq!(err, "ERR wrong number of arguments for 'get' command");
    let (pong, _) = run(&["-3", "ping"]).await.unwrap();
    assert_eq!(pong, "PONG");
}

/// `redis-cli --bigkeys` walks the key space with SCAN, TYPE and STRLEN: it must find the biggest string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_bigkeys() {
    let server = start("").await;
    let addr = server.addr();
    let run = move |args: &'static [&'static str]| {
        tokio::task::spawn_blocking(move || redis_cli(addr, args))
    };
    assert_eq!(
        run(&["mset", "a", "1", "bb", "22", "biggest", "0123456789"])
            .await
            .unwrap()
            .0,
        "OK"
    );
    let (out, ok) = run(&["--bigkeys"]).await.unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains("Biggest string found '\"biggest\"' has 10 bytes"),
        "{out}"
    );
    assert!(out.contains("3 strings with 13 bytes"), "{out}");
}
