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
