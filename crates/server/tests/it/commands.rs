//! Reply shapes and error texts, byte for byte where clients parse them.

use relaycache_resp::Frame;

use crate::support::{call, client, start, start_memory, text};

fn int(frame: &Frame) -> i64 {
    match frame {
        Frame::Integer(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

#[tokio::test]
async fn error_texts_match_redis() {
    let server = start_memory("").await;
    let mut c = client(&server).await;
    let cases: &[(&[&str], &str)] = &[
        (&["GET"], "ERR wrong number of arguments for 'get' command"),
        (
            &["foo", "a", "b"],
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' ",
        ),
        (
            &["SET", "k", "v", "EX", "0"],
            "ERR invalid expire time in 'set' command",
        ),
        (
            &["SET", "k", "v", "EX", "-1"],
            "ERR invalid expire time in 'set' command",
        ),
        (
            &["SET", "k", "v", "PX", "9223372036854775807"],
            "ERR invalid expire time in 'set' command",
        ),
        (
            &["SET", "k", "v", "EX", "abc"],
            "ERR value is not an integer or out of range",
        ),
        (&["SET", "k", "v", "NX", "XX"], "ERR syntax error"),
        (&["SELECT", "1"], "ERR DB index is out of range"),
        (&["HELLO", "4"], "NOPROTO unsupported protocol version"),
        (&["SCAN", "abc"], "ERR invalid cursor"),
        (
            &["AUTH", "x"],
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ),
    ];
    for (words, expected) in cases {
        let reply = call(&mut c, words).await;
        assert_eq!(reply, Frame::error(*expected), "{words:?}");
    }
    // Names and options are case-insensitive.
    assert_eq!(
        call(&mut c, &["sEt", "k", "v", "ex", "100", "nx"]).await,
        Frame::ok()
    );
    assert_eq!(call(&mut c, &["GeT", "k"]).await, Frame::bulk("v"));
}

#[tokio::test]
async fn set_options() {
    let server = start_memory("").await;
    let mut c = client(&server).await;
    assert_eq!(call(&mut c, &["SET", "k", "v1", "XX"]).await, Frame::Null);
    assert_eq!(call(&mut c, &["SET", "k", "v1", "NX"]).await, Frame::ok());
    assert_eq!(call(&mut c, &["SET", "k", "v2", "NX"]).await, Frame::Null);
    assert_eq!(
        call(&mut c, &["SET", "k", "v2", "XX", "GET"]).await,
        Frame::bulk("v1")
    );
    assert_eq!(call(&mut c, &["SET", "new", "x", "GET"]).await, Frame::Null);
    assert_eq!(
        call(&mut c, &["SET", "k", "v3", "EX", "100"]).await,
        Frame::ok()
    );
    assert_eq!(
        call(&mut c, &["SET", "k", "v4", "KEEPTTL"]).await,
        Frame::ok()
    );
    let ttl = int(&call(&mut c, &["TTL", "k"]).await);
    assert!((99..=100).contains(&ttl), "KEEPTTL kept the TTL: {ttl}");
    assert_eq!(call(&mut c, &["SET", "k", "v5"]).await, Frame::ok());
    assert_eq!(
        int(&call(&mut c, &["TTL", "k"]).await),
        -1,
        "plain SET clears the TTL"
    );
    // A huge PX that still fits is far in the future, not expired.
    assert_eq!(
        call(&mut c, &["SET", "far", "v", "PX", "9000000000000000"]).await,
        Frame::ok()
    );
    assert_eq!(call(&mut c, &["GET", "far"]).await, Frame::bulk("v"));
    // An absolute time in the past leaves the key absent.
    assert_eq!(
        call(&mut c, &["SET", "past", "v", "PXAT", "1"]).await,
        Frame::ok()
    );
    assert_eq!(call(&mut c, &["EXISTS", "past"]).await, Frame::Integer(0));
    assert_eq!(call(&mut c, &["SETNX", "k", "x"]).await, Frame::Integer(0));
    assert_eq!(
        call(&mut c, &["SETNX", "fresh", "x"]).await,
        Frame::Integer(1)
    );
    assert_eq!(call(&mut c, &["SETEX", "sx", "50", "v"]).await, Frame::ok());
    assert_eq!(int(&call(&mut c, &["TTL", "sx"]).await), 50);
    assert_eq!(call(&mut c, &["GETDEL", "sx"]).await, Frame::bulk("v"));
    assert_eq!(call(&mut c, &["GETDEL", "sx"]).await, Frame::Null);
}

#[tokio::test]
async fn ttl_expire_persist() {
    let server = start_memory("").await;
    let mut c = client(&server).await;
    assert_eq!(call(&mut c, &["TTL", "missing"]).await, Frame::Integer(-2));
    assert_eq!(call(&mut c, &["PTTL", "missing"]).await, Frame::Integer(-2));
    call(&mut c, &["SET", "k", "v"]).await;
    assert_eq!(call(&mut c, &["TTL", "k"]).await, Frame::Integer(-1));
    assert_eq!(
        call(&mut c, &["EXPIRE", "k", "100"]).await,
        Frame::Integer(1)
    );
    let pttl = int(&call(&mut c, &["PTTL", "k"]).await);
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(
        call(&mut c, &["EXPIRE", "k", "50", "GT"]).await,
        Frame::Integer(0)
    );
    assert_eq!(
        call(&mut c, &["EXPIRE", "k", "50", "LT"]).await,
        Frame::Integer(1)
    );
    assert_eq!(
        call(&mut c, &["EXPIRE", "k", "500", "NX"]).await,
        Frame::Integer(0)
    );
    assert_eq!(call(&mut c, &["PERSIST", "k"]).await, Frame::Integer(1));
    assert_eq!(call(&mut c, &["PERSIST", "k"]).await, Frame::Integer(0));
    assert_eq!(call(&mut c, &["TTL", "k"]).await, Frame::Integer(-1));
    assert_eq!(
        call(&mut c, &["PEXPIRE", "k", "0"]).await,
        Frame::Integer(1)
    );
    assert_eq!(call(&mut c, &["EXISTS", "k"]).await, Frame::Integer(0));
    assert_eq!(
        call(&mut c, &["EXPIRE", "missing", "10"]).await,
        Frame::Integer(0)
    );
    assert_eq!(
        call(&mut c, &["EXPIRE", "k", "9223372036854775807"]).await,
        Frame::error("ERR invalid expire time in 'expire' command")
    );
}

#[tokio::test]
async fn multi_key_counters_and_keyspace() {
    let server = start_memory("").await;
    let mut c = client(&server).await;
    assert_eq!(
        call(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]).await,
        Frame::ok()
    );
    assert_eq!(
        call(&mut c, &["MGET", "a", "nope", "c"]).await,
        Frame::Array(vec![Frame::bulk("1"), Frame::Null, Frame::bulk("3")])
    );
    assert_eq!(
        call(&mut c, &["EXISTS", "a", "a", "nope"]).await,
        Frame::Integer(2)
    );
    assert_eq!(
        call(&mut c, &["DEL", "a", "nope", "b"]).await,
        Frame::Integer(2)
    );
    assert_eq!(call(&mut c, &["INCR", "n"]).await, Frame::Integer(1));
    assert_eq!(
        call(&mut c, &["INCRBY", "n", "41"]).await,
        Frame::Integer(42)
    );
    assert_eq!(
        call(&mut c, &["DECRBY", "n", "2"]).await,
        Frame::Integer(40)
    );
    assert_eq!(call(&mut c, &["DECR", "n"]).await, Frame::Integer(39));
    assert_eq!(
        call(&mut c, &["INCR", "c"]).await,
        Frame::Integer(4),
        "a numeric string value counts"
    );
    call(&mut c, &["SET", "s", "abc"]).await;
    assert_eq!(
        call(&mut c, &["INCR", "s"]).await,
        Frame::error("ERR value is not an integer or out of range")
    );
    call(&mut c, &["SET", "max", "9223372036854775807"]).await;
    assert_eq!(
        call(&mut c, &["INCR", "max"]).await,
        Frame::error("ERR increment or decrement would overflow")
    );
    assert_eq!(call(&mut c, &["TYPE", "n"]).await, Frame::simple("string"));
    assert_eq!(call(&mut c, &["TYPE", "zz"]).await, Frame::simple("none"));
    let size = int(&call(&mut c, &["DBSIZE"]).await);
    assert_eq!(size, 4, "c, n, s, max");
    assert_eq!(call(&mut c, &["FLUSHDB"]).await, Frame::ok());
    assert_eq!(call(&mut c, &["DBSIZE"]).await, Frame::Integer(0));
}

#[tokio::test]
async fn scan_and_keys_with_patterns() {
    let server = start_memory("").await;
    let mut c = client(&server).await;
    for i in 0..250 {
        call(&mut c, &["SET", &format!("user:{i}"), "x"]).await;
        call(&mut c, &["SET", &format!("item:{i}"), "x"]).await;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = "0".to_owned();
    for _ in 0..1000 {
        let reply = call(
            &mut c,
            &["SCAN", &cursor, "MATCH", "user:1*", "COUNT", "37"],
        )
        .await;
        let Frame::Array(parts) = reply else {
            panic!("scan reply")
        };
        let [Frame::Bulk(next), Frame::Array(keys)] = &parts[..] else {
            panic!("scan shape")
        };
        for k in keys {
            seen.insert(text(k));
        }
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "the scan completes");
    let expected: std::collections::BTreeSet<String> = (0..250)
        .map(|i| format!("user:{i}"))
        .filter(|k| k.starts_with("user:1"))
        .collect();
    assert_eq!(seen, expected);
    let Frame::Array(keys) = call(&mut c, &["KEYS", "item:2?"]).await else {
        panic!("keys")
    };
    let mut keys: Vec<String> = keys.iter().map(text).collect();
    keys.sort();
    assert_eq!(
        keys,
        (20..30).map(|i| format!("item:{i}")).collect::<Vec<_>>()
    );
    let Frame::Array(parts) = call(&mut c, &["SCAN", "0", "TYPE", "hash", "COUNT", "1000"]).await
    else {
        panic!("scan")
    };
    assert_eq!(parts[1], Frame::Array(vec![]), "no hashes here");
}

#[tokio::test]
async fn connection_and_server_commands() {
    let server = start("").await;
    let mut c = client(&server).await;
    assert_eq!(call(&mut c, &["PING"]).await, Frame::simple("PONG"));
    assert_eq!(call(&mut c, &["PING", "hi"]).await, Frame::bulk("hi"));
    assert_eq!(call(&mut c, &["ECHO", "x y"]).await, Frame::bulk("x y"));
    assert_eq!(call(&mut c, &["SELECT", "0"]).await, Frame::ok());
    assert_eq!(
        call(&mut c, &["CLIENT", "SETNAME", "tester"]).await,
        Frame::ok()
    );
    assert_eq!(
        call(&mut c, &["CLIENT", "GETNAME"]).await,
        Frame::bulk("tester")
    );
    assert_eq!(
        call(&mut c, &["CLIENT", "SETINFO", "LIB-NAME", "redis-rs"]).await,
        Frame::ok()
    );
    assert!(matches!(call(&mut c, &["CLIENT", "ID"]).await, Frame::Integer(id) if id > 0));
    assert!(text(&call(&mut c, &["CLIENT", "INFO"]).await).contains("name=tester"));
    let info = text(&call(&mut c, &["INFO"]).await);
    for field in [
        "redis_version:",
        "connected_clients:1",
        "used_memory:",
        "# Keyspace",
    ] {
        assert!(info.contains(field), "INFO lacks {field}: {info}");
    }
    call(&mut c, &["SET", "k", "v"]).await;
    let keyspace = text(&call(&mut c, &["INFO", "keyspace"]).await);
    assert!(keyspace.contains("db0:keys=1,"), "{keyspace}");
    assert!(!keyspace.contains("# Server"));
    assert_eq!(
        call(&mut c, &["CONFIG", "GET", "save"]).await,
        Frame::Array(vec![Frame::bulk("save"), Frame::bulk("")])
    );
    assert_eq!(
        call(&mut c, &["CONFIG", "GET", "appendonly"]).await,
        Frame::Array(vec![Frame::bulk("appendonly"), Frame::bulk("no")])
    );
    let Frame::Integer(count) = call(&mut c, &["COMMAND", "COUNT"]).await else {
        panic!("count")
    };
    let Frame::Array(all) = call(&mut c, &["COMMAND"]).await else {
        panic!("command")
    };
    assert_eq!(all.len() as i64, count);
    let Frame::Array(get) = call(&mut c, &["COMMAND", "INFO", "get"]).await else {
        panic!("info")
    };
    let Frame::Array(spec) = &get[0] else {
        panic!("spec")
    };
    assert_eq!(spec[0], Frame::bulk("get"));
    assert_eq!(spec[1], Frame::Integer(2));
    assert!(matches!(call(&mut c, &["TIME"]).await, Frame::Array(t) if t.len() == 2));
    assert!(
        call(&mut c, &["CLUSTER.MEMBERS"])
            .await
            .as_error()
            .is_some(),
        "single mode is not clustered"
    );
    assert_eq!(call(&mut c, &["QUIT"]).await, Frame::ok());
    c.wait_closed().await.expect("QUIT closes");
}

#[tokio::test]
async fn resp3_after_hello_3() {
    let server = start("").await;
    let mut c = client(&server).await;
    let Frame::Map(hello) = call(&mut c, &["HELLO", "3"]).await else {
        panic!("HELLO 3 replies a map")
    };
    let proto = hello
        .chunks(2)
        .find(|kv| kv[0] == Frame::bulk("proto"))
        .map(|kv| kv[1].clone());
    assert_eq!(proto, Some(Frame::Integer(3)));
    assert_eq!(call(&mut c, &["GET", "missing"]).await, Frame::Null);
    assert!(matches!(
        call(&mut c, &["CONFIG", "GET", "save"]).await,
        Frame::Map(_)
    ));
    assert!(matches!(
        call(&mut c, &["INFO"]).await,
        Frame::Verbatim { .. }
    ));
    let Frame::Array(hello2) = call(&mut c, &["HELLO", "2"]).await else {
        panic!("HELLO 2 replies an array")
    };
    assert_eq!(hello2.len(), 14);
}

#[tokio::test]
async fn inline_commands_work() {
    let server = start("").await;
    let mut c = client(&server).await;
    c.send_raw(b"SET greeting \"hello world\"\r\nGET greeting\r\nPING\n")
        .await
        .unwrap();
    assert_eq!(c.read_reply().await.unwrap(), Frame::ok());
    assert_eq!(c.read_reply().await.unwrap(), Frame::bulk("hello world"));
    assert_eq!(c.read_reply().await.unwrap(), Frame::simple("PONG"));
}

#[tokio::test]
async fn authentication() {
    let server = start_memory("  requirepass: s3cret\n").await;
    let mut c = client(&server).await;
    assert_eq!(
        call(&mut c, &["GET", "k"]).await,
        Frame::error("NOAUTH Authentication required.")
    );
    assert_eq!(
        call(&mut c, &["AUTH", "wrong"]).await,
        Frame::error("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(
        call(&mut c, &["AUTH", "admin", "s3cret"]).await,
        Frame::error("WRONGPASS invalid username-password pair or user is disabled."),
        "only the default user exists"
    );
    assert_eq!(call(&mut c, &["AUTH", "s3cret"]).await, Frame::ok());
    assert_eq!(call(&mut c, &["GET", "k"]).await, Frame::Null);
    let mut d = client(&server).await;
    assert!(matches!(
        call(&mut d, &["HELLO", "3", "AUTH", "default", "s3cret"]).await,
        Frame::Map(_)
    ));
    assert_eq!(call(&mut d, &["SET", "k", "v"]).await, Frame::ok());
    // Before AUTH, a command with many arguments is refused at the protocol level.
    let mut e = client(&server).await;
    let words: Vec<String> = std::iter::once("DEL".to_owned())
        .chain((0..100).map(|i| i.to_string()))
        .collect();
    let reply = e.call(&words).await.expect("a reply before closing");
    assert_eq!(
        reply,
        Frame::error("ERR Protocol error: unauthenticated multibulk length")
    );
    e.wait_closed()
        .await
        .expect("closed after a protocol error");
}
