//! RESP3 after `HELLO 3`, inline commands, pipelines, `QUIT`.

use super::{Compare, Pair};

#[tokio::test]
async fn resp3_replies() {
    let mut p = Pair::start().await;
    p.check_with(Compare::Shape, "hello 3").await;
    p.check_all(
        "
        get missing
        set k v
        get k
        set k v nx
        set k v2 get
        set missing v xx
        set missing v get xx
        getdel missing
        getset missing v
        del missing
        mget k missing
        getex missing
        client getname
        client setname c3
        client getname
        ping
        ping x
        echo x
        exists k missing
        incr n
        ttl k
        ttl missing
        type k
        scan 0 match nothing* count 1000
        keys nothing*
        hello 4
        foo bar
        get
        set k v ex 0
        config get nosuchparameter
        ",
    )
    .await;
    p.check_with(Compare::Shape, "config get maxclients").await;
    p.check_with(Compare::Shape, "info server").await;
    p.check_with(Compare::Shape, "time").await;
    p.check_with(Compare::Shape, "hello 2").await;
    p.check("get missing").await;
    p.check("mget missing").await;
    p.assert_same();
}

#[tokio::test]
async fn inline_commands() {
    let mut p = Pair::start().await;
    let cases: &[(&str, &[u8], usize)] = &[
        ("inline PING", b"PING\r\n", 1),
        ("inline ping lf only", b"ping\n", 1),
        ("inline set", b"set k v\r\n", 1),
        ("inline get", b"GET k\r\n", 1),
        ("inline extra spaces", b"  set   k2   v2  \r\n", 1),
        (
            "inline double quotes",
            b"set \"a b\" \"c\\td\\x41\\n\"\r\n",
            1,
        ),
        ("inline read back", b"get \"a b\"\r\n", 1),
        ("inline single quotes", b"set 'x y' 'it\\'s'\r\n", 1),
        ("inline read single", b"get 'x y'\r\n", 1),
        ("inline single quotes escape", b"set 'q' 'a\\'b'\r\n", 1),
        ("inline get single", b"get q\r\n", 1),
        ("inline empty quoted", b"set e \"\"\r\n", 1),
        ("inline strlen empty", b"strlen e\r\n", 1),
        ("inline unknown", b"foo bar\r\n", 1),
        ("inline arity", b"get\r\n", 1),
        ("inline empty lines", b"\r\n\r\nping\r\n", 1),
        ("inline pipeline", b"ping\r\necho a\r\nget k\r\n", 3),
        (
            "inline mixed with resp",
            b"ping\r\n*2\r\n$4\r\necho\r\n$1\r\nz\r\nping x\r\n",
            3,
        ),
    ];
    for (label, bytes, replies) in cases {
        p.check_raw(Compare::Exact, label, bytes, *replies).await;
    }
    // An unbalanced quote is a protocol error: both reply and close.
    p.check_raw(Compare::Exact, "inline unbalanced", b"set \"a b\r\n", 2)
        .await;
    p.reconnect().await;
    p.check_raw(
        Compare::Exact,
        "inline bad quote end",
        b"set \"a\"b c\r\n",
        2,
    )
    .await;
    p.reconnect().await;
    p.check_raw(
        Compare::Exact,
        "inline bad single quote end",
        b"set 'a''b' c\r\n",
        2,
    )
    .await;
    p.reconnect().await;
    // QUIT takes (and ignores) arguments, replies +OK and closes.
    p.check_raw(Compare::Exact, "quit with args", b"quit now\r\n", 2)
        .await;
    p.assert_same();
}

#[tokio::test]
async fn pipelines_and_quit() {
    let mut p = Pair::start().await;
    let mut pipeline = Vec::new();
    let commands: &[&[&[u8]]] = &[
        &[b"set", b"a", b"1"],
        &[b"incr", b"a"],
        &[b"get", b"a"],
        &[b"get"],
        &[b"nosuch", b"x"],
        &[b"set", b"b", b"2", b"ex", b"0"],
        &[b"mset", b"c", b"3", b"d", b"4"],
        &[b"mget", b"a", b"b", b"c", b"d"],
        &[b"del", b"a", b"b", b"c"],
        &[b"exists", b"a", b"d"],
        &[b"ping"],
        &[b"echo", b"end"],
    ];
    for c in commands {
        pipeline.extend(super::encode(c));
    }
    p.check_raw(Compare::Exact, "pipeline", &pipeline, commands.len())
        .await;
    // QUIT replies +OK then closes; commands after it in the same write are not executed.
    let mut quit = super::encode(&[b"quit"]);
    quit.extend(super::encode(&[b"set", b"after", b"quit"]));
    p.check_raw(Compare::Exact, "quit then set", &quit, 2).await;
    p.reconnect().await;
    p.check("exists after").await;
    // `*0` and empty arrays are skipped, as Redis does.
    p.check_raw(Compare::Exact, "empty array", b"*0\r\nping\r\n", 1)
        .await;
    p.assert_same();
}

#[tokio::test]
async fn multi_exec_discard() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        multi
        set a 1
        incr a
        get a
        exec
        exec
        discard
        multi
        multi
        set a 5
        discard
        get a
        multi
        nosuchcommand x
        set a 6
        exec
        get a
        multi
        get
        exec
        set s hello
        multi
        incr s
        set a 7
        mget a s
        exec
        multi
        exec
        multi x
        exec x
        discard x
        ",
    )
    .await;
    // In a pipeline, and with RESP3 replies.
    p.check_with(Compare::Shape, "hello 3").await;
    let mut pipeline = Vec::new();
    for c in [
        &[&b"multi"[..]][..],
        &[b"set", b"p", b"1"],
        &[b"get", b"missing"],
        &[b"incrby", b"p", b"41"],
        &[b"exec"],
    ] {
        pipeline.extend(super::encode(c));
    }
    p.check_raw(Compare::Exact, "multi pipeline resp3", &pipeline, 5)
        .await;
    // QUIT inside MULTI is not queued: it closes the connection.
    p.check_raw(Compare::Exact, "quit in multi", b"multi\r\nquit\r\n", 3)
        .await;
    p.assert_same();
}

#[tokio::test]
async fn reset_restores_a_fresh_connection() {
    let mut p = Pair::start().await;
    p.check_with(Compare::Shape, "hello 3 setname named").await;
    p.check_all(
        "
        multi
        set k v
        reset
        exec
        client getname
        get missing
        reset x
        ",
    )
    .await;
    p.assert_same();
}
