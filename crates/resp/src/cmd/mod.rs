//! Typed commands: [`Command::parse`] checks a request's name, arity and options and returns what to do;
//! the server executes it. [`COMMANDS`] describes every command (arity, flags, key positions) for arity
//! checks and for the `COMMAND` reply.
//!
//! One module per family of verbs: `connection` (PING ECHO HELLO AUTH QUIT RESET SELECT CLIENT), `get`
//! (GET GETDEL GETRANGE SUBSTR STRLEN APPEND), `set` (SET SETNX SETEX PSETEX GETSET GETEX), `keys` (DEL UNLINK EXISTS
//! TOUCH TYPE KEYS SCAN), `expire` (EXPIRE PEXPIRE EXPIREAT PEXPIREAT EXPIRETIME PEXPIRETIME PERSIST TTL
//! PTTL), `multi` (MGET MSET MSETNX), `incr` (INCR DECR INCRBY DECRBY), `update` (SETRANGE SETBIT
//! INCRBYFLOAT COPY BITOP), `bits` (GETBIT BITCOUNT BITPOS), `lcs` (LCS), `object` (OBJECT MEMORY DUMP
//! RESTORE), `server` (INFO COMMAND CONFIG DBSIZE FLUSHDB FLUSHALL TIME CLUSTER.MEMBERS
//! CLUSTER.PARTITIONS), `admin` (MOVE SWAPDB WAIT WAITAOF LASTSAVE SAVE BGSAVE ROLE READONLY READWRITE
//! SLOWLOG LATENCY); RANDOMKEY, MULTI, EXEC, DISCARD and UNWATCH take no
//! arguments and WATCH takes keys (the server queues and runs the transaction and tracks the watches).

mod admin;
mod bits;
mod connection;
mod expire;
mod get;
mod incr;
mod keys;
mod lcs;
mod multi;
mod object;
mod server;
mod set;
mod update;

pub use admin::{Latency, Slowlog};
pub use bits::{BitQuery, BitRange, BitUnit};
pub use connection::{Client, Hello};
pub use expire::{Expire, ExpireCondition};
pub use keys::Scan;
pub use lcs::Lcs;
pub use object::{Memory, Object, Restore};
pub use server::{CommandInfo, Config};
pub use set::{Expiry, GetExpiry, Set, SetCondition};
pub use update::BitOperation;

use crate::decode::Args;
use crate::parse::{CommandError, Cursor};

/// An argument error Redis reports only after it has looked the key up (so a missing key may get a
/// plain reply instead); [`CommandError::from`] gives its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferred {
    /// `ERR value is not an integer or out of range`.
    NotInteger,
    /// `ERR syntax error`.
    Syntax,
    /// `ERR Invalid TTL value, must be >= 0` (RESTORE).
    NegativeTtl,
}

impl From<Deferred> for CommandError {
    fn from(d: Deferred) -> CommandError {
        match d {
            Deferred::NotInteger => CommandError::NotInteger,
            Deferred::Syntax => CommandError::Syntax,
            Deferred::NegativeTtl => {
                CommandError::Other("ERR Invalid TTL value, must be >= 0".to_owned())
            }
        }
    }
}

/// One command, its arguments borrowed from the request.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `PING [message]`.
    Ping(Option<&'a [u8]>),
    /// `ECHO message`.
    Echo(&'a [u8]),
    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`.
    Hello(Hello<'a>),
    /// `AUTH [username] password`.
    Auth {
        /// The user name, if given (only `default` exists).
        username: Option<&'a [u8]>,
        /// The password.
        password: &'a [u8],
    },
    /// `QUIT`.
    Quit,
    /// `SELECT index`.
    Select(i64),
    /// `CLIENT ...`.
    Client(Client<'a>),
    /// `GET key`.
    Get(&'a [u8]),
    /// `GETDEL key`.
    GetDel(&'a [u8]),
    /// `GETEX key [EX|PX|EXAT|PXAT n | PERSIST]`: the value, changing the key's expiry.
    GetEx {
        /// The key.
        key: &'a [u8],
        /// What to do with its expiry.
        expiry: GetExpiry,
    },
    /// `GETRANGE key start end` / `SUBSTR`: a slice of the value (negative indexes count from the end).
    GetRange {
        /// The key.
        key: &'a [u8],
        /// First byte index.
        start: i64,
        /// Last byte index (inclusive).
        end: i64,
    },
    /// `STRLEN key`: the value's length, 0 when absent.
    Strlen(&'a [u8]),
    /// `APPEND key value`: appends, replies with the new length.
    Append {
        /// The key.
        key: &'a [u8],
        /// What to append.
        value: &'a [u8],
    },
    /// `SET`, `SETEX`, `PSETEX`, `GETSET`: reply `+OK` (or the old value with `GET`, or null when not written).
    Set(Set<'a>),
    /// `SETNX key value`: reply 1 when written, 0 when the key existed.
    SetNx(Set<'a>),
    /// `DEL key...` / `UNLINK key...`: reply how many existed.
    Del(Args<'a>),
    /// `EXISTS key...` / `TOUCH key...`: reply how many exist (repeats count).
    Exists(Args<'a>),
    /// `TYPE key`.
    Type(&'a [u8]),
    /// `KEYS pattern`.
    Keys(&'a [u8]),
    /// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]`.
    Scan(Scan<'a>),
    /// `EXPIRE` / `PEXPIRE`.
    Expire(Expire<'a>),
    /// `EXPIRETIME key` (`millis` false) or `PEXPIRETIME key` (`millis` true): the absolute Unix
    /// expiry time, -1 without expiry, -2 when absent.
    ExpireTime {
        /// The key.
        key: &'a [u8],
        /// Reply in milliseconds.
        millis: bool,
    },
    /// `PERSIST key`.
    Persist(&'a [u8]),
    /// `TTL key` (`millis` false) or `PTTL key` (`millis` true).
    Ttl {
        /// The key.
        key: &'a [u8],
        /// Reply in milliseconds.
        millis: bool,
    },
    /// `MGET key...`.
    Mget(Args<'a>),
    /// `MSET key value [key value ...]` (pairs, already checked to be even).
    Mset(Args<'a>),
    /// `MSETNX key value [key value ...]` (pairs, already checked to be even).
    MsetNx(Args<'a>),
    /// `RENAME key newkey` (`if_absent` false) or `RENAMENX` (`if_absent` true).
    Rename {
        /// The key to move.
        from: &'a [u8],
        /// Its new name.
        to: &'a [u8],
        /// `RENAMENX`: only when `to` does not exist.
        if_absent: bool,
    },
    /// `SETRANGE key offset value`: overwrites from `offset`, zero-padding; replies with the length.
    SetRange {
        /// The key.
        key: &'a [u8],
        /// Byte offset (at least 0).
        offset: usize,
        /// The bytes to write.
        value: &'a [u8],
    },
    /// `SETBIT key offset bit`: replies with the bit's previous value.
    SetBit {
        /// The key.
        key: &'a [u8],
        /// Bit offset, at most `2^32 - 1`.
        offset: u64,
        /// The new bit.
        bit: bool,
    },
    /// `INCRBYFLOAT key increment`: replies with the new value.
    IncrByFloat {
        /// The key.
        key: &'a [u8],
        /// The increment as sent (parsed with the stored value's precision).
        increment: &'a [u8],
    },
    /// `BITOP AND|OR|XOR|NOT destkey key...`: replies with the length of the result stored in `dest`.
    BitOp {
        /// The operation.
        op: BitOperation,
        /// Where the result goes.
        dest: &'a [u8],
        /// The source keys (one for `NOT`).
        sources: Args<'a>,
    },
    /// `COPY source destination [DB 0] [REPLACE]`: replies 1 when copied.
    Copy {
        /// The key to copy.
        from: &'a [u8],
        /// Where to.
        to: &'a [u8],
        /// Replace an existing destination.
        replace: bool,
    },
    /// `INCR`, `DECR`, `INCRBY`, `DECRBY`.
    IncrBy {
        /// The key.
        key: &'a [u8],
        /// What to add.
        delta: i64,
    },
    /// `DBSIZE`.
    DbSize,
    /// `FLUSHDB` / `FLUSHALL` (the `ASYNC`/`SYNC` flag is accepted and ignored).
    Flush,
    /// `INFO [section...]`.
    Info(Args<'a>),
    /// `COMMAND ...`.
    CommandInfo(CommandInfo<'a>),
    /// `CONFIG ...`.
    Config(Config<'a>),
    /// `TIME`.
    Time,
    /// `RESET`: back to a fresh connection's state (RESP2, no name, no transaction).
    Reset,
    /// `MULTI`: start queueing commands.
    Multi,
    /// `EXEC`: run the queued commands.
    Exec,
    /// `DISCARD`: drop the queued commands.
    Discard,
    /// `WATCH key...`: make the next `EXEC` abort if one of these keys changes first.
    Watch(Args<'a>),
    /// `UNWATCH`: forget every watched key.
    Unwatch,
    /// `GETBIT key offset`: the bit at `offset` (0 past the end or for a missing key).
    GetBit {
        /// The key.
        key: &'a [u8],
        /// The bit's position, 0 to 2^32 - 1.
        offset: u64,
    },
    /// `BITCOUNT key [start end [BYTE|BIT]]`: how many bits are set.
    BitCount(BitQuery<'a>),
    /// `BITPOS key bit [start [end [BYTE|BIT]]]`: the position of the first bit equal to `bit`.
    BitPos(BitQuery<'a>),
    /// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]`.
    Lcs(Lcs<'a>),
    /// `RANDOMKEY`: some key, or null when there is none.
    RandomKey,
    /// `OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key`, `OBJECT HELP`.
    Object(Object<'a>),
    /// `MEMORY USAGE key [SAMPLES n]`, `MEMORY HELP`.
    Memory(Memory<'a>),
    /// `DUMP key`: the value as a payload `RESTORE` accepts, null when absent.
    Dump(&'a [u8]),
    /// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`.
    Restore(Restore<'a>),
    /// `MOVE key db`: always an error with one database (which one depends on `db`).
    Move {
        /// The key.
        key: &'a [u8],
        /// The target database.
        db: i32,
    },
    /// `SWAPDB index1 index2`.
    SwapDb(i32, i32),
    /// `WAIT numreplicas timeout`: 0 at once (there are no replicas).
    Wait {
        /// Replicas asked for.
        replicas: i64,
        /// Milliseconds to wait (0: forever).
        timeout: i64,
    },
    /// `WAITAOF numlocal numreplicas timeout`.
    WaitAof {
        /// `numlocal` is 1: refused, there is no append-only file.
        local: bool,
    },
    /// `LASTSAVE`: when the server started.
    LastSave,
    /// `SAVE`: refused, no data is kept on disk.
    Save,
    /// `BGSAVE [SCHEDULE]`: refused, no data is kept on disk.
    BgSave,
    /// `ROLE`: a master without replicas.
    Role,
    /// `READONLY` / `READWRITE`: refused, cluster support is disabled.
    ClusterOnly,
    /// `SLOWLOG ...`.
    Slowlog(Slowlog),
    /// `LATENCY ...`.
    Latency(Latency<'a>),
    /// `CLUSTER.MEMBERS`: this node's view of the cluster.
    ClusterMembers,
    /// `CLUSTER.PARTITIONS`: the routing table, one entry per partition with its owners.
    ClusterPartitions,
}

/// What `COMMAND` and arity checks know about a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n > 0` exactly n arguments (name included), `n < 0` at least `-n`.
    pub arity: i64,
    /// Flags as `COMMAND` lists them (`write`, `readonly`, `fast`, ...).
    pub flags: &'static [&'static str],
    /// Position of the first key (0: none).
    pub first_key: i64,
    /// Position of the last key (-1: the last argument).
    pub last_key: i64,
    /// Step between keys.
    pub step: i64,
}

impl Spec {
    /// Whether the command writes (its flags include `write`).
    #[must_use]
    pub fn writes(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// Whether a successful call can change keys: a write command other than `SWAPDB` (with one
    /// database only `SWAPDB 0 0` succeeds, and it swaps nothing; `MOVE` never succeeds).
    #[must_use]
    pub fn changes_keys(&self) -> bool {
        self.writes() && self.name != "swapdb"
    }

    /// Whether Redis refuses the command inside `MULTI` (its flags include `no_multi`).
    #[must_use]
    pub fn refused_in_multi(&self) -> bool {
        self.flags.contains(&"no_multi")
    }

    /// Where the keys are in a call with `argc` arguments (the name included), from the key
    /// positions; empty for a command without keys.
    pub fn key_indexes(&self, argc: usize) -> impl Iterator<Item = usize> + use<> {
        let n = i64::try_from(argc).unwrap_or(i64::MAX);
        let last = if self.last_key < 0 {
            n + self.last_key
        } else {
            self.last_key.min(n - 1)
        };
        let first = if self.first_key == 0 {
            1
        } else {
            self.first_key
        };
        let last = if self.first_key == 0 { 0 } else { last };
        let step = usize::try_from(self.step.max(1)).unwrap_or(1);
        (first..=last)
            .step_by(step)
            .filter_map(|i| usize::try_from(i).ok())
    }
}

const fn spec(
    name: &'static str,
    arity: i64,
    flags: &'static [&'static str],
    keys: (i64, i64, i64),
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
    }
}

const NOKEY: (i64, i64, i64) = (0, 0, 0);
const KEY1: (i64, i64, i64) = (1, 1, 1);
const KEYS_ALL: (i64, i64, i64) = (1, -1, 1);
const R: &[&str] = &["readonly", "fast"];
const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "fast"];
const CONN: &[&str] = &["noscript", "loading", "stale", "fast", "no_auth"];
const ADMIN: &[&str] = &["loading", "stale"];
const TX: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];

/// Every command the server understands, sorted by name.
pub static COMMANDS: &[Spec] = &COMMAND_TABLE;

const COMMANDS_LEN: usize = 85;

const COMMAND_TABLE: [Spec; COMMANDS_LEN] = [
    spec("append", 3, W, KEY1),
    spec("auth", -2, CONN, NOKEY),
    spec(
        "bgsave",
        -1,
        &["admin", "noscript", "no_async_loading"],
        NOKEY,
    ),
    spec("bitcount", -2, &["readonly"], KEY1),
    spec("bitop", -4, W, (2, -1, 1)),
    spec("bitpos", -3, &["readonly"], KEY1),
    spec("client", -2, ADMIN, NOKEY),
    spec("cluster.members", 1, ADMIN, NOKEY),
    spec("cluster.partitions", 1, ADMIN, NOKEY),
    spec("command", -1, ADMIN, NOKEY),
    spec("config", -2, ADMIN, NOKEY),
    spec("copy", -3, &["write"], (1, 2, 1)),
    spec("dbsize", 1, R, NOKEY),
    spec("decr", 2, W, KEY1),
    spec("decrby", 3, W, KEY1),
    spec("del", -2, &["write"], KEYS_ALL),
    spec("discard", 1, TX, NOKEY),
    spec("dump", 2, &["readonly"], KEY1),
    spec("echo", 2, &["fast"], NOKEY),
    spec(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        NOKEY,
    ),
    spec("exists", -2, R, KEYS_ALL),
    spec("expire", -3, WF, KEY1),
    spec("expireat", -3, WF, KEY1),
    spec("expiretime", 2, R, KEY1),
    spec("flushall", -1, &["write"], NOKEY),
    spec("flushdb", -1, &["write"], NOKEY),
    spec("get", 2, R, KEY1),
    spec("getbit", 3, R, KEY1),
    spec("getdel", 2, WF, KEY1),
    spec("getex", -2, WF, KEY1),
    spec("getrange", 4, &["readonly"], KEY1),
    spec("getset", 3, W, KEY1),
    spec("hello", -1, CONN, NOKEY),
    spec("incr", 2, W, KEY1),
    spec("incrby", 3, W, KEY1),
    spec("incrbyfloat", 3, &["write", "denyoom", "fast"], KEY1),
    spec("info", -1, ADMIN, NOKEY),
    spec("keys", 2, &["readonly"], NOKEY),
    spec("lastsave", 1, &["loading", "stale", "fast"], NOKEY),
    spec("latency", -2, &[], NOKEY),
    spec("lcs", -3, &["readonly"], (1, 2, 1)),
    spec("memory", -2, &[], NOKEY),
    spec("mget", -2, R, KEYS_ALL),
    spec("move", 3, WF, KEY1),
    spec("mset", -3, W, (1, -1, 2)),
    spec("msetnx", -3, W, (1, -1, 2)),
    spec("multi", 1, TX, NOKEY),
    spec("object", -2, &[], NOKEY),
    spec("persist", 2, WF, KEY1),
    spec("pexpire", -3, WF, KEY1),
    spec("pexpireat", -3, WF, KEY1),
    spec("pexpiretime", 2, R, KEY1),
    spec("ping", -1, &["fast"], NOKEY),
    spec("psetex", 4, W, KEY1),
    spec("pttl", 2, R, KEY1),
    spec("quit", -1, CONN, NOKEY),
    spec("randomkey", 1, &["readonly"], NOKEY),
    spec("readonly", 1, &["loading", "stale", "fast"], NOKEY),
    spec("readwrite", 1, &["loading", "stale", "fast"], NOKEY),
    spec("rename", 3, &["write"], (1, 2, 1)),
    spec("renamenx", 3, WF, (1, 2, 1)),
    spec("reset", 1, CONN, NOKEY),
    spec("restore", -4, W, KEY1),
    spec("role", 1, &["noscript", "loading", "stale", "fast"], NOKEY),
    spec(
        "save",
        1,
        &["admin", "noscript", "no_async_loading", "no_multi"],
        NOKEY,
    ),
    spec("scan", -2, &["readonly"], NOKEY),
    spec("select", 2, &["loading", "stale", "fast"], NOKEY),
    spec("set", -3, W, KEY1),
    spec("setbit", 4, W, KEY1),
    spec("setex", 4, W, KEY1),
    spec("setnx", 3, W, KEY1),
    spec("setrange", 4, W, KEY1),
    spec("slowlog", -2, &[], NOKEY),
    spec("strlen", 2, R, KEY1),
    spec("substr", 4, &["readonly"], KEY1),
    spec("swapdb", 3, WF, NOKEY),
    spec("time", 1, &["loading", "stale", "fast"], NOKEY),
    spec("touch", -2, R, KEYS_ALL),
    spec("ttl", 2, R, KEY1),
    spec("type", 2, R, KEY1),
    spec("unlink", -2, WF, KEYS_ALL),
    spec("unwatch", 1, TX, NOKEY),
    spec("wait", 3, &["noscript"], NOKEY),
    spec("waitaof", 4, &["blocking"], NOKEY),
    spec("watch", -2, TX, KEYS_ALL),
];

/// The spec of the command named `name` (any case).
#[must_use]
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    lookup_index(name).map(|i| &COMMANDS[i])
}

/// The position in [`COMMANDS`] of the command named `name` (any case).
///
/// The first 16 bytes of the name are packed, lower-cased, into a `u128` and found by binary search over
/// integers precomputed at compile time: no string comparison on the hot path. The length must match
/// too, and the few names longer than 16 bytes (`cluster.partitions`) compare their remaining bytes.
#[must_use]
pub fn lookup_index(name: &[u8]) -> Option<usize> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return None;
    }
    let mut key = 0u128;
    for (i, b) in name.iter().take(16).enumerate() {
        key |= u128::from(b.to_ascii_lowercase()) << (8 * (15 - i));
    }
    let i = PACKED.binary_search(&key).ok()?;
    let spec = COMMANDS[i].name.as_bytes();
    if spec.len() != name.len() {
        return None;
    }
    if name.len() > 16 && !spec[16..].eq_ignore_ascii_case(&name[16..]) {
        return None;
    }
    Some(i)
}

/// The longest command name [`lookup_index`] accepts.
const MAX_NAME_LEN: usize = 32;

/// Packs the first 16 bytes (at most) big-endian, so integer order is byte order.
const fn pack(name: &str) -> u128 {
    let bytes = name.as_bytes();
    let mut key = 0u128;
    let mut i = 0;
    while i < bytes.len() && i < 16 {
        key |= (bytes[i] as u128) << (8 * (15 - i));
        i += 1;
    }
    key
}

/// [`COMMANDS`] names packed with [`pack`], in the same (sorted) order.
static PACKED: [u128; COMMANDS_LEN] = {
    let mut out = [0u128; COMMANDS_LEN];
    let mut i = 0;
    while i < COMMANDS_LEN {
        out[i] = pack(COMMAND_TABLE[i].name);
        i += 1;
    }
    out
};

impl<'a> Command<'a> {
    /// Parses a request (name first, any case).
    ///
    /// ```
    /// use relaycache_resp::{Args, Command};
    /// let raw: Vec<Vec<u8>> = vec![b"get".to_vec(), b"k".to_vec()];
    /// assert!(matches!(Command::parse(Args::from_owned(&raw)), Ok(Command::Get(b"k"))));
    /// let raw: Vec<Vec<u8>> = vec![b"GET".to_vec()];
    /// assert_eq!(
    ///     Command::parse(Args::from_owned(&raw)).unwrap_err().to_string(),
    ///     "ERR wrong number of arguments for 'get' command"
    /// );
    /// ```
    ///
    /// # Errors
    /// The [`CommandError`] to reply with: unknown command, wrong arity, syntax, bad numbers.
    pub fn parse(args: Args<'a>) -> Result<Command<'a>, CommandError> {
        Self::parse_indexed(args).1
    }

    /// Like [`parse`](Command::parse), also returning the command's position in [`COMMANDS`] (when the
    /// name is known, even if the arguments are wrong), so callers need not look the name up again.
    pub fn parse_indexed(args: Args<'a>) -> (Option<usize>, Result<Command<'a>, CommandError>) {
        let index = lookup_index(args.get(0).unwrap_or_default());
        let parsed = match index {
            Some(i) => Self::parse_spec(&COMMANDS[i], args),
            None => Err(CommandError::unknown(&args)),
        };
        (index, parsed)
    }

    fn parse_spec(spec: &'static Spec, args: Args<'a>) -> Result<Command<'a>, CommandError> {
        let n = args.len() as i64;
        if (spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity) {
            return Err(CommandError::Arity(spec.name));
        }
        let mut c = Cursor::new(args);
        let key = args.get(1).unwrap_or_default();
        Ok(match spec.name {
            "ping" => connection::ping(&mut c)?,
            "echo" => Command::Echo(key),
            "hello" => Command::Hello(connection::hello(&mut c)?),
            "auth" => connection::auth(&mut c)?,
            "quit" => Command::Quit,
            "select" => Command::Select(c.next_i64()?),
            "client" => Command::Client(connection::client(&mut c)?),
            "get" => Command::Get(key),
            "getdel" => Command::GetDel(key),
            "set" => Command::Set(set::set(&mut c)?),
            "setnx" => Command::SetNx(set::setnx(&mut c)?),
            "getset" => Command::Set(set::getset(&mut c)?),
            "getex" => {
                let (key, expiry) = set::getex(&mut c)?;
                Command::GetEx { key, expiry }
            }
            "strlen" => Command::Strlen(key),
            "getrange" | "substr" => {
                c.next_bytes()?;
                Command::GetRange {
                    key,
                    start: c.next_i64()?,
                    end: c.next_i64()?,
                }
            }
            "reset" => Command::Reset,
            "append" => Command::Append {
                key,
                value: args.get(2).unwrap_or_default(),
            },
            "setex" => Command::Set(set::setex(&mut c, "setex", 1000)?),
            "psetex" => Command::Set(set::setex(&mut c, "psetex", 1)?),
            "del" | "unlink" => Command::Del(args.skip(1)),
            "exists" | "touch" => Command::Exists(args.skip(1)),
            "type" => Command::Type(key),
            "keys" => Command::Keys(key),
            "scan" => Command::Scan(keys::scan(&mut c)?),
            "expire" => Command::Expire(expire::expire(&mut c, "expire", 1000, false)?),
            "pexpire" => Command::Expire(expire::expire(&mut c, "pexpire", 1, false)?),
            "expireat" => Command::Expire(expire::expire(&mut c, "expireat", 1000, true)?),
            "pexpireat" => Command::Expire(expire::expire(&mut c, "pexpireat", 1, true)?),
            "expiretime" => Command::ExpireTime { key, millis: false },
            "pexpiretime" => Command::ExpireTime { key, millis: true },
            "persist" => Command::Persist(key),
            "ttl" => Command::Ttl { key, millis: false },
            "pttl" => Command::Ttl { key, millis: true },
            "mget" => Command::Mget(args.skip(1)),
            "mset" => multi::mset(args)?,
            "msetnx" => match multi::mset(args) {
                Ok(Command::Mset(pairs)) => Command::MsetNx(pairs),
                _ => return Err(CommandError::Arity("msetnx")),
            },
            "rename" | "renamenx" => Command::Rename {
                from: key,
                to: args.get(2).unwrap_or_default(),
                if_absent: spec.name == "renamenx",
            },
            "setrange" => update::setrange(&mut c)?,
            "setbit" => update::setbit(&mut c)?,
            "incrbyfloat" => Command::IncrByFloat {
                key,
                increment: args.get(2).unwrap_or_default(),
            },
            "copy" => update::copy(&mut c)?,
            "bitop" => update::bitop(args)?,
            "incr" => Command::IncrBy { key, delta: 1 },
            "decr" => Command::IncrBy { key, delta: -1 },
            "incrby" | "decrby" => incr::incrby(&mut c, spec.name == "decrby")?,
            "dbsize" => Command::DbSize,
            "flushdb" | "flushall" => server::flush(&mut c)?,
            "info" => Command::Info(args.skip(1)),
            "command" => Command::CommandInfo(server::command(&mut c)?),
            "config" => Command::Config(server::config(&mut c)?),
            "time" => Command::Time,
            "multi" => Command::Multi,
            "exec" => Command::Exec,
            "discard" => Command::Discard,
            "watch" => Command::Watch(args.skip(1)),
            "unwatch" => Command::Unwatch,
            "getbit" => bits::getbit(&mut c)?,
            "bitcount" => bits::bitcount(&mut c),
            "bitpos" => bits::bitpos(&mut c)?,
            "lcs" => lcs::lcs(&mut c)?,
            "randomkey" => Command::RandomKey,
            "object" => object::object(&mut c)?,
            "memory" => object::memory(&mut c)?,
            "dump" => Command::Dump(key),
            "restore" => object::restore(&mut c)?,
            "move" => admin::move_key(&mut c)?,
            "swapdb" => admin::swapdb(&mut c)?,
            "wait" => admin::wait(&mut c)?,
            "waitaof" => admin::waitaof(&mut c)?,
            "lastsave" => Command::LastSave,
            "save" => Command::Save,
            "bgsave" => admin::bgsave(&mut c)?,
            "role" => Command::Role,
            "readonly" | "readwrite" => Command::ClusterOnly,
            "slowlog" => admin::slowlog(&mut c)?,
            "latency" => admin::latency(&mut c)?,
            "cluster.members" => Command::ClusterMembers,
            "cluster.partitions" => Command::ClusterPartitions,
            _ => return Err(CommandError::unknown(&args)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_lookup_ignores_case() {
        assert!(COMMANDS.windows(2).all(|w| w[0].name < w[1].name));
        assert!(PACKED.windows(2).all(|w| w[0] < w[1]));
        assert!(COMMANDS.iter().all(|s| s.name.len() <= MAX_NAME_LEN));
        for (i, spec) in COMMANDS.iter().enumerate() {
            assert_eq!(
                lookup_index(spec.name.to_ascii_uppercase().as_bytes()),
                Some(i)
            );
        }
        assert_eq!(lookup_index(b""), None);
        assert_eq!(lookup_index(b"ge"), None);
        assert_eq!(lookup_index(b"gett"), None);
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert_eq!(lookup(b"nope"), None);
        assert_eq!(lookup(&[b'a'; 100]), None);
        assert_eq!(
            lookup(b"get\0"),
            None,
            "the length must match, not only the packed prefix"
        );
        assert_eq!(
            lookup(b"CLUSTER.Partitions").map(|s| s.name),
            Some("cluster.partitions")
        );
        assert_eq!(lookup(b"cluster.partitio"), None);
        assert_eq!(lookup(b"cluster.partitionz"), None);
        assert_eq!(lookup(b"cluster.partitionss"), None);
    }

    pub(crate) fn parse_words(words: &[&str]) -> Result<String, String> {
        let raw: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        Command::parse(Args::from_owned(&raw))
            .map(|c| format!("{c:?}"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn cluster_commands_take_no_argument() {
        assert_eq!(parse_words(&["cluster.members"]).unwrap(), "ClusterMembers");
        assert_eq!(
            parse_words(&["CLUSTER.PARTITIONS"]).unwrap(),
            "ClusterPartitions"
        );
        assert_eq!(
            parse_words(&["cluster.partitions", "x"]).unwrap_err(),
            "ERR wrong number of arguments for 'cluster.partitions' command"
        );
    }

    #[test]
    fn unknown_command_text() {
        assert_eq!(
            parse_words(&["foo", "a", "b"]).unwrap_err(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            parse_words(&["foo"]).unwrap_err(),
            "ERR unknown command 'foo', with args beginning with: "
        );
    }
}
