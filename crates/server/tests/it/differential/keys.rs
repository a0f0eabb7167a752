//! DEL UNLINK EXISTS TYPE DBSIZE FLUSHDB FLUSHALL KEYS SCAN (glob patterns compared as sets).

use relaycache_resp::Frame;

use super::{Compare, Pair};

#[tokio::test]
async fn del_exists_type_dbsize_flush() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        mset a 1 b 2 c 3
        exists a a b missing
        exists missing
        exists
        del a a b missing
        del
        exists a b c
        unlink c c missing
        unlink
        set t v
        type t
        type missing
        type
        type a b
        dbsize
        dbsize x
        mset x 1 y 2
        dbsize
        flushdb
        dbsize
        set x 1
        flushdb async
        exists x
        set x 1
        flushdb sync
        flushdb x
        flushdb async sync
        flushall
        flushall async
        flushall x
        dbsize
        ",
    )
    .await;
    p.assert_same();
}

/// Keys whose names exercise every glob feature: `*`, `?`, classes, ranges, negation, escapes.
const GLOB_KEYS: &[&[u8]] = &[
    b"hello", b"hallo", b"hxllo", b"hllo", b"heeello", b"h*llo", b"h?llo", b"h[a]llo", b"a\\b",
    b"user:1", b"user:2", b"user:10", b"user:", b"x", b"", b"-", b"]", b"^a",
];

const PATTERNS: &[&[u8]] = &[
    b"*",
    b"h?llo",
    b"h*llo",
    b"h[ae]llo",
    b"h[^e]llo",
    b"h[!e]llo",
    b"h[a-b]llo",
    b"h[b-a]llo",
    b"h\\*llo",
    b"h\\?llo",
    b"h\\[a]llo",
    b"a\\\\b",
    b"",
    b"[",
    b"h[",
    b"h[a",
    b"\\",
    b"user:?",
    b"user:*",
    b"user:[0-9]",
    b"user:[0-9]*",
    b"*:*",
    b"?",
    b"[]]",
    b"[\\]]",
    b"[-]",
    b"^*",
    b"h*",
    b"*o",
    b"*l*",
    b"**",
    b"h[a-]llo",
    b"h[\\-]llo",
    b"user:\\1",
];

#[tokio::test]
async fn keys_and_scan_glob_patterns() {
    let mut p = Pair::start().await;
    for key in GLOB_KEYS {
        p.check_args(Compare::Exact, &[b"set", key, b"v"]).await;
    }
    for pattern in PATTERNS {
        p.check_args(Compare::Unordered, &[b"keys", pattern]).await;
        // One page large enough for every key: cursor 0 back, keys as a set.
        p.check_args(
            Compare::Unordered,
            &[b"scan", b"0", b"match", pattern, b"count", b"1000"],
        )
        .await;
    }
    p.check_all(
        "
        keys
        keys a b
        scan
        scan x
        scan 1.5
        scan 0 count 0
        scan 0 count -1
        scan 0 count x
        scan 0 match
        scan 0 count
        scan 0 bogus x
        scan 0 type
        scan 0 type list count 1000
        scan 0 type hash count 1000
        ",
    )
    .await;
    p.check_with(Compare::Unordered, "scan 0 type string count 1000")
        .await;
    // Cursors come from the backend: a negative one is refused (Redis reads it as a huge unsigned).
    p.ours_only("scan -1", &Frame::error("ERR invalid cursor"))
        .await;
    p.check_with(
        Compare::Unordered,
        "scan 0 TYPE STRING COUNT 1000 MATCH user:*",
    )
    .await;
    p.check_with(Compare::Unordered, "scan 0 count 1000 match u* match h*")
        .await;
    p.assert_same();
}

/// Walks a whole SCAN (cursor until 0, bounded) on one side and returns the keys seen, as a set.
async fn scan_all(peer: &mut super::Peer, extra: &[&[u8]]) -> std::collections::BTreeSet<Vec<u8>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = b"0".to_vec();
    for _ in 0..10_000 {
        let mut args: Vec<&[u8]> = vec![b"scan", &cursor];
        args.extend_from_slice(extra);
        peer.send(&super::encode(&args)).await;
        let (reply, _) = peer.reply().await.expect("scan reply");
        let Frame::Array(parts) = reply else {
            panic!("scan reply {reply:?}");
        };
        let [Frame::Bulk(next), Frame::Array(keys)] = &parts[..] else {
            panic!("scan reply {parts:?}");
        };
        for key in keys {
            if let Frame::Bulk(k) = key {
                seen.insert(k.to_vec());
            }
        }
        cursor = next.to_vec();
        if cursor == b"0" {
            return seen;
        }
    }
    panic!("scan did not finish in 10000 calls");
}

#[tokio::test]
async fn full_scans_with_small_counts_see_the_same_keys() {
    let mut p = Pair::start().await;
    let mut mset: Vec<Vec<u8>> = vec![b"mset".to_vec()];
    for i in 0..600 {
        let prefix = ["user", "session", "cache"][i % 3];
        mset.push(format!("{prefix}:{i}").into_bytes());
        mset.push(b"v".to_vec());
    }
    let args: Vec<&[u8]> = mset.iter().map(Vec::as_slice).collect();
    p.check_args(Compare::Exact, &args).await;
    p.check("dbsize").await;
    let options: &[&[&[u8]]] = &[
        &[],
        &[b"count", b"7"],
        &[b"match", b"user:*", b"count", b"5"],
        &[b"match", b"*:1?", b"count", b"50"],
        &[b"match", b"session:[0-4]*"],
        &[b"match", b"nothing*", b"count", b"3"],
        &[b"type", b"string", b"count", b"100"],
    ];
    for extra in options {
        p.cases += 1;
        let redis = scan_all(&mut p.redis, extra).await;
        let ours = scan_all(&mut p.ours, extra).await;
        if redis != ours {
            let only = |a: &std::collections::BTreeSet<Vec<u8>>,
                        b: &std::collections::BTreeSet<Vec<u8>>| {
                a.difference(b)
                    .take(5)
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .collect::<Vec<_>>()
            };
            p.mismatches.push(format!(
                "full scan {extra:?}: redis {} keys, ours {}; only in redis {:?}, only in ours {:?}",
                redis.len(),
                ours.len(),
                only(&redis, &ours),
                only(&ours, &redis)
            ));
        }
    }
    p.assert_same();
}

#[tokio::test]
async fn rename_renamenx_msetnx() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        rename missing x
        renamenx missing x
        rename missing missing
        set a 1
        rename a a
        renamenx a a
        rename a b
        exists a b
        get b
        set c 3
        renamenx b c
        rename b c
        get c
        exists b
        set t v ex 100
        rename t t2
        rename
        rename a
        rename a b c
        renamenx a
        msetnx n1 1 n2 2
        mget n1 n2
        msetnx n2 x n3 3
        exists n3
        msetnx n3 3 n3 4
        get n3
        msetnx n4
        msetnx
        msetnx a 1 b
        ",
    )
    .await;
    p.check_with(super::ttl_compare("ttl"), "ttl t2").await;
    p.check("exists t").await;
    p.assert_same();
}

/// Long keys against long and deeply nested patterns (`*a*a*a...`), which a backtracking matcher takes
/// exponential time on: the same answers as Redis, and the whole test finishes in the runner's time
/// (the matcher is linear in pattern x key).
#[tokio::test]
async fn long_and_nested_glob_patterns() {
    let mut p = Pair::start().await;
    let long_a = vec![b'a'; 200];
    let mut long_a_b = long_a.clone();
    long_a_b.push(b'b');
    let mut mixed = Vec::new();
    for i in 0..300u32 {
        mixed.push(if i % 7 == 0 { b'b' } else { b'a' });
    }
    let keys: Vec<Vec<u8>> = vec![
        long_a.clone(),
        long_a_b.clone(),
        mixed.clone(),
        b"ab".to_vec(),
    ];
    for key in &keys {
        p.check_args(Compare::Exact, &[b"set", key, b"v"]).await;
    }
    let mut patterns: Vec<Vec<u8>> = Vec::new();
    for stars in [2usize, 10, 40, 120] {
        // `*a*a...*a*b`: matches the keys ending in b that hold enough a's.
        let mut pat = b"*a".repeat(stars);
        pat.extend_from_slice(b"*b");
        patterns.push(pat);
        // The same without the final `b`: every key with enough a's.
        patterns.push(b"*a".repeat(stars));
        // `a*` nested with `?`: `a?*a?*...`.
        patterns.push(b"a?*".repeat(stars));
    }
    patterns.push([b"*".repeat(500), b"b".to_vec()].concat());
    patterns.push([b"a".repeat(199), b"?b".to_vec()].concat());
    patterns.push([b"[ab]".repeat(150), b"*".to_vec()].concat());
    patterns.push(b"*[b]*[b]*[b]*[b]*[b]*[b]*[b]*[b]*".to_vec());
    for pattern in &patterns {
        p.check_args(Compare::Unordered, &[b"keys", pattern]).await;
        p.check_args(
            Compare::Unordered,
            &[b"scan", b"0", b"match", pattern, b"count", b"1000"],
        )
        .await;
    }
    p.assert_same();
}
