//! RANDOMKEY, OBJECT (against a Redis whose `maxmemory-policy` is `allkeys-lfu` with a `maxmemory`, the
//! policy relaycache reports), MEMORY USAGE (nil or an integer; the estimate itself differs), DUMP and
//! RESTORE (the payloads differ by design: only replies that do not depend on the format are compared,
//! and each server restores its own dumps).

use relaycache_resp::Frame;

use super::{Compare, Pair};

/// Redis settings matching what relaycache reports in `INFO memory`.
const LFU: [&str; 4] = ["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lfu"];

#[tokio::test]
async fn randomkey_object_memory() {
    let mut p = Pair::start_with(&LFU).await;
    p.check_all(
        "
        randomkey
        randomkey x
        set only v
        randomkey
        object encoding missing
        object freq missing
        object idletime missing
        object refcount missing
        mset int 12345 neg -12 zero 0 big 9223372036854775807 over 9223372036854775808
        mset lead 007 plus +1 minus0 -0 float 1.5 word hello
        mset s44 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa s45 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        mset i20 12345678901234567890 n20 -1234567890123456789
        object encoding int
        object encoding neg
        object encoding zero
        object encoding big
        object encoding over
        object encoding lead
        object encoding plus
        object encoding minus0
        object encoding float
        object encoding word
        object encoding s44
        object encoding s45
        object encoding i20
        object encoding n20
        OBJECT ENCODING word
        object refcount int
        object refcount zero
        object refcount word
        object refcount s45
        object idletime word
        object encoding
        object encoding a b
        object freq
        object refcount a b
        object help x
        object nope
        object Nope k
        object
        memory usage missing
        memory usage missing samples 5
        memory usage word samples x
        memory usage word samples -1
        memory usage word samples
        memory usage word bogus
        memory usage
        memory nope
        memory
        ",
    )
    .await;
    // Redis's LFU counter of a new key is 5, and loses 1 when the minute of its LFU clock turns over
    // between the write and the read: within 1 of Redis's, and always 5 here.
    p.check_with(Compare::Near(1), "object freq word").await;
    p.ours_only("object freq word", &Frame::Integer(5)).await;
    p.check_args(Compare::Exact, &[b"set", b"empty", b""]).await;
    p.check("object encoding empty").await;
    p.check_args(Compare::Exact, &[b"set", b"space", b"1 "])
        .await;
    p.check("object encoding space").await;
    for line in [
        "memory usage word",
        "memory usage word samples 0",
        "memory usage s45 SAMPLES 10",
    ] {
        p.check_with(Compare::Shape, line).await;
    }
    // Help texts are our own words: both must be arrays of status lines.
    for line in ["object help", "memory help", "OBJECT HELP"] {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let lines = |f: &Option<Frame>| {
            matches!(f, Some(Frame::Array(items))
                if !items.is_empty() && items.iter().all(|i| matches!(i, Frame::Simple(_))))
        };
        let (redis, ours) = p.both(&args).await;
        if !lines(&redis) || !lines(&ours) {
            p.note(format!("{line}: redis {redis:?}, ours {ours:?}"));
        }
    }
    p.check("flushall").await;
    p.check("randomkey").await;
    p.assert_same();
}

#[tokio::test]
async fn dump_restore_errors() {
    let mut p = Pair::start().await;
    p.check_all(
        "
        dump missing
        dump
        dump a b
        set k v
        restore k 0 garbage
        restore k x garbage
        restore k -1 garbage
        restore new 0 garbage
        restore new 0 garbage replace
        restore new -1 garbage
        restore new x garbage
        restore new 0 garbage freq 300
        restore new 0 garbage freq -1
        restore new 0 garbage freq x
        restore new 0 garbage idletime -1
        restore new 0 garbage idletime x
        restore new 0 garbage idletime 1 freq 2
        restore new 0 garbage freq 2 idletime 1
        restore new 0 garbage idletime
        restore new 0 garbage bogus
        restore new 0 garbage absttl replace idletime 10
        restore new 0 \"\"
        restore k 0 garbage replace
        restore new 0
        restore
        exists new
        ",
    )
    .await;
    p.check_with(Compare::Shape, "dump k").await;
    p.assert_same();
}

/// Each server restores what it dumped: value, TTL, REPLACE, ABSTTL, expired TTLs, BUSYKEY.
#[tokio::test]
async fn dump_restore_round_trip() {
    let mut p = Pair::start().await;
    let binary: &[u8] = b"\x00\xff\r\n$-1\r\nbin";
    p.check_args(Compare::Exact, &[b"set", b"src", binary])
        .await;
    p.check_all("set t v px 100000\nset num 42").await;
    let mut payloads = Vec::new();
    for key in ["src", "t", "num"] {
        let (redis, ours) = p.both(&[b"dump", key.as_bytes()]).await;
        match (redis, ours) {
            (Some(Frame::Bulk(r)), Some(Frame::Bulk(o))) => payloads.push((key, r, o)),
            other => p.note(format!("dump {key}: {other:?}")),
        }
    }
    for (key, redis_payload, ours_payload) in &payloads {
        let copy = format!("{key}-copy");
        // Each server gets its own payload; the replies must agree.
        let steps: [(&str, &[&[u8]]); 7] = [
            ("restore", &[b"0"]),
            ("busy", &[b"0"]),
            ("replace", &[b"0", b"REPLACE"]),
            ("ttl", &[b"50000", b"replace"]),
            ("past absttl", &[b"1", b"replace", b"absttl"]),
            ("future absttl", &[b"4102444800000", b"absttl"]),
            ("options", &[b"0", b"replace", b"idletime", b"10"]),
        ];
        for (label, rest) in steps {
            let mut args: Vec<Vec<u8>> = vec![b"restore".to_vec(), copy.clone().into_bytes()];
            let Some((ttl, options)) = rest.split_first() else {
                continue;
            };
            args.push(ttl.to_vec());
            let mut redis_args = args.clone();
            redis_args.push(redis_payload.to_vec());
            args.push(ours_payload.to_vec());
            for o in options {
                args.push(o.to_vec());
                redis_args.push(o.to_vec());
            }
            let redis_refs: Vec<&[u8]> = redis_args.iter().map(Vec::as_slice).collect();
            let ours_refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let redis = p.redis_call(&redis_refs).await;
            let ours = p.ours_call(&ours_refs).await;
            if redis != ours {
                p.note(format!(
                    "restore {key} ({label}): redis {redis:?}, ours {ours:?}"
                ));
            }
            for check in ["get", "exists"] {
                p.check_args(Compare::Exact, &[check.as_bytes(), copy.as_bytes()])
                    .await;
            }
            p.check_args(Compare::Near(1), &[b"ttl", copy.as_bytes()])
                .await;
            if label == "past absttl" {
                // Gone: put it back for the next step.
                p.check_args(Compare::Exact, &[b"set", copy.as_bytes(), b"x"])
                    .await;
            }
            if label == "future absttl" {
                p.check_args(Compare::Exact, &[b"del", copy.as_bytes()])
                    .await;
            }
        }
    }
    // A payload of one server is garbage to the other.
    if let Some((_, redis_payload, ours_payload)) = payloads.first() {
        let theirs = p.ours_call(&[b"restore", b"x", b"0", redis_payload]).await;
        let expected = Frame::error("ERR DUMP payload version or checksum are wrong");
        if theirs != Some(expected.clone()) {
            p.note(format!("restoring Redis's payload: {theirs:?}"));
        }
        let ours = p.redis_call(&[b"restore", b"x", b"0", ours_payload]).await;
        if ours != Some(expected) {
            p.note(format!("Redis restoring ours: {ours:?}"));
        }
    }
    p.assert_same();
}

/// `COMMAND INFO` of the commands added with this family and the bit commands: name, arity, flags and
/// key positions as Redis lists them (the ACL categories, tips and key specs that follow are not served).
#[tokio::test]
async fn command_info_of_read_commands() {
    let mut p = Pair::start().await;
    p.check_command_info(&[
        "getbit",
        "bitcount",
        "bitpos",
        "lcs",
        "randomkey",
        "object",
        "memory",
        "dump",
        "restore",
    ])
    .await;
    p.assert_same();
}

/// LCS refuses a table above its bound (Redis would allocate it): two 5000-byte values need 25 Mi cells.
#[tokio::test]
async fn lcs_refuses_a_huge_table() {
    let mut p = Pair::start().await;
    let big = "x".repeat(5000);
    p.check(&format!("mset big1 {big} big2 {big}")).await;
    p.ours_only(
        "lcs big1 big2 len",
        &Frame::error("ERR Insufficient memory, failed allocating transient memory for LCS"),
    )
    .await;
    p.check(&format!("set big2 {}", "y".repeat(3000))).await;
    p.check("lcs big1 big2 len").await;
    p.assert_same();
}
