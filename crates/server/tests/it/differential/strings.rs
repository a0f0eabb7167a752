//! GET SET (every option), SETNX SETEX PSETEX GETDEL GETSET GETEX MGET MSET INCR* APPEND STRLEN.

use super::{Compare, Pair, ttl_compare};

#[tokio::test]
async fn set_options_and_conflicts() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set k v
        get k
        set k v2 nx
        set k v2 xx
        get k
        set fresh v xx
        set fresh v nx
        set k v nx xx
        set k v xx nx
        set k v nx nx
        set k v ex 10 px 100
        set k v ex 10 ex 20
        set k v ex 10 keepttl
        set k v keepttl ex 10
        set k v keepttl px 10
        set k v keepttl keepttl
        set k v exat 1 pxat 1
        set k v get get
        set k v bogus
        set k v ex
        set k v px
        SET k v EX 100 NX GET
        set k v3 get
        set k v4 get xx
        set k v5 get nx
        set absent v get
        set absent2 v get xx
        get absent2
        set k
        set
        get
        get a b
        sEt MiXeD VaLuE Ex 100 xX
        GeT MiXeD
        ",
    )
    .await;
    p.assert_same();
}

#[tokio::test]
async fn set_expiry_edge_cases() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set k v ex 0
        set k v px 0
        set k v ex -1
        set k v px -1
        set k v exat 0
        set k v pxat 0
        set k v exat -1
        set k v ex abc
        set k v ex 1.5
        set k v ex 10abc
        set k v ex +10
        set k v ex 9223372036854775807
        set k v px 9223372036854775807
        set k v ex 9223372036854775
        set k v ex 9223372036854774
        set k v px 9223372036854775000
        set k v exat 9223372036854775807
        set k v pxat 9223372036854775807
        set k v exat 9223372036854775
        set k v ex 99999999999999999999
        setex k 0 v
        setex k -1 v
        setex k abc v
        setex k 9223372036854775807 v
        psetex k 0 v
        psetex k 9223372036854775807 v
        setex k 10
        psetex k 10
        set past v exat 1
        exists past
        set past v pxat 1000
        exists past
        set k v exat 1 get
        exists k
        ",
    )
    .await;
    for line in [
        "set t v ex 100",
        "ttl t",
        "set t v px 100000",
        "ttl t",
        "set t v exat 4102444800",
        "ttl t",
        "set t v pxat 4102444800000",
        "ttl t",
        "set t v2 keepttl",
        "ttl t",
        "set t v3",
        "ttl t",
        "setex t 100 v",
        "ttl t",
        "psetex t 100000 v",
        "ttl t",
        "pttl t",
        // Accepted by both; relaycache caps a TTL at about 584 years (Duration in nanoseconds).
        "set big v ex 9223372036854774",
        "exists big",
    ] {
        p.check_with(ttl_compare(line), line).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn getdel_getset_getex_mget_mset() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set k v
        getdel k
        getdel k
        getdel
        getdel a b
        getset k v1
        getset k v2
        get k
        getset k
        mset a 1 b 2 c 3
        mget a b missing c a
        mget missing
        mget
        mset a 1 b
        mset a
        mset
        mset a 1 a 2
        get a
        getex a
        getex missing
        getex a persist
        getex a ex 0
        getex a ex -1
        getex a px abc
        getex a ex 10 px 10
        getex a ex 10 persist
        getex a bogus
        getex a keepttl
        getex
        ",
    )
    .await;
    for line in [
        "getex a ex 100",
        "ttl a",
        "getex a persist",
        "ttl a",
        "getex a pxat 4102444800000",
        "ttl a",
        "getex a exat 1",
        "exists a",
    ] {
        p.check_with(ttl_compare(line), line).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn counters_append_strlen() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        incr n
        incr n
        incrby n 10
        decrby n 5
        decr n
        incrby n x
        incrby n 1.5
        incrby n
        incr n b
        decr
        incrby n 9223372036854775807
        get n
        set big 9223372036854775807
        incr big
        set small -9223372036854775808
        decr small
        decrby small 1
        decrby n -9223372036854775808
        incrby n -9223372036854775808
        set s hello
        incr s
        set lz 01
        incr lz
        set plus +1
        incr plus
        set neg0 -0
        incr neg0
        set e 1e3
        incr e
        append s x
        append fresh abc
        append fresh def
        get fresh
        append fresh
        strlen fresh
        strlen missing
        strlen
        strlen n
        setnx k v
        setnx k w
        get k
        setnx k
        ",
    )
    .await;
    p.check_args(Compare::Exact, &[b"set", b"sp", b" 1"]).await;
    p.check("incr sp").await;
    // A counter keeps its expiry.
    p.check("set c 5 ex 100").await;
    p.check("incr c").await;
    p.check_with(Compare::Near(1), "ttl c").await;
    p.check("append c 0").await;
    p.check_with(Compare::Near(1), "ttl c").await;
    p.assert_same();
}

#[tokio::test]
async fn empty_and_binary_keys_and_values() {
    let mut p = Pair::start().await;
    let binary: &[u8] = b"\x00\xff\r\n k\x01";
    for args in [
        &[&b"set"[..], b"", b"empty key"][..],
        &[b"get", b""],
        &[b"exists", b""],
        &[b"set", b"e", b""],
        &[b"get", b"e"],
        &[b"strlen", b"e"],
        &[b"set", binary, binary],
        &[b"get", binary],
        &[b"mget", binary, b"", b"e"],
        &[b"set", b"with space", b"a b"],
        &[b"get", b"with space"],
        &[b"del", binary, b""],
        &[b"get", binary],
    ] {
        p.check_args(Compare::Exact, args).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn getrange_substr() {
    let mut p = Pair::start().await;
    p.check("set s This_is_a_string").await;
    for (start, end) in [
        (0, 3),
        (-3, -1),
        (0, -1),
        (10, 100),
        (5, 2),
        (-1, -5),
        (-100, 2),
        (100, 200),
        (0, 0),
        (-1, -1),
        (15, 15),
        (16, 16),
    ] {
        p.check(&format!("getrange s {start} {end}")).await;
        p.check(&format!("substr s {start} {end}")).await;
    }
    p.check_all(
        "
        getrange missing 0 -1
        set e x
        getrange e 0 -1
        getrange s a 1
        getrange s 0 1.5
        getrange s 0
        getrange s 0 1 2
        substr s
        ",
    )
    .await;
    p.assert_same();
}

#[tokio::test]
async fn large_values_and_many_keys() {
    let mut p = Pair::start().await;
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    p.check_args(Compare::Exact, &[b"set", b"big", &big]).await;
    p.check_args(Compare::Exact, &[b"get", b"big"]).await;
    p.check_args(Compare::Exact, &[b"strlen", b"big"]).await;
    p.check_args(Compare::Exact, &[b"append", b"big", &big[..1000]])
        .await;
    p.check_args(Compare::Exact, &[b"getrange", b"big", b"-1005", b"-1"])
        .await;
    let keys: Vec<Vec<u8>> = (0..1000).map(|i| format!("k{i}").into_bytes()).collect();
    let mut mset: Vec<&[u8]> = vec![b"mset"];
    for key in keys.iter().step_by(2) {
        mset.push(key);
        mset.push(key);
    }
    p.check_args(Compare::Exact, &mset).await;
    let mut mget: Vec<&[u8]> = vec![b"mget"];
    mget.extend(keys.iter().map(Vec::as_slice));
    p.check_args(Compare::Exact, &mget).await;
    mget[0] = b"exists";
    p.check_args(Compare::Exact, &mget).await;
    mget[0] = b"del";
    p.check_args(Compare::Exact, &mget).await;
    p.check("dbsize").await;
    p.assert_same();
}
