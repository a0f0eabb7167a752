//! GETBIT BITCOUNT BITPOS (every range rule: negative, out of order, past the end, BYTE/BIT units,
//! clear bits past the end with and without an explicit end) and LCS (plain, LEN, IDX with MINMATCHLEN
//! and WITHMATCHLEN, in RESP2 and RESP3), all byte for byte.

use super::{Compare, Pair};

/// Values with set and clear bits in every position of interest.
const VALUES: [&[u8]; 6] = [
    b"foobar",
    b"\xff\xf0\x00",
    b"\x00\x00\x01",
    b"\xff\xff\xff",
    b"\x00",
    b"`",
];

/// Indexes around the edges of the values above (and far past them).
const INDEXES: [&str; 14] = [
    "-9223372036854775808",
    "-100",
    "-9",
    "-8",
    "-2",
    "-1",
    "0",
    "1",
    "2",
    "7",
    "8",
    "17",
    "100",
    "9223372036854775807",
];

#[tokio::test]
async fn getbit_errors_and_offsets() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set k `
        getbit k 0
        getbit k 1
        getbit k 2
        getbit k 3
        getbit k 7
        getbit k 8
        getbit k 4294967295
        getbit k 4294967296
        getbit k -1
        getbit k x
        getbit k 1.5
        getbit k 99999999999999999999
        getbit missing 0
        getbit missing 4294967296
        getbit missing x
        getbit k
        getbit k 0 0
        set n 12345
        getbit n 2
        getbit n 3
        ",
    )
    .await;
    for offset in 0..24 {
        let offset = offset.to_string();
        for v in VALUES {
            p.check_args(Compare::Exact, &[b"set", b"v", v]).await;
            p.check_args(Compare::Exact, &[b"getbit", b"v", offset.as_bytes()])
                .await;
        }
    }
    p.assert_same();
}

#[tokio::test]
async fn bitcount_and_bitpos_arguments() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set k foobar
        bitcount k
        bitcount k 0
        bitcount k 0 1 2
        bitcount k 0 1 byte x
        bitcount k a b
        bitcount k 0 b
        bitcount k 0 1 bits
        bitcount k 0 1 BIT
        bitcount k 0 1 ByTe
        bitcount
        bitcount missing
        bitcount missing a b
        bitcount missing 0
        bitcount missing 0 1 nope
        bitpos k 1
        bitpos k 0
        bitpos k 2
        bitpos k -1
        bitpos k x
        bitpos k 1 x
        bitpos k 1 0 x
        bitpos k 1 0 x nope
        bitpos k 1 0 1 nope
        bitpos k 1 0 1 bit extra
        bitpos k
        bitpos missing 0
        bitpos missing 1
        bitpos missing 0 a b
        bitpos missing 2
        bitpos missing x
        ",
    )
    .await;
    p.check_args(Compare::Exact, &[b"set", b"empty", b""]).await;
    for line in [
        "bitcount empty",
        "bitcount empty 0 -1",
        "bitcount empty 0 -1 bit",
        "bitpos empty 0",
        "bitpos empty 1",
        "bitpos empty 0 0",
        "bitpos empty 0 0 -1",
        "bitpos empty 0 0 -1 bit",
    ] {
        p.check(line).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn bitcount_and_bitpos_ranges() {
    let mut p = Pair::start().await;
    for v in VALUES {
        p.check_args(Compare::Exact, &[b"set", b"v", v]).await;
        for bit in [&b"0"[..], b"1"] {
            p.check_args(Compare::Exact, &[b"bitpos", b"v", bit]).await;
        }
        for start in INDEXES {
            let start = start.as_bytes();
            for bit in [&b"0"[..], b"1"] {
                p.check_args(Compare::Exact, &[b"bitpos", b"v", bit, start])
                    .await;
            }
            for end in INDEXES {
                let end = end.as_bytes();
                for unit in [None, Some(&b"byte"[..]), Some(b"bit")] {
                    let mut count: Vec<&[u8]> = vec![b"bitcount", b"v", start, end];
                    count.extend(unit);
                    p.check_args(Compare::Exact, &count).await;
                    for bit in [&b"0"[..], b"1"] {
                        let mut pos: Vec<&[u8]> = vec![b"bitpos", b"v", bit, start, end];
                        pos.extend(unit);
                        p.check_args(Compare::Exact, &pos).await;
                    }
                }
            }
        }
    }
    p.assert_same();
}

#[tokio::test]
async fn lcs_replies_in_both_protocols() {
    let mut p = Pair::start().await;
    let script = "
        mset key1 ohmytext key2 mynewtext a abcabcabc b cbacba same samevalue same2 samevalue
        lcs key1 key2
        lcs key1 key2 len
        lcs key1 key2 LEN
        lcs key1 key2 idx
        lcs key1 key2 idx minmatchlen 4
        lcs key1 key2 idx minmatchlen 4 withmatchlen
        lcs key1 key2 idx withmatchlen
        lcs key1 key2 idx minmatchlen -5
        lcs key1 key2 idx minmatchlen 100
        lcs key1 key2 withmatchlen
        lcs key1 key2 minmatchlen 2
        lcs key1 key2 len idx
        lcs key1 key2 idx len
        lcs key1 key2 minmatchlen
        lcs key1 key2 minmatchlen x
        lcs key1 key2 bogus
        lcs a b
        lcs a b idx withmatchlen
        lcs b a idx withmatchlen
        lcs same same2 idx withmatchlen
        lcs same same idx
        lcs key1 missing
        lcs missing key1 idx
        lcs missing missing2 len
        lcs missing missing2 idx withmatchlen
        lcs key1
        lcs
        ";
    p.check_all(script).await;
    p.check_with(Compare::Shape, "hello 3").await;
    p.check_all(script).await;
    p.assert_same();
}

/// The new read commands queue and run inside MULTI/EXEC like any other; a bad argument is queued and
/// its error is its reply in EXEC's array, while a wrong arity aborts the transaction.
#[tokio::test]
async fn inside_a_transaction() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        mset k foobar k2 fobar
        multi
        getbit k 1
        bitcount k 1 1
        bitpos k 0
        lcs k k2 idx withmatchlen
        object encoding k
        memory usage missing
        dump missing
        exec
        multi
        getbit k x
        bitcount k a b
        set k v ex x
        lcs k k2 len idx
        object nope k
        exec
        multi
        getbit k
        exec
        multi
        object encoding
        exec
        ",
    )
    .await;
    p.assert_same();
}
