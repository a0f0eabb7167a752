//! [`Prefetched`]: a run of plain `GET`s (or plain `SET`s) in a client's pipeline, sent to a backend
//! that lives across the network (`ha`, `redis`) as one batch instead of one round trip per command.
//!
//! When a command is about to run and the client has already sent more, the connection looks at the
//! complete requests buffered behind it. A run of at least two `GET key` (or `SET key value`, with no
//! key twice) starting at this command is sent as one `get_multi` (or `set_multi`), and each command of
//! the run then answers from the batch's result as it comes up, in order (each checked against the key
//! the batch ran for it). The run holds only reads (or only writes of distinct keys), and it is sent
//! when its first command would have run, so the replies are those of running the commands one after
//! the other. A batch that fails is forgotten and the
//! commands run one by one, each reporting its own error.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use relaycache::KeyOps;
use relaycache_resp::{Limits, RequestDecoder};

/// The longest run sent as one batch.
const MAX_RUN: usize = 256;

/// The current run: which commands it holds, and the batch's answers to its `GET`s.
#[derive(Debug, Default)]
pub(crate) struct Prefetched {
    /// True when the run is `GET`s, false for `SET`s.
    gets: bool,
    /// The keys of the run's commands not yet answered, one after the other (`lens` cuts them;
    /// `at` is where the next one starts). Reused from run to run, so a run allocates nothing here.
    keys: Vec<u8>,
    lens: VecDeque<usize>,
    at: usize,
    /// The hits of a run of `GET`s, by key (a key of the run that is not here was a miss).
    found: HashMap<Bytes, Bytes>,
}

impl Prefetched {
    /// True when no command of a run is waiting for its answer.
    pub(crate) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// Whether the next command of the run is one of its kind (`GET` when `get`) on `key`; if so, it
    /// is taken off the run.
    fn take(&mut self, get: bool, key: &[u8]) -> bool {
        let Some(&len) = self.lens.front() else {
            return false;
        };
        if self.gets != get || self.keys.get(self.at..self.at + len) != Some(key) {
            return false;
        }
        self.lens.pop_front();
        self.at += len;
        true
    }

    /// The batch's answer for `GET key` (`Some(None)`: a miss), if that command is the next of the run.
    /// A key asked twice in the run gets the same answer both times: both reads happened when the batch
    /// ran, after the client had sent them.
    pub(crate) fn take_get(&mut self, key: &[u8]) -> Option<Option<Bytes>> {
        if !self.take(true, key) {
            return None;
        }
        let value = self.found.get(key).cloned();
        if self.lens.is_empty() {
            self.clear();
        }
        Some(value)
    }

    /// True when `SET key value` is the next command of the run (already written).
    pub(crate) fn take_set(&mut self, key: &[u8]) -> bool {
        self.take(false, key)
    }

    /// Forgets what is left (a run cut short).
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.lens.clear();
        self.at = 0;
        self.found.clear();
    }

    /// Looks at the complete requests in `input` (the first being the next to run) and, for a run of
    /// plain `GET`s or `SET`s, sends it to `cache` as one batch. Keys and values are read in place:
    /// the backend copies what it keeps.
    pub(crate) async fn prepare<C: KeyOps>(&mut self, cache: &C, input: &[u8], limits: Limits) {
        let mut decoder = RequestDecoder::new(limits);
        let mut offset = 0;
        let mut kind: Option<bool> = None; // Some(true): GETs, Some(false): SETs
        // Where each key (and value) lies in `input`.
        let mut keys: Vec<std::ops::Range<usize>> = Vec::new();
        let mut values: Vec<std::ops::Range<usize>> = Vec::new();
        let at = |r: std::ops::Range<usize>, base: usize| r.start + base..r.end + base;
        while keys.len() < MAX_RUN && offset < input.len() {
            let Ok(Some(request)) = decoder.decode(&input[offset..]) else {
                break;
            };
            let args = request.args;
            let word = args.get(0).unwrap_or_default();
            let this = if args.len() == 2 && word.eq_ignore_ascii_case(b"get") {
                true
            } else if args.len() == 3 && word.eq_ignore_ascii_case(b"set") {
                false
            } else {
                break;
            };
            if kind.is_some_and(|k| k != this) {
                break;
            }
            // An inline command's arguments are not in `input`: it ends the run.
            let Some(key) = args.range(1).map(|r| at(r, offset)) else {
                break;
            };
            if !this && keys.iter().any(|k| input[k.clone()] == input[key.clone()]) {
                break;
            }
            if !this {
                let Some(value) = args.range(2).map(|r| at(r, offset)) else {
                    break;
                };
                values.push(value);
            }
            kind = Some(this);
            keys.push(key);
            offset += request.consumed;
        }
        let keys: Vec<&[u8]> = keys.into_iter().map(|r| &input[r]).collect();
        if keys.len() < 2 {
            return;
        }
        let gets = kind == Some(true);
        self.clear();
        let sent = if gets {
            match cache.get_multi(&keys).await {
                Ok(found) => {
                    self.found = found;
                    true
                }
                Err(_) => false,
            }
        } else {
            let items: Vec<(&[u8], &[u8])> = keys
                .iter()
                .copied()
                .zip(values.into_iter().map(|r| &input[r]))
                .collect();
            cache.set_multi(&items).await.is_ok()
        };
        if sent {
            self.gets = gets;
            for key in &keys {
                self.keys.extend_from_slice(key);
                self.lens.push_back(key.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use relaycache::Cache;
    use relaycache::backend::SingleCache;
    use relaycache::config::SingleConfig;

    use super::*;

    fn commands(parts: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for args in parts {
            out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for a in *args {
                out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
            }
        }
        out
    }

    #[tokio::test]
    async fn a_run_of_gets_answers_each_in_order_and_checks_its_key() {
        let cache = SingleCache::new(&SingleConfig::default()).expect("cache");
        cache.set(b"a", b"1").await.expect("set");
        let input = commands(&[&["GET", "a"], &["get", "b"], &["GET", "a"], &["DEL", "a"]]);
        let mut p = Prefetched::default();
        p.prepare(&cache, &input, Limits::default()).await;
        assert!(!p.is_empty());
        // Out of order: not the run's next command, so it runs as usual.
        assert_eq!(p.take_get(b"b"), None);
        assert!(!p.take_set(b"a"), "the run holds GETs");
        assert_eq!(p.take_get(b"a"), Some(Some(Bytes::from_static(b"1"))));
        assert_eq!(p.take_get(b"b"), Some(None));
        assert_eq!(p.take_get(b"a"), Some(Some(Bytes::from_static(b"1"))));
        assert!(p.is_empty(), "DEL ends the run");
        assert_eq!(p.take_get(b"a"), None);
    }

    #[tokio::test]
    async fn a_run_of_sets_stops_at_a_repeated_key_and_at_an_inline_command() {
        let cache = SingleCache::new(&SingleConfig::default()).expect("cache");
        let mut input = commands(&[&["SET", "a", "1"], &["SET", "b", "2"], &["SET", "a", "3"]]);
        let mut p = Prefetched::default();
        p.prepare(&cache, &input, Limits::default()).await;
        assert!(p.take_set(b"a") && p.take_set(b"b"));
        assert!(p.is_empty(), "the second SET of a is not in the run");
        assert_eq!(cache.get(b"a").await.expect("written"), "1");
        assert_eq!(cache.get(b"b").await.expect("written"), "2");
        // An inline command's arguments are not in the input buffer: it ends the run, here before
        // a second command, so nothing is sent.
        input = commands(&[&["SET", "c", "1"]]);
        input.extend_from_slice(b"SET d 2\r\n");
        p.prepare(&cache, &input, Limits::default()).await;
        assert!(p.is_empty());
        assert!(cache.get(b"c").await.is_err(), "a run of one is not sent");
    }
}
