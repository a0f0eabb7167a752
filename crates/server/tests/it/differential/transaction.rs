//! MULTI EXEC DISCARD WATCH UNWATCH: the replies of transactions, and when a watch aborts `EXEC`.

use std::time::{Duration, Instant};

use relaycache_resp::Frame;

use super::{Compare, Pair, encode, words};

#[tokio::test]
async fn watch_unwatch_and_their_errors() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        watch
        unwatch x
        unwatch
        set k 1
        watch k
        watch k other k
        multi
        watch k
        set k 2
        unwatch
        exec
        get k
        exec
        discard
        # WATCH refused inside MULTI does not fail the transaction
        multi
        watch k
        get k
        exec
        # a wrong arity inside MULTI does
        multi
        watch
        exec
        ",
    )
    .await;
    p.assert_same();
}

#[tokio::test]
async fn a_write_to_a_watched_key_aborts_exec() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set k 1
        # the watching client's own write outside MULTI
        watch k
        set k 3
        multi
        get k
        exec
        # a write to another key does not abort
        watch k
        set other 1
        multi
        get k
        incr k
        exec
        # a delete
        watch k
        del k
        multi
        set k after-del
        exec
        get k
        # watching a missing key that stays missing
        watch missing
        multi
        get missing
        exec
        # creating a watched key
        watch missing
        set missing now
        multi
        get missing
        exec
        # FLUSHALL empties a watched key
        set k 8
        watch k
        flushall
        multi
        get k
        exec
        # MSET writes its keys, not its values
        set k 9
        watch k
        mset a k b k
        multi
        get k
        exec
        watch k
        mset a 1 k 2
        multi
        get k
        exec
        # RENAME writes both keys
        set src 1
        watch k
        rename src k
        multi
        get k
        exec
        ",
    )
    .await;
    p.assert_same();
}

#[tokio::test]
async fn another_clients_write_aborts_exec() {
    let mut p = Pair::start().await;
    p.check("set k 1").await;
    p.check("watch k").await;
    p.check_other_client("set k 2").await;
    p.check_all("multi\nset k 3\nexec\nget k").await;
    // The same value written again still counts as a write.
    p.check("watch k").await;
    p.check_other_client("set k 2").await;
    p.check_all("multi\nget k\nexec").await;
    // Written after MULTI, before EXEC.
    p.check("watch k").await;
    p.check("multi").await;
    p.check("incr k").await;
    p.check_other_client("incr k").await;
    p.check_all("exec\nget k").await;
    // Another client's write to an unwatched key.
    p.check("watch k").await;
    p.check_other_client("set unrelated 1").await;
    p.check_all("multi\nincr k\nexec").await;
    p.assert_same();
}

#[tokio::test]
async fn unwatch_discard_exec_and_reset_forget_the_watches() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        set k 1
        watch k
        set k 2
        unwatch
        multi
        get k
        exec
        watch k
        multi
        discard
        set k 3
        multi
        get k
        exec
        watch k
        multi
        exec
        set k 4
        multi
        get k
        exec
        # EXECABORT forgets too
        watch k
        multi
        nosuchcommand
        exec
        set k 5
        multi
        get k
        exec
        reset
        ",
    )
    .await;
    // RESET (its reply differs in nothing; the watch it drops must not abort a later EXEC).
    p.check_all("watch k\nreset\nset k 6\nmulti\nget k\nexec")
        .await;
    p.assert_same();
}

#[tokio::test]
async fn an_expired_watched_key_aborts_exec() {
    let mut p = Pair::start().await;
    p.check("set e 1 px 50").await;
    p.check("watch e").await;
    // Wait until neither side has the key, asking from another connection (bounded).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (redis, ours) = p.other_client_both(&[b"pttl", b"e"]).await;
        if redis == Some(Frame::Integer(-2)) && ours == Some(Frame::Integer(-2)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the key did not expire within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.check_all("multi\nget e\nexec").await;
    // Expired while watched, with nobody looking at it in between.
    p.check("set e 1 px 50").await;
    p.check("watch e").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.check_all("multi\nget e\nexec").await;
    p.assert_same();
}

#[tokio::test]
async fn resp3_aborted_exec_is_a_null() {
    let mut p = Pair::start().await;
    p.check_with(Compare::Shape, "hello 3").await;
    p.check_all("set k 1\nwatch k\nset k 2\nmulti\nget k\nexec\nmulti\nget k\nexec")
        .await;
    p.assert_same();
}

#[tokio::test]
async fn transactions_inside_one_pipeline() {
    let mut p = Pair::start().await;
    let lines = [
        "set k 1", "watch k", "multi", "incr k", "exec", "get k", "multi", "incr k", "exec",
        "watch k", "set k 5", "multi", "incr k", "exec", "get k", "exec",
    ];
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend(encode(&words(line)));
    }
    p.check_raw(
        Compare::Exact,
        "pipelined transactions",
        &bytes,
        lines.len(),
    )
    .await;
    p.assert_same();
}
