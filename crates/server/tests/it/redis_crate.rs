//! The `redis` crate (redis-rs) as a client: what applications will use.

use redis::AsyncCommands;

use crate::support::{start, url};

async fn connect(server: &relaycache_server::ServerHandle) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url(server.addr()))
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis-rs connects (HELLO / CLIENT SETINFO accepted)")
}

#[tokio::test]
async fn get_set_with_options_mget_mset_ttl() {
    let server = start("").await;
    let mut con = connect(&server).await;
    let () = con.set("k", "v").await.unwrap();
    let v: Option<String> = con.get("k").await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let missing: Option<String> = con.get("missing").await.unwrap();
    assert_eq!(missing, None);
    let opts = redis::SetOptions::default()
        .conditional_set(redis::ExistenceCheck::NX)
        .with_expiration(redis::SetExpiry::EX(60));
    let refused: Option<String> = con.set_options("k", "other", opts).await.unwrap();
    assert_eq!(refused, None, "NX on an existing key writes nothing");
    let opts = redis::SetOptions::default()
        .conditional_set(redis::ExistenceCheck::XX)
        .get(true)
        .with_expiration(redis::SetExpiry::PX(60_000));
    let old: Option<String> = con.set_options("k", "new", opts).await.unwrap();
    assert_eq!(old.as_deref(), Some("v"));
    let ttl: i64 = con.ttl("k").await.unwrap();
    assert!((59..=60).contains(&ttl), "{ttl}");
    let () = con.mset(&[("a", "1"), ("b", "2")]).await.unwrap();
    let values: Vec<Option<String>> = con.mget(&["a", "zz", "b"]).await.unwrap();
    assert_eq!(values, vec![Some("1".into()), None, Some("2".into())]);
    let () = con.set_ex("e", "x", 10).await.unwrap();
    let pttl: i64 = con.pttl("e").await.unwrap();
    assert!((9_000..=10_000).contains(&pttl), "{pttl}");
    let gone: i64 = con.ttl("zz").await.unwrap();
    assert_eq!(gone, -2);
    let n: i64 = con.incr("counter", 5).await.unwrap();
    assert_eq!(n, 5);
    let deleted: i64 = con.del(&["a", "b", "zz"]).await.unwrap();
    assert_eq!(deleted, 2);
}

#[tokio::test]
async fn scan_match_and_pipelines() {
    let server = start("").await;
    let mut con = connect(&server).await;
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.set(format!("p:{i}"), i).ignore();
    }
    pipe.get("p:7").get("p:499").get("nope");
    let (a, b, c): (i64, i64, Option<i64>) = pipe.query_async(&mut con).await.unwrap();
    assert_eq!((a, b, c), (7, 499, None), "replies arrive in order");
    let mut found: Vec<String> = {
        let mut iter = con.scan_match::<_, String>("p:4*").await.unwrap();
        let mut out = Vec::new();
        while let Some(k) = futures::StreamExt::next(&mut iter).await {
            out.push(k.expect("scan item"));
        }
        out
    };
    found.sort();
    found.dedup();
    let mut expected: Vec<String> = (0..500)
        .map(|i| format!("p:{i}"))
        .filter(|k| k.starts_with("p:4"))
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn auth_with_a_password_in_the_url() {
    let server = start("  requirepass: pw\n").await;
    let client = redis::Client::open(format!("redis://:pw@{}/", server.addr())).unwrap();
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("authenticates");
    let () = con.set("k", "v").await.unwrap();
    let bad = redis::Client::open(format!("redis://:nope@{}/", server.addr())).unwrap();
    let err = bad
        .get_multiplexed_async_connection()
        .await
        .expect_err("wrong password refused");
    assert_eq!(err.kind(), redis::ErrorKind::AuthenticationFailed, "{err}");
    let anonymous = redis::Client::open(url(server.addr())).unwrap();
    let mut con = anonymous
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let err = con.get::<_, Option<String>>("k").await.expect_err("NOAUTH");
    assert!(err.to_string().contains("NOAUTH"), "{err}");
}

#[tokio::test]
async fn resp3_client() {
    let server = start("").await;
    let client = redis::Client::open(format!("redis://{}/?protocol=resp3", server.addr())).unwrap();
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("HELLO 3");
    let () = con.set("k", "v").await.unwrap();
    let v: Option<String> = con.get("k").await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let none: Option<String> = con.get("missing").await.unwrap();
    assert_eq!(none, None);
}

/// The string, bit and key commands through the redis crate's typed calls, as an application makes
/// them.
#[tokio::test]
async fn string_bit_and_key_commands_through_typed_calls() {
    let server = start("").await;
    let mut con = connect(&server).await;
    let () = con.set("s", "hello").await.unwrap();
    let len: usize = con.setrange("s", 10, "world").await.unwrap();
    assert_eq!(len, 15);
    let padded: Vec<u8> = con.get("s").await.unwrap();
    assert_eq!(padded, b"hello\0\0\0\0\0world");
    let head: String = con.getrange("s", 0, 4).await.unwrap();
    assert_eq!(head, "hello");

    let was: bool = con.setbit("b", 7, true).await.unwrap();
    assert!(!was);
    let now: bool = con.getbit("b", 7).await.unwrap();
    assert!(now);
    let () = con.set("bc", "foobar").await.unwrap();
    let ones: usize = con.bitcount("bc").await.unwrap();
    assert_eq!(ones, 26);
    let ones: usize = con.bitcount_range("bc", 1, 1).await.unwrap();
    assert_eq!(ones, 6);
    let first: i64 = redis::cmd("BITPOS")
        .arg("bc")
        .arg(1)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(first, 1);
    let () = con.set("k1", "foof").await.unwrap();
    let () = con.set("k2", "barbaz").await.unwrap();
    let n: usize = con.bit_and("dst", &["k1", "k2"]).await.unwrap();
    assert_eq!(n, 6);
    let and: Vec<u8> = con.get("dst").await.unwrap();
    assert_eq!(and, b"babb\0\0");
    let n: usize = con.bit_not("dst", "k1").await.unwrap();
    assert_eq!(n, 4);
    let not: Vec<u8> = con.get("dst").await.unwrap();
    assert_eq!(not, b"foof".map(|b| !b));

    let f: f64 = con.incr("f", 10.5).await.unwrap();
    assert_eq!(f, 10.5);
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("0.1")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(f, "10.6");
    let refused: redis::RedisResult<f64> = con.incr("s", 1.5).await;
    let e = refused.unwrap_err();
    assert_eq!(e.detail(), Some("value is not a valid float"), "{e}");

    let copied: bool = con
        .copy("s", "s2", redis::CopyOptions::default())
        .await
        .unwrap();
    assert!(copied);
    let again: bool = con
        .copy("s", "s2", redis::CopyOptions::default())
        .await
        .unwrap();
    assert!(!again, "COPY without REPLACE keeps an existing target");
    let () = con.set("s", "changed").await.unwrap();
    let replaced: bool = con
        .copy("s", "s2", redis::CopyOptions::default().replace(true))
        .await
        .unwrap();
    assert!(replaced);
    let s2: String = con.get("s2").await.unwrap();
    assert_eq!(s2, "changed");
    let () = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .arg("EXAT")
        .arg(4_102_444_800_u64)
        .query_async(&mut con)
        .await
        .unwrap();
    let _: bool = con
        .copy("t", "t2", redis::CopyOptions::default())
        .await
        .unwrap();
    let at: redis::IntegerReplyOrNoOp = con.expire_time("t2").await.unwrap();
    assert_eq!(at.raw(), 4_102_444_800, "COPY keeps the deadline");
    let at: redis::IntegerReplyOrNoOp = con.pexpire_time("t2").await.unwrap();
    assert_eq!(at.raw(), 4_102_444_800_000);

    let v: Option<String> = con.get_ex("t", redis::Expiry::PERSIST).await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let ttl: i64 = con.ttl("t").await.unwrap();
    assert_eq!(ttl, -1);
    let moved: bool = con.rename_nx("s2", "s").await.unwrap();
    assert!(!moved, "RENAMENX onto an existing key");
    let moved: bool = con.rename_nx("s2", "s3").await.unwrap();
    assert!(moved);
    let set: bool = con.mset_nx(&[("m1", "a"), ("m2", "b")]).await.unwrap();
    assert!(set);
    let set: bool = con.mset_nx(&[("m1", "x"), ("m3", "y")]).await.unwrap();
    assert!(!set, "MSETNX writes nothing when one key exists");
    let len: usize = con.append("s3", "!!").await.unwrap();
    assert_eq!(len, 9);

    let () = con.set("l1", "ohmytext").await.unwrap();
    let () = con.set("l2", "mynewtext").await.unwrap();
    let common: String = redis::cmd("LCS")
        .arg("l1")
        .arg("l2")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(common, "mytext");
    let () = con.set("n", 123).await.unwrap();
    let encoding: Option<String> = con.object_encoding("n").await.unwrap();
    assert_eq!(encoding.as_deref(), Some("int"));
    let encoding: Option<String> = con.object_encoding("s3").await.unwrap();
    assert_eq!(
        encoding.as_deref(),
        Some("raw"),
        "APPEND leaves a raw string"
    );
    let usage: Option<i64> = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("s3")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(usage.is_some_and(|n| n > 2 + 9), "{usage:?}");

    let payload: Vec<u8> = redis::cmd("DUMP")
        .arg("s3")
        .query_async(&mut con)
        .await
        .unwrap();
    let () = redis::cmd("RESTORE")
        .arg("restored")
        .arg(0)
        .arg(&payload)
        .query_async(&mut con)
        .await
        .unwrap();
    let restored: String = con.get("restored").await.unwrap();
    assert_eq!(restored, "changed!!");
    let mut broken = payload.clone();
    let last = broken.len() - 1;
    broken[last] ^= 0xff;
    let refused: redis::RedisResult<()> = redis::cmd("RESTORE")
        .arg("other")
        .arg(0)
        .arg(&broken)
        .query_async(&mut con)
        .await;
    let e = refused.unwrap_err();
    assert!(
        e.to_string()
            .contains("DUMP payload version or checksum are wrong"),
        "{e}"
    );

    let keys: Vec<String> = con.keys("*").await.unwrap();
    let random: Option<String> = redis::cmd("RANDOMKEY").query_async(&mut con).await.unwrap();
    assert!(random.is_some_and(|k| keys.contains(&k)), "{keys:?}");
}
