//! MOVE SWAPDB WAIT WAITAOF LASTSAVE SAVE BGSAVE ROLE READONLY READWRITE SLOWLOG LATENCY and CONFIG GET
//! maxmemory against a `redis-server` with one database (`--databases 1`), no persistence and no
//! replicas: replies, argument errors in Redis's order, arity errors, `COMMAND INFO`. The slow log of
//! Redis is switched off (`--slowlog-log-slower-than -1`) so that a command slowed down by a busy
//! machine cannot add an entry relaycache would not have.

use relaycache_resp::Frame;

use super::{Compare, Pair};

/// One database, the cache's eviction policy, and a slow log that stays empty.
const REDIS_ARGS: [&str; 8] = [
    "--databases",
    "1",
    "--maxmemory",
    "100mb",
    "--maxmemory-policy",
    "allkeys-lfu",
    "--slowlog-log-slower-than",
    "-1",
];

#[tokio::test]
async fn move_and_swapdb_with_one_database() {
    let mut p = Pair::start_with(&REDIS_ARGS).await;
    // A missing key, then a present one: Redis checks the index first, so the replies are the same.
    for _ in 0..2 {
        p.check_all(
            "
            move k 0
            move k 1
            move k -1
            move k 16
            move k x
            move k 01
            move k -0
            move k 1.5
            move k 2147483647
            move k 2147483648
            move k -2147483649
            move k 99999999999999999999
            MOVE k 0
            set k v
            ",
        )
        .await;
    }
    p.check_all(
        "
        get k
        move
        move k
        move k 0 1
        swapdb 0 0
        SWAPDB 0 0
        swapdb 0 1
        swapdb 1 0
        swapdb -1 0
        swapdb 0 -1
        swapdb 1 1
        swapdb x 0
        swapdb 0 x
        swapdb 1 x
        swapdb x y
        swapdb 00 0
        swapdb 4294967296 0
        swapdb 0 2147483648
        swapdb 0
        swapdb 0 0 0
        swapdb
        get k
        ",
    )
    .await;
    p.check_args(Compare::Exact, &[b"move", b"k", b" 1"]).await;
    p.check_args(Compare::Exact, &[b"move", b"k", b""]).await;
    p.check_args(Compare::Exact, &[b"swapdb", b"", b"0"]).await;
    p.assert_same();
}

/// `SWAPDB 0 0` swaps nothing, so a watched key stays clean and `EXEC` runs.
#[tokio::test]
async fn swapdb_keeps_watches() {
    let mut p = Pair::start_with(&REDIS_ARGS).await;
    p.check_all(
        "
        set k 1
        watch k
        swapdb 0 0
        multi
        incr k
        exec
        ",
    )
    .await;
    p.assert_same();
}

#[tokio::test]
async fn wait_without_replicas() {
    let mut p = Pair::start_with(&REDIS_ARGS).await;
    p.check_all(
        "
        wait 0 0
        wait 0 100
        wait -1 0
        wait -5 1
        wait 1 1
        wait 3 5
        set k v
        wait 0 0
        wait x 0
        wait 0 x
        wait x -1
        wait 0 -1
        wait 0 1.5
        wait 0 9223372036854775807
        wait 0 9223372036854775808
        wait 99999999999999999999 0
        wait 00 0
        wait
        wait 0
        wait 0 0 0
        multi
        wait 1 0
        wait 0 -1
        exec
        ",
    )
    .await;
    // Redis blocks until the timeout (for ever with 0) when more replicas are asked for than it has;
    // relaycache has none to wait for and replies at once.
    let reply = p.ours_call(&[b"wait", b"1", b"0"]).await;
    if reply != Some(Frame::Integer(0)) {
        p.note(format!("wait 1 0: expected :0 at once, got {reply:?}"));
    }
    p.assert_same();
}

/// `WAITAOF` is Redis 7.2's (the redis-server here is 7.0, where it is unknown): relaycache answers as
/// 7.2 does with `appendonly no` and no replicas.
#[tokio::test]
async fn waitaof_as_redis_7_2_without_aof() {
    let mut p = Pair::start_with(&REDIS_ARGS).await;
    let cases: [(&str, Frame); 10] = [
        (
            "waitaof 0 0 0",
            Frame::Array(vec![Frame::Integer(0), Frame::Integer(0)]),
        ),
        (
            "waitaof 0 3 100",
            Frame::Array(vec![Frame::Integer(0), Frame::Integer(0)]),
        ),
        (
            "waitaof 1 0 0",
            Frame::error(
                "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.",
            ),
        ),
        (
            "waitaof 2 0 0",
            Frame::error("ERR value is out of range, value must between 0 and 1"),
        ),
        (
            "waitaof -1 0 0",
            Frame::error("ERR value is out of range, value must between 0 and 1"),
        ),
        (
            "waitaof x 0 0",
            Frame::error("ERR value is not an integer or out of range"),
        ),
        (
            "waitaof 0 -1 0",
            Frame::error("ERR value is out of range, must be positive"),
        ),
        ("waitaof 1 0 -1", Frame::error("ERR timeout is negative")),
        (
            "waitaof 1 0 x",
            Frame::error("ERR timeout is not an integer or out of range"),
        ),
        (
            "waitaof 0 0",
            Frame::error("ERR wrong number of arguments for 'waitaof' command"),
        ),
    ];
    for (line, expected) in &cases {
        p.ours_only(line, expected).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn role_readonly_readwrite() {
    let mut p = Pair::start_with(&REDIS_ARGS).await;
    p.check_all(
        "
        role
        ROLE
        role x
        readonly
        readwrite
        READONLY
        readonly x
        readwrite x
        ",
    )
    .await;
    p.check_with(Compare::Shape, "hello 3").await;
    p.check_all("role\nreadonly").await;
    p.assert_same();
}

/// `LASTSAVE` is an integer in both; relaycache's is its start, `INFO`'s `rdb_last_save_time`.
/// `SAVE` and `BGSAVE` are refused by design (Redis would write a dump file).
#[tokio::test]
async fn lastsave_save_bgsave() {
    let mut p = Pair::start_with(&REDIS_ARGS).await;
    p.check_with(Compare::Shape, "lastsave").await;
    p.check_all(
        "
        lastsave x
        save x
        bgsave x
        bgsave x y
        bgsave schedule x
        multi
        save
        exec
        ",
    )
    .await;
    let lastsave = p.ours_call(&[b"lastsave"]).await;
    let info = p.ours_call(&[b"info", b"persistence"]).await;
    let text = info
        .as_ref()
        .and_then(Frame::as_bytes)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let saved = text
        .lines()
        .find_map(|l| l.strip_prefix("rdb_last_save_time:"))
        .and_then(|v| v.trim().parse::<i64>().ok());
    if saved.is_none() || lastsave != saved.map(Frame::Integer) {
        p.note(format!(
            "lastsave {lastsave:?} is not INFO's rdb_last_save_time {saved:?}"
        ));
    }
    let no_disk =
        Frame::error("ERR relaycache keeps no data on disk: SAVE and BGSAVE are not supported");
    for line in ["save", "bgsave", "BGSAVE SCHEDULE"] {
        p.ours_only(line, &no_disk).await;
    }
    p.assert_same();
}

#[tokio::test]
async fn slowlog_and_latency() {
    let mut p = Pair::start_with(&REDIS_ARGS).await;
    p.check_all(
        "
        slowlog
        slowlog get
        slowlog get 5
        slowlog get 0
        slowlog get -1
        slowlog get -2
        slowlog get x
        slowlog get 1.5
        slowlog get 1 2
        SLOWLOG GET 1 2
        slowlog len
        slowlog len x
        slowlog reset
        slowlog reset x
        slowlog help
        SLOWLOG HELP
        slowlog help x
        slowlog bogus
        slowlog get
        latency
        latency latest
        latency latest x
        latency help
        latency help x
        latency history
        latency history command
        latency history x y
        latency reset
        latency reset command fork
        latency graph
        latency graph command
        latency graph x y
        latency doctor x
        latency bogus
        latency histogram nosuchcommand
        latency latest
        ",
    )
    .await;
    p.check_with(Compare::Shape, "latency doctor").await;
    p.check_with(Compare::Shape, "hello 3").await;
    p.check_all("slowlog get\nlatency latest\nlatency histogram nosuchcommand")
        .await;
    // Redis's doctor explains how to enable the monitor; relaycache's says it has none.
    p.check_with(Compare::Shape, "latency doctor").await;
    p.assert_same();
}

/// `CONFIG GET maxmemory` is the cache's byte bound (the number `INFO memory` reports), and the
/// policy is `allkeys-lfu`.
#[tokio::test]
async fn config_get_maxmemory() {
    let mut p = Pair::start_with(&REDIS_ARGS).await;
    p.check_all(
        "
        config get maxmemory-policy
        config get MAXMEMORY-POLICY
        config get maxmemory-p*
        ",
    )
    .await;
    for line in [
        "config get maxmemory",
        "config get MaxMemory",
        "config get maxmemory maxmemory",
    ] {
        p.check_with(Compare::Shape, line).await;
    }
    let config = p.ours_call(&[b"config", b"get", b"maxmemory"]).await;
    let info = p.ours_call(&[b"info", b"memory"]).await;
    let text = info
        .as_ref()
        .and_then(Frame::as_bytes)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let max = text
        .lines()
        .find_map(|l| l.strip_prefix("maxmemory:"))
        .map(|v| Frame::bulk(v.trim()));
    let expected = max.map(|m| Frame::Array(vec![Frame::bulk("maxmemory"), m]));
    if expected.is_none() || config != expected {
        p.note(format!(
            "config get maxmemory {config:?}, INFO says {expected:?}"
        ));
    }
    p.assert_same();
}

/// `COMMAND INFO` of the new commands: name, arity, flags and key positions as Redis lists them.
#[tokio::test]
async fn command_info_of_admin_commands() {
    let mut p = Pair::start_with(&REDIS_ARGS).await;
    p.check_command_info(&[
        "move",
        "swapdb",
        "wait",
        "lastsave",
        "save",
        "bgsave",
        "role",
        "readonly",
        "readwrite",
        "slowlog",
        "latency",
    ])
    .await;
    p.assert_same();
}
