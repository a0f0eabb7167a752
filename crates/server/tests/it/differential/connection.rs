//! PING ECHO SELECT CLIENT HELLO AUTH COMMAND CONFIG INFO TIME: replies, arity errors, unknown commands.

use relaycache_resp::Frame;

use super::{Compare, Pair};

#[tokio::test]
async fn ping_echo_select_client() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        ping
        PING
        ping hello
        ping a b
        echo hi
        echo
        echo hi there
        select 0
        select 16
        select -1
        select abc
        select
        select 0 1
        client setname myname
        client getname
        client setname
        client setname a b
        client getname x
        client bogus
        client
        client id x
        client setname bad\u{1}name
        ",
    )
    .await;
    // One database by design: SELECT 0 only (Redis has 16).
    for db in ["1", "15"] {
        p.ours_only(
            &format!("select {db}"),
            &Frame::error("ERR DB index is out of range"),
        )
        .await;
        p.check("select 0").await;
    }
    p.check_args(Compare::Exact, &[b"client", b"setname", b"a b"])
        .await;
    p.check_args(Compare::Exact, &[b"client", b"setname", b""])
        .await;
    p.check("client getname").await;
    p.check_with(Compare::Shape, "client id").await;
    p.check_with(Compare::Shape, "time").await;
    p.assert_same();
}

#[tokio::test]
async fn unknown_commands_and_arity() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        foo
        foo bar baz
        FOO a b c d e f g h i j k l m n o p
        ttl
        pttl
        persist
        getdel
        dbsize x
        time x
        auth
        auth a b c
        keys
        exists
        del
        unlink
        mget
        mset
        incr
        decr
        incrby k
        decrby k
        setnx k
        setex k 1
        psetex k 1
        echo
        type
        ",
    )
    .await;
    let long = "x".repeat(200);
    p.check_args(Compare::Exact, &[b"nosuchcommand", long.as_bytes(), b"y"])
        .await;
    p.check_args(Compare::Exact, &[long.as_bytes()]).await;
    p.check_args(Compare::Exact, &[b"foo", b"a\r\nb"]).await;
    // Only strings by design: other types' commands are unknown (Redis would run them).
    for (line, args) in [("hget h f", "'h' 'f' "), ("lpush l a", "'l' 'a' ")] {
        let name = line.split(' ').next().unwrap_or_default();
        p.ours_only(
            line,
            &Frame::error(format!(
                "ERR unknown command '{name}', with args beginning with: {args}"
            )),
        )
        .await;
    }
    p.assert_same();
}

#[tokio::test]
async fn hello_auth_info_command_config() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        hello 4
        hello 1
        hello abc
        hello 2 bogus
        hello 2 auth
        hello 2 auth default
        hello 2 setname
        auth x
        auth default x
        auth a b c
        command bogus
        config bogus
        config
        config get
        ",
    )
    .await;
    // The server description differs (version, id); its shape must not.
    p.check_with(Compare::Shape, "hello").await;
    p.check_with(Compare::Shape, "hello 2").await;
    p.check_with(Compare::Shape, "hello 2 setname conn1").await;
    p.check("client getname").await;
    p.check_with(Compare::Shape, "command count").await;
    p.check_with(Compare::Shape, "config get maxclients").await;
    p.check_with(Compare::Shape, "config get save").await;
    p.check_with(Compare::Shape, "config get nosuchparameter")
        .await;
    p.check_with(Compare::Shape, "info").await;
    p.check_with(Compare::Shape, "info server").await;
    p.check_with(Compare::Shape, "info keyspace").await;
    // CONFIG SET is refused by design: the configuration file is the source of truth.
    p.ours_only(
        "config set maxmemory 1",
        &Frame::error(
            "ERR CONFIG SET is not supported: relaycache is configured by its configuration file",
        ),
    )
    .await;
    p.assert_same();
}
