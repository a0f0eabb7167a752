//! EXPIRE PEXPIRE (with NX XX GT LT) EXPIREAT PEXPIREAT PERSIST TTL PTTL.

use super::{Pair, ttl_compare};

#[tokio::test]
async fn expire_options_and_ttl() {
    let mut p = Pair::start().await;
    let lines = "
        set k v
        ttl k
        pttl k
        expire k 100
        ttl k
        expire k 100 nx
        expire k 200 xx
        ttl k
        expire k 50 gt
        expire k 500 gt
        ttl k
        expire k 600 lt
        expire k 60 lt
        ttl k
        expire k 70 xx gt
        expire k 80 gt xx
        expire k 10 xx lt
        ttl k
        persist k
        persist k
        ttl k
        expire k 10 gt
        expire k 10 xx
        expire k 10 lt
        ttl k
        persist k
        expire k 10 nx
        expire k 10 nx
        ttl k
        pexpire k 100000
        pttl k
        ttl k
        pexpire k 1000000 gt
        pttl k
        persist missing
        ttl missing
        pttl missing
        expire missing 10
        pexpire missing 10
        expire missing 10 nx
        ";
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        p.check_with(ttl_compare(line), line).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn expire_errors_and_deletion() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set k v
        expire k 10 nx xx
        expire k 10 xx nx
        expire k 10 gt lt
        expire k 10 nx gt
        expire k 10 bogus
        expire k 10 nx nx
        expire k abc
        expire k 1.5
        expire k
        expire
        pexpire k
        expire k 9223372036854775807
        expire k 9223372036854775
        expire k -9223372036854775808
        pexpire k 9223372036854775807
        pexpire k -9223372036854775808
        ttl
        ttl a b
        pttl
        persist
        persist a b
        exists k
        set k v
        expire k 0
        exists k
        set k v
        expire k -5
        exists k
        set k v
        pexpire k -5
        exists k
        set k v
        pexpire k 0 gt
        exists k
        set k v
        expire k -1 lt
        exists k
        set k v ex 100
        expire k 0 gt
        exists k
        ",
    )
    .await;
    p.assert_same();
}

#[tokio::test]
async fn expireat_and_expiretime() {
    let mut p = Pair::start().await;
    let lines = "
        set k v
        expireat k 4102444800
        ttl k
        expiretime k
        pexpiretime k
        pexpireat k 4102444900000
        pttl k
        expireat k 1
        exists k
        set k v
        pexpireat k 1000
        exists k
        set k v
        expiretime k
        pexpiretime k
        expiretime missing
        expireat missing 4102444800
        expireat k abc
        expireat k 9223372036854775807
        pexpireat k 9223372036854775807
        expireat k 4102444800 nx
        expireat k 4102444800 nx
        expireat
        expiretime
        ";
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        p.check_with(ttl_compare(line), line).await;
    }
    p.assert_same();
}

/// Sends `line` to one side until the reply is `:0` (bounded by a deadline); true when it was.
async fn wait_for_zero(peer: &mut super::Peer, line: &str) -> bool {
    let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        peer.send(&super::encode(&args)).await;
        if let Some((relaycache_resp::Frame::Integer(0), _)) = peer.reply().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn keys_expire_on_both() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set a v px 150
        set b v
        pexpire b 150
        set c v
        set d 1 px 150
        incr d
        set e v px 150
        getex e persist
        set f v
        getex f px 150
        ",
    )
    .await;
    for key in ["a", "b", "d", "f"] {
        p.cases += 1;
        let line = format!("exists {key}");
        let redis = wait_for_zero(&mut p.redis, &line).await;
        let ours = wait_for_zero(&mut p.ours, &line).await;
        if !(redis && ours) {
            p.mismatches
                .push(format!("{key} expired: redis {redis}, ours {ours}"));
        }
    }
    p.check_all(
        "
        get a
        ttl b
        exists a b c d e f
        get e
        ttl e
        ",
    )
    .await;
    p.assert_same();
}

#[tokio::test]
async fn absolute_expiry_times_come_back_to_the_millisecond() {
    let mut p = Pair::start().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    // Deadlines at many sub-second offsets, a few seconds to a year ahead, set every absolute way.
    for i in 0..40u128 {
        let at = now_ms + 5_000 + i * 7_919 + (i % 5) * 31_536_000_000;
        let secs = at / 1000;
        for line in [
            format!("set k v pxat {at}"),
            "pexpiretime k".to_owned(),
            "expiretime k".to_owned(),
            format!("pexpireat k {}", at + 1),
            "pexpiretime k".to_owned(),
            format!("getex k pxat {}", at + 2),
            "pexpiretime k".to_owned(),
            format!("set k v exat {secs}"),
            "pexpiretime k".to_owned(),
            format!("expireat k {}", secs + 1),
            "expiretime k".to_owned(),
            "pexpiretime k".to_owned(),
            format!("set k2 v pxat {at} get"),
            "rename k2 k3".to_owned(),
            "pexpiretime k3".to_owned(),
            "copy k3 k4 replace".to_owned(),
            "pexpiretime k4".to_owned(),
        ] {
            p.check(&line).await;
        }
    }
    p.assert_same();
}
