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

/// The string, bit and key commands as `redis-cli` prints them, from relaycache-server and from a real
/// `redis-server` given the same commands in the same order: every output must be identical. A few
/// outputs are also pinned, so that two servers that both print nothing could not pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_bit_and_key_commands_print_what_redis_server_prints() {
    const SCRIPT: &[&str] = &[
        "SET s hello",
        "SETRANGE s 10 world",
        "GET s",
        "GETRANGE s 0 4",
        "SETRANGE fresh 3 abc",
        "STRLEN fresh",
        "SETRANGE fresh 0 ''",
        "SETRANGE s -1 x",
        "SETRANGE s 536870912 x",
        "SETBIT b 7 1",
        "SETBIT b 7 0",
        "SETBIT b 100 1",
        "GETBIT b 100",
        "GETBIT b 99999",
        "SETBIT b 1 2",
        "BITCOUNT b",
        "SET bc foobar",
        "BITCOUNT bc 1 1",
        "BITCOUNT bc 5 30 BIT",
        "BITCOUNT bc 0",
        "BITPOS bc 1",
        "BITPOS bc 0 2 -1 BYTE",
        "BITPOS bc 1 7 15 BIT",
        "SET k1 foof",
        "SET k2 barbaz",
        "BITOP AND dst k1 k2",
        "GET dst",
        "BITOP OR dst k1 k2 missing",
        "GET dst",
        "BITOP XOR dst k1 k2",
        "GET dst",
        "BITOP NOT dst k1",
        "GET dst",
        "BITOP NOT dst k1 k2",
        "BITOP NAND dst k1",
        "BITOP AND dst missing",
        "EXISTS dst",
        "INCRBYFLOAT f 10.5",
        "INCRBYFLOAT f 0.1",
        "INCRBYFLOAT f -5.6",
        "SET f2 5.0e3",
        "INCRBYFLOAT f2 2.0e2",
        "INCRBYFLOAT f abc",
        "INCRBYFLOAT s 1",
        "SET huge 1.7e308",
        "INCRBYFLOAT huge 1.7e308",
        "INCRBYFLOAT z -0.0",
        "INCRBYFLOAT z 3",
        "COPY s s2",
        "COPY s s2",
        "SET s changed",
        "COPY s s2 REPLACE",
        "GET s2",
        "SET t v EXAT 4102444800",
        "COPY t t2",
        "EXPIRETIME t2",
        "PEXPIRETIME t2",
        "COPY missing x",
        "COPY s s",
        "SET l1 ohmytext",
        "SET l2 mynewtext",
        "LCS l1 l2",
        "LCS l1 l2 LEN",
        "LCS l1 l2 IDX MINMATCHLEN 4 WITHMATCHLEN",
        "GETEX t PERSIST",
        "TTL t",
        "GETEX s EX 100",
        "TTL s",
        "GETEX s EX 0",
        "RENAMENX s2 s",
        "RENAMENX s2 s3",
        "RENAMENX nothing s4",
        "MSETNX m1 a m2 b",
        "MSETNX m1 x m3 y",
        "MGET m1 m2 m3",
        "APPEND s3 !!",
        "GET s3",
        "SET n 123",
        "OBJECT ENCODING n",
        "OBJECT ENCODING s3",
        "APPEND n 4",
        "OBJECT ENCODING n",
        "OBJECT REFCOUNT s3",
        "OBJECT ENCODING missing",
        "SET e 1",
        "SETRANGE e 0 2",
        "OBJECT ENCODING e",
        "SET e 7",
        "OBJECT ENCODING e",
        "SETBIT e 6 1",
        "OBJECT ENCODING e",
        "OBJECT ENCODING z",
        "COPY n ncopy",
        "OBJECT ENCODING ncopy",
        "RENAME ncopy nr",
        "OBJECT ENCODING nr",
        "EXPIRE nr 100",
        "OBJECT ENCODING nr",
        "SET nr 12",
        "OBJECT ENCODING nr",
        "BITOP OR bo k1",
        "OBJECT ENCODING bo",
        "APPEND newkey 5",
        "OBJECT ENCODING newkey",
        "DBSIZE",
    ];
    let ours = start("").await;
    let redis = crate::differential::RedisServer::start();
    let (ours_addr, redis_addr) = (ours.addr(), redis.addr);
    let outputs = tokio::task::spawn_blocking(move || {
        SCRIPT
            .iter()
            .map(|line| {
                let words: Vec<&str> = line
                    .split(' ')
                    .map(|w| if w == "''" { "" } else { w })
                    .collect();
                (
                    *line,
                    redis_cli(ours_addr, &words).0,
                    redis_cli(redis_addr, &words).0,
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mismatches: Vec<String> = outputs
        .iter()
        .filter(|(_, ours, theirs)| ours != theirs)
        .map(|(line, ours, theirs)| {
            format!("{line}\n  relaycache: {ours:?}\n  redis:      {theirs:?}")
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let printed = |command: &str| {
        outputs
            .iter()
            .find(|(line, _, _)| *line == command)
            .map(|(_, ours, _)| ours.clone())
            .unwrap()
    };
    assert_eq!(printed("SETRANGE s 10 world"), "15");
    assert_eq!(printed("GETBIT b 100"), "1");
    assert_eq!(printed("INCRBYFLOAT f 0.1"), "10.6");
    assert_eq!(printed("EXPIRETIME t2"), "4102444800");
    assert_eq!(printed("LCS l1 l2"), "mytext");
    assert_eq!(printed("MGET m1 m2 m3"), "a\nb");
    assert_eq!(printed("OBJECT ENCODING ncopy"), "raw");
}
