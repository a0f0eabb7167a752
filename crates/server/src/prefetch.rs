//! [`Prefetched`]: a run of plain `GET`s (or plain `SET`s) in a client's pipeline, sent to a backend
//! that lives across the network (`ha`, `redis`) as one batch instead of one round trip per command.
//!
//! When a command is about to run and the client has already sent more, the connection looks at the
//! complete requests buffered behind it. A run of at least two `GET key` (or `SET key value`, with no
//! key twice) starting at this command is sent as one `get_multi` (or `set_multi`), and each command of
//! the run then answers from the batch's result as it comes up, in order. The run holds only reads (or
//! only writes of distinct keys), and it is sent when its first command would have run, so the replies
//! are those of running the commands one after the other. A batch that fails is forgotten and the
//! commands run one by one, each reporting its own error.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use relaycache::KeyOps;
use relaycache_resp::{Limits, RequestDecoder};

/// The longest run sent as one batch.
const MAX_RUN: usize = 256;

/// Results of the batch of the current run, consumed by the run's commands.
#[derive(Debug, Default)]
pub(crate) struct Prefetched {
    /// `GET`s of the run: key → value (`None`: a miss).
    gets: HashMap<Bytes, Option<Bytes>>,
    /// `SET`s of the run already written, in order.
    sets: VecDeque<Bytes>,
}

impl Prefetched {
    /// True when no batch result is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.gets.is_empty() && self.sets.is_empty()
    }

    /// The batch's answer for `GET key`, if the key was part of the run.
    pub(crate) fn take_get(&mut self, key: &[u8]) -> Option<Option<Bytes>> {
        self.gets.remove(key)
    }

    /// True when `SET key value` is the next write of the run (already written).
    pub(crate) fn take_set(&mut self, key: &[u8]) -> bool {
        if self.sets.front().is_some_and(|k| k == key) {
            self.sets.pop_front();
            true
        } else {
            false
        }
    }

    /// Forgets what is left (a run cut short).
    pub(crate) fn clear(&mut self) {
        self.gets.clear();
        self.sets.clear();
    }

    /// Looks at the complete requests in `input` (the first being the next to run) and, for a run of
    /// plain `GET`s or `SET`s, sends it to `cache` as one batch.
    pub(crate) async fn prepare<C: KeyOps>(&mut self, cache: &C, input: &[u8], limits: Limits) {
        let mut decoder = RequestDecoder::new(limits);
        let mut offset = 0;
        let mut kind: Option<bool> = None; // Some(true): GETs, Some(false): SETs
        let mut keys: Vec<Bytes> = Vec::new();
        let mut values: Vec<Bytes> = Vec::new();
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
            kind = Some(this);
            let key = args.get(1).unwrap_or_default();
            if !this && keys.iter().any(|k| k == key) {
                break;
            }
            keys.push(Bytes::copy_from_slice(key));
            if !this {
                values.push(Bytes::copy_from_slice(args.get(2).unwrap_or_default()));
            }
            offset += request.consumed;
        }
        if keys.len() < 2 {
            return;
        }
        if kind == Some(true) {
            let wanted: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
            if let Ok(mut found) = cache.get_multi(&wanted).await {
                for key in keys {
                    // A key asked twice: its first GET takes the answer, the second runs as usual.
                    if let std::collections::hash_map::Entry::Vacant(slot) = self.gets.entry(key) {
                        let value = found.remove(slot.key());
                        slot.insert(value);
                    }
                }
            }
        } else {
            let items: Vec<(&[u8], &[u8])> = keys
                .iter()
                .zip(&values)
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .collect();
            if cache.set_multi(&items).await.is_ok() {
                self.sets = keys.into();
            }
        }
    }
}
