//! SETRANGE SETBIT INCRBYFLOAT COPY, and the older read-modify-writes beside them. Offsets that
//! would build a value near Redis's 512 MiB limit are left out: relaycache stores no value that large
//! (see `docs/server.md`), and the replies would be half a gigabyte.

use bytes::Bytes;
use relaycache_resp::Frame;

use super::{Compare, Pair};

#[tokio::test]
async fn setrange_pads_and_refuses_what_redis_refuses() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        setrange k 0 hello
        get k
        setrange k 7 world
        get k
        strlen k
        setrange k 1 EL
        get k
        exists missing
        setrange missing 3 x
        get missing
        setrange k -1 x
        setrange k x x
        setrange k 536870912 x
        setrange k 9223372036854775807 x
        setrange k 0
        set n 12
        setrange n 1 5
        get n
        ",
    )
    .await;
    // Empty values change nothing and create no key.
    for args in [
        &[&b"setrange"[..], b"k", b"100", b""][..],
        &[b"setrange", b"missing2", b"0", b""],
        &[b"exists", b"missing2"],
        &[b"get", b"k"],
    ] {
        p.check_args(Compare::Exact, args).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn setbit_sets_and_reports_the_previous_bit() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        setbit k 7 1
        setbit k 7 1
        setbit k 7 0
        get k
        setbit k 0 1
        setbit k 100 1
        strlen k
        get k
        set a a
        setbit a 6 1
        get a
        setbit k 4294967296 1
        setbit k -1 1
        setbit k x 1
        setbit k 1 2
        setbit k 1 -1
        setbit k 1 x
        setbit k 1
        ",
    )
    .await;
    p.assert_same();
}

#[tokio::test]
async fn incrbyfloat_adds_and_formats_as_redis() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        incrbyfloat f 1
        incrbyfloat f 0.25
        set f 10.50
        incrbyfloat f 0.1
        incrbyfloat f -5
        set f 5.0e3
        incrbyfloat f 2.0e2
        set f 0.1
        incrbyfloat f 0.2
        set f 17179869184
        incrbyfloat f 1.5
        set f 1.1
        incrbyfloat f -1.1
        set f 1e30
        incrbyfloat f 0
        set f 3
        incrbyfloat f 0.0000000000000000001
        incrbyfloat f 1e-20
        incrbyfloat f 1e-17
        incrbyfloat f -3.00000000000000001
        set f 1
        incrbyfloat f 3.0e-1
        incrbyfloat f 0x10
        incrbyfloat f 1e400
        incrbyfloat f +inf
        incrbyfloat f -inf
        incrbyfloat f nan
        incrbyfloat f abc
        incrbyfloat f 1e
        incrbyfloat f .5
        incrbyfloat f 5.
        set s hello
        incrbyfloat s 1
        set big 1.1e4932
        incrbyfloat big 1.1e4932
        incrbyfloat f
        get f
        ",
    )
    .await;
    // Spaces around a number and an empty increment are not floats.
    for args in [
        &[&b"incrbyfloat"[..], b"f", b""][..],
        &[b"set", b"sp", b" 1"],
        &[b"incrbyfloat", b"sp", b"1"],
        &[b"set", b"sp", b"1 "],
        &[b"incrbyfloat", b"sp", b"1"],
        &[b"incrbyfloat", b"f", b" 1"],
        &[b"set", b"nul", b"1\x00"],
        &[b"incrbyfloat", b"nul", b"1"],
    ] {
        p.check_args(Compare::Exact, args).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn copy_with_and_without_replace() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set a 1
        copy a b
        get b
        copy a b
        set a 2
        copy a b replace
        get b
        copy missing b
        copy a c db 0
        get c
        copy a c db x
        copy a c nope
        copy a
        set t v ex 100
        copy t t2
        ttl t2
        ",
    )
    .await;
    // One database: another index does not exist (Redis has 16).
    p.ours_only(
        "copy a c db 1 replace",
        &Frame::Error(Bytes::from_static(b"ERR DB index is out of range")),
    )
    .await;
    p.check("copy a a").await;
    p.assert_same();
}

#[tokio::test]
async fn rename_getex_msetnx_append_as_redis() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        rename missing x
        set a 1
        rename a a
        renamenx a a
        rename a b
        get b
        exists a
        set c 3
        renamenx b c
        renamenx b d
        get d
        msetnx x 1 y 2
        msetnx y 3 z 4
        exists z
        msetnx x
        append x abc
        exists new
        getex x persist
        getex missing ex 10
        getex x ex 0
        getex x pxat 1
        exists x
        ",
    )
    .await;
    for args in [&[&b"append"[..], b"new", b""][..], &[b"exists", b"new"]] {
        p.check_args(Compare::Exact, args).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn bitop_combines_over_the_longest_source() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set a abcdef
        set b 12
        set c XYZ
        bitop and d a b
        get d
        bitop or d a b c
        get d
        bitop xor d a b c missing
        get d
        bitop not d a
        get d
        bitop and d a missing
        get d
        bitop or d missing other
        exists d
        bitop not d missing
        exists d
        set d v ex 100
        bitop or d a
        ttl d
        bitop nand d a
        bitop not d a b
        bitop and d
        bitop
        bitop xor d d d
        get d
        ",
    )
    .await;
    p.assert_same();
}
