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
