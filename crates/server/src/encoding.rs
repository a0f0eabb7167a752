//! `OBJECT ENCODING` as Redis decides it.
//!
//! The bytes of a value decide its encoding when the value was written whole (`SET`, `MSET`, `INCR`,
//! `RESTORE` ...): `int` for a canonical 64-bit integer, `embstr` up to 44 bytes, `raw` beyond. Redis
//! also keeps a history in the object: a value that `APPEND` (of an existing key), `SETRANGE`,
//! `SETBIT` or `BITOP` produced is `raw` whatever it holds, and an `INCRBYFLOAT` result is a string
//! (`embstr` or `raw`) even when it reads as an integer. `COPY` and `RENAME` carry the encoding along;
//! `EXPIRE`, `PERSIST` and `GETEX` keep it.
//!
//! [`Encodings`] remembers those keys for this server: the commands above mark them, with the length
//! of the value they left where they know it, and every other write command run through this server
//! forgets the keys it names (`FLUSHDB` forgets all). A mark whose length no longer matches the value
//! (a write through another server or node) is ignored. At most [`MAX_KEYS`] keys are remembered;
//! beyond that the bytes decide. When no key is marked, a write pays one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use relaycache_resp::Args;
use relaycache_resp::cmd::Spec;

/// Most keys whose encoding is remembered.
pub(crate) const MAX_KEYS: usize = 65_536;

/// Longest value Redis stores embedded in its object header (`embstr`).
const EMBSTR_MAX: usize = 44;

/// What a command made of a value, beyond what its bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Made {
    /// Modified in place (`APPEND`, `SETRANGE`, `SETBIT`, `BITOP`): `raw`.
    Raw,
    /// Written as a string (`INCRBYFLOAT`): never `int`.
    Text,
}

/// Write commands that keep the encoding of their keys (they change the TTL only), or that update
/// [`Encodings`] themselves.
const MANAGED: &[&str] = &[
    "append",
    "bitop",
    "copy",
    "expire",
    "expireat",
    "getex",
    "incrbyfloat",
    "persist",
    "pexpire",
    "pexpireat",
    "rename",
    "renamenx",
    "setbit",
    "setrange",
];

/// How a marked value was made, and its length when the command that made it knew it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    made: Made,
    len: Option<usize>,
}

/// The keys of this server whose values Redis would encode otherwise than their bytes say.
#[derive(Debug, Default)]
pub(crate) struct Encodings {
    /// Some key is marked (so writes must look).
    any: AtomicBool,
    keys: Mutex<HashMap<Vec<u8>, Mark>>,
}

impl Encodings {
    fn lock(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Mark>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `key` now holds a value `made` so, `len` bytes long if known (when fewer than
    /// [`MAX_KEYS`] are marked).
    pub(crate) fn mark(&self, key: &[u8], made: Made, len: Option<usize>) {
        let mut keys = self.lock();
        if keys.len() < MAX_KEYS || keys.contains_key(key) {
            keys.insert(key.to_vec(), Mark { made, len });
            self.any.store(true, Ordering::Release);
        }
    }

    /// Forgets `key`: its bytes decide again.
    pub(crate) fn forget(&self, key: &[u8]) {
        if self.any.load(Ordering::Acquire) {
            self.lock().remove(key);
        }
    }

    /// `RENAME from to` succeeded: the mark moves with the value.
    pub(crate) fn moved(&self, from: &[u8], to: &[u8]) {
        if self.any.load(Ordering::Acquire) {
            let mut keys = self.lock();
            match keys.remove(from) {
                Some(mark) => keys.insert(to.to_vec(), mark),
                None => keys.remove(to),
            };
        }
    }

    /// `COPY from to` succeeded: `to` is encoded as `from` is.
    pub(crate) fn copied(&self, from: &[u8], to: &[u8]) {
        if self.any.load(Ordering::Acquire) {
            let mut keys = self.lock();
            match keys.get(from).copied() {
                Some(mark) => keys.insert(to.to_vec(), mark),
                None => keys.remove(to),
            };
        }
    }

    /// After a command of `spec` with `args` ran without error: a write command that does not manage
    /// the marks itself forgets the keys it names (all of them when it names none: `FLUSHDB`).
    pub(crate) fn after_command(&self, spec: &Spec, args: Args<'_>) {
        if !self.any.load(Ordering::Acquire) || !spec.changes_keys() || MANAGED.contains(&spec.name)
        {
            return;
        }
        let mut keys = self.lock();
        if spec.first_key == 0 {
            keys.clear();
        } else {
            for i in spec.key_indexes(args.len()) {
                if let Some(key) = args.get(i) {
                    keys.remove(key);
                }
            }
        }
        if keys.is_empty() {
            self.any.store(false, Ordering::Release);
        }
    }

    /// The encoding Redis would report for `key` holding `value`.
    pub(crate) fn of(&self, key: &[u8], value: &[u8]) -> &'static str {
        let made = if self.any.load(Ordering::Acquire) {
            self.lock()
                .get(key)
                .filter(|m| m.len.is_none_or(|len| len == value.len()))
                .map(|m| m.made)
        } else {
            None
        };
        match made {
            Some(Made::Raw) => "raw",
            Some(Made::Text) if value.len() <= EMBSTR_MAX => "embstr",
            Some(Made::Text) => "raw",
            None => from_bytes(value),
        }
    }
}

/// How Redis encodes a string value written whole: `int` for a canonical decimal `i64` of at most 20
/// bytes, `embstr` up to 44 bytes, `raw` beyond.
pub(crate) fn from_bytes(value: &[u8]) -> &'static str {
    let canonical_int = value.len() <= 20
        && std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse::<i64>().ok().map(|n| n.to_string() == s))
            .unwrap_or(false);
    if canonical_int {
        "int"
    } else if value.len() <= EMBSTR_MAX {
        "embstr"
    } else {
        "raw"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relaycache_resp::cmd::lookup;

    fn run(encodings: &Encodings, words: &[&str]) {
        let raw: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let spec = lookup(raw[0].as_slice()).expect("known command");
        encodings.after_command(spec, Args::from_owned(&raw));
    }

    #[test]
    fn bytes_decide_values_written_whole() {
        for int in [
            "0",
            "-1",
            "123",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert_eq!(from_bytes(int.as_bytes()), "int", "{int}");
        }
        for embstr in [
            "",
            "01",
            "+1",
            "-0",
            " 1",
            "1.5",
            "9223372036854775808",
            "hello",
        ] {
            assert_eq!(from_bytes(embstr.as_bytes()), "embstr", "{embstr}");
        }
        assert_eq!(from_bytes(&[b'a'; 44]), "embstr");
        assert_eq!(from_bytes(&[b'a'; 45]), "raw");
    }

    #[test]
    fn marks_follow_the_value_until_a_whole_write() {
        let e = Encodings::default();
        assert_eq!(e.of(b"n", b"12"), "int");
        e.mark(b"n", Made::Raw, Some(2));
        assert_eq!(e.of(b"n", b"12"), "raw");
        run(&e, &["expire", "n", "10"]);
        assert_eq!(e.of(b"n", b"12"), "raw", "EXPIRE keeps the encoding");
        e.copied(b"n", b"c");
        e.moved(b"c", b"r");
        assert_eq!(e.of(b"c", b"12"), "int", "the mark moved away from c");
        assert_eq!(e.of(b"r", b"12"), "raw");
        run(&e, &["mset", "x", "n", "n", "5"]);
        assert_eq!(e.of(b"n", b"5"), "int", "MSET wrote n whole");
        assert_eq!(e.of(b"r", b"12"), "raw", "MSET's value 'n' is no key");
        e.mark(b"f", Made::Text, None);
        assert_eq!(e.of(b"f", b"3"), "embstr");
        assert_eq!(e.of(b"f", "1".repeat(45).as_bytes()), "raw");
        e.mark(b"g", Made::Raw, Some(3));
        assert_eq!(e.of(b"g", b"123"), "raw");
        assert_eq!(
            e.of(b"g", b"1234"),
            "int",
            "a value of another length was written elsewhere"
        );
        run(&e, &["flushdb"]);
        assert_eq!(e.of(b"r", b"12"), "int");
        assert!(!e.any.load(Ordering::Acquire), "nothing marked any more");
    }

    #[test]
    fn at_most_max_keys_are_marked() {
        let e = Encodings::default();
        for i in 0..MAX_KEYS + 10 {
            e.mark(format!("k{i}").as_bytes(), Made::Raw, None);
        }
        assert_eq!(e.lock().len(), MAX_KEYS);
        assert_eq!(e.of(format!("k{}", MAX_KEYS + 5).as_bytes(), b"1"), "int");
    }
}
