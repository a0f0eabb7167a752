//! Recorded operations and the checks of an acceptable history.
//!
//! Every operation a client made is an [`Op`]: who, on which node, what, the value written (unique
//! across the run), when it started and ended (since the run's start) and its [`Outcome`]. The checks:
//!
//! - [`History::unwritten_values`]: a read returned a value no write of that key wrote (or one whose write
//!   had not started yet);
//! - [`History::refused_visible`]: a read returned a value whose write was refused with the member count
//!   quorum error (a refused write is "not made", docs/cluster.md);
//! - [`History::slow_ops`]: an operation took longer than the client timeout plus slack;
//! - [`History::unexplained_errors`]: an error that is neither a RESP error nor a timeout nor a
//!   connection failure (a wrong reply type, say);
//! - [`History::stale_reads`] and [`History::older_than_acknowledged`]: a read (or the final read of a
//!   key) returned a value older than a write acknowledged before it started: a miss although a write
//!   was acknowledged, or a write that ended before an acknowledged one began.
//!
//! Versions are hybrid logical clocks with millisecond resolution and all nodes share this machine's
//! clock, so two writes more than [`HLC_SLACK`] apart in real time are ordered the same way by version.
//! A write that failed or timed out may have taken effect at any time ("indeterminate"): it is never
//! older than anything.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Real-time separation beyond which two writes are ordered by their versions too.
pub const HLC_SLACK: Duration = Duration::from_millis(2);

/// What an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SET key value`.
    Set,
    /// `GET key`.
    Get,
}

/// Why an operation failed, from the error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// `member count quorum not reached`: refused, not made.
    MemberQuorum,
    /// `write quorum not reached`: may have been stored on some owners.
    WriteQuorum,
    /// `read quorum not reached`.
    ReadQuorum,
    /// A node-to-node request timed out (`... timed out after ...`).
    ServerTimeout,
    /// A node could not reach another (`connection to ... failed`).
    ServerConnection,
    /// The node is closing or leaving.
    Closed,
    /// Any other RESP error.
    OtherResp,
    /// Our client could not connect to the node: the command was not sent.
    ClientConnect,
    /// Our client's connection broke after sending.
    ClientIo,
    /// No answer within the client timeout.
    ClientTimeout,
    /// An answer of the wrong type (never acceptable).
    Unexpected,
}

impl ErrorClass {
    /// Classifies a RESP error text.
    #[must_use]
    pub fn of_resp(text: &str) -> ErrorClass {
        if text.contains("member count quorum not reached") {
            ErrorClass::MemberQuorum
        } else if text.contains("write quorum not reached") {
            ErrorClass::WriteQuorum
        } else if text.contains("read quorum not reached") {
            ErrorClass::ReadQuorum
        } else if text.contains("timed out") {
            ErrorClass::ServerTimeout
        } else if text.contains("connection to") {
            ErrorClass::ServerConnection
        } else if text.contains("closed") || text.contains("leaving") {
            ErrorClass::Closed
        } else {
            ErrorClass::OtherResp
        }
    }

    /// True when the operation certainly did not take effect.
    #[must_use]
    pub fn not_made(self) -> bool {
        matches!(self, ErrorClass::MemberQuorum | ErrorClass::ClientConnect)
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `SET` answered `OK`.
    Ok,
    /// `GET` returned this value.
    Value(String),
    /// `GET` returned nil.
    Miss,
    /// It failed: the class and the text.
    Failed(ErrorClass, String),
}

/// One recorded operation.
#[derive(Debug, Clone)]
pub struct Op {
    /// The client that made it.
    pub client: u32,
    /// The node it was sent to.
    pub node: usize,
    /// `SET` or `GET`.
    pub kind: Kind,
    /// The key.
    pub key: String,
    /// The value written (`SET`).
    pub value: Option<String>,
    /// Start, since the run's start.
    pub start: Duration,
    /// End, since the run's start.
    pub end: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

impl Op {
    /// True for a `SET` answered `OK`.
    #[must_use]
    pub fn acknowledged(&self) -> bool {
        self.kind == Kind::Set && self.outcome == Outcome::Ok
    }

    /// The error class, when it failed.
    #[must_use]
    pub fn error(&self) -> Option<ErrorClass> {
        match &self.outcome {
            Outcome::Failed(class, _) => Some(*class),
            _ => None,
        }
    }

    /// A one-line description for reports.
    #[must_use]
    pub fn describe(&self) -> String {
        let what = match self.kind {
            Kind::Set => format!("SET {} {}", self.key, self.value.as_deref().unwrap_or("")),
            Kind::Get => format!("GET {}", self.key),
        };
        let outcome = match &self.outcome {
            Outcome::Ok => "OK".to_owned(),
            Outcome::Value(v) => format!("-> {v}"),
            Outcome::Miss => "-> (nil)".to_owned(),
            Outcome::Failed(class, text) => format!("failed {class:?}: {text}"),
        };
        format!(
            "c{} via n{} [{:.3}s..{:.3}s] {what} {outcome}",
            self.client,
            self.node,
            self.start.as_secs_f64(),
            self.end.as_secs_f64()
        )
    }
}

/// A finished run's operations, indexed for the checks.
pub struct History {
    /// Every operation, in the order they ended.
    pub ops: Vec<Op>,
    /// Index of the `SET` of each value.
    by_value: HashMap<String, usize>,
    /// Indices of the acknowledged `SET`s of each key.
    acked: HashMap<String, Vec<usize>>,
}

/// End of a write for ordering: its end when acknowledged, never for an indeterminate one.
fn write_end(op: &Op) -> Duration {
    if op.acknowledged() {
        op.end
    } else {
        Duration::MAX
    }
}

impl History {
    /// Indexes `ops`.
    #[must_use]
    pub fn new(ops: Vec<Op>) -> History {
        let mut by_value = HashMap::new();
        let mut acked: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            if op.kind == Kind::Set {
                if let Some(v) = &op.value {
                    by_value.insert(v.clone(), i);
                }
                if op.acknowledged() {
                    acked.entry(op.key.clone()).or_default().push(i);
                }
            }
        }
        History {
            ops,
            by_value,
            acked,
        }
    }

    /// The `SET` that wrote `value`.
    #[must_use]
    pub fn write_of(&self, value: &str) -> Option<&Op> {
        self.by_value.get(value).map(|&i| &self.ops[i])
    }

    /// Every key that has an acknowledged write.
    pub fn acknowledged_keys(&self) -> impl Iterator<Item = &String> {
        self.acked.keys()
    }

    /// Reads that returned a value never written to their key, or written only after the read ended.
    #[must_use]
    pub fn unwritten_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        for op in &self.ops {
            let Outcome::Value(v) = &op.outcome else {
                continue;
            };
            match self.write_of(v) {
                None => out.push(format!("value never written: {}", op.describe())),
                Some(w) if w.key != op.key => out.push(format!(
                    "value of another key ({}): {}",
                    w.key,
                    op.describe()
                )),
                Some(w) if w.start > op.end => out.push(format!(
                    "value read before its write started ({}): {}",
                    w.describe(),
                    op.describe()
                )),
                Some(_) => {}
            }
        }
        out
    }

    /// Reads that returned the value of a write refused with the member count quorum error.
    #[must_use]
    pub fn refused_visible(&self) -> Vec<String> {
        let mut out = Vec::new();
        for op in &self.ops {
            let Outcome::Value(v) = &op.outcome else {
                continue;
            };
            if let Some(w) = self.write_of(v) {
                if w.error().is_some_and(ErrorClass::not_made) {
                    out.push(format!(
                        "refused write became visible ({}): {}",
                        w.describe(),
                        op.describe()
                    ));
                }
            }
        }
        out
    }

    /// Operations that took longer than `limit`.
    #[must_use]
    pub fn slow_ops(&self, limit: Duration) -> Vec<String> {
        self.ops
            .iter()
            .filter(|op| op.end.saturating_sub(op.start) > limit)
            .map(|op| format!("took longer than {limit:?}: {}", op.describe()))
            .collect()
    }

    /// Failures that are not an explicit error.
    #[must_use]
    pub fn unexplained_errors(&self) -> Vec<String> {
        self.ops
            .iter()
            .filter(|op| op.error() == Some(ErrorClass::Unexpected))
            .map(|op| format!("unexpected reply: {}", op.describe()))
            .collect()
    }

    /// Why returning `found` for `key` at a read that started at `read_start` is older than a write
    /// acknowledged before it (only writes accepted by `counts` are considered); `None` when it is not.
    #[must_use]
    pub fn older_than_acknowledged(
        &self,
        key: &str,
        found: Option<&str>,
        read_start: Duration,
        counts: &dyn Fn(&Op) -> bool,
    ) -> Option<String> {
        let acked = self.acked.get(key)?;
        let before = acked
            .iter()
            .map(|&i| &self.ops[i])
            .filter(|a| a.end + HLC_SLACK < read_start && counts(a));
        let found_end = match found {
            None => None,
            Some(v) => match self.write_of(v) {
                Some(w) => Some(write_end(w)),
                None => return Some(format!("{key}: value {v} was never written")),
            },
        };
        let mut newest: Option<&Op> = None;
        for a in before {
            let newer = match found_end {
                None => true,
                Some(end) => end != Duration::MAX && a.start > end + HLC_SLACK,
            };
            if newer && newest.is_none_or(|n| a.start > n.start) {
                newest = Some(a);
            }
        }
        let a = newest?;
        let got = match found {
            None => "(nil)".to_owned(),
            Some(v) => self.write_of(v).map_or_else(|| v.to_owned(), Op::describe),
        };
        Some(format!(
            "{key}: got {got}, older than the acknowledged {}",
            a.describe()
        ))
    }

    /// Reads accepted by `reads` that returned something older than a write acknowledged before they
    /// started (among the writes accepted by `writes`).
    #[must_use]
    pub fn stale_reads(
        &self,
        reads: &dyn Fn(&Op) -> bool,
        writes: &dyn Fn(&Op) -> bool,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for op in &self.ops {
            if op.kind != Kind::Get || !reads(op) {
                continue;
            }
            let found = match &op.outcome {
                Outcome::Value(v) => Some(v.as_str()),
                Outcome::Miss => None,
                _ => continue,
            };
            if let Some(why) = self.older_than_acknowledged(&op.key, found, op.start, writes) {
                out.push(format!(
                    "stale read via n{} at {:.3}s: {why}",
                    op.node,
                    op.start.as_secs_f64()
                ));
            }
        }
        out
    }

    /// Counts of operations by outcome, for reports.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut ok = 0;
        let mut hits = 0;
        let mut misses = 0;
        let mut errors: HashMap<ErrorClass, usize> = HashMap::new();
        for op in &self.ops {
            match &op.outcome {
                Outcome::Ok => ok += 1,
                Outcome::Value(_) => hits += 1,
                Outcome::Miss => misses += 1,
                Outcome::Failed(class, _) => *errors.entry(*class).or_default() += 1,
            }
        }
        let mut errors: Vec<_> = errors.into_iter().collect();
        errors.sort();
        let mut out = format!(
            "{} ops: {ok} SET ok, {hits} GET hits, {misses} GET misses",
            self.ops.len()
        );
        for (class, n) in errors {
            let _ = write!(out, ", {n} {class:?}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn set(client: u32, key: &str, value: &str, start: u64, end: u64, outcome: Outcome) -> Op {
        Op {
            client,
            node: 0,
            kind: Kind::Set,
            key: key.to_owned(),
            value: Some(value.to_owned()),
            start: ms(start),
            end: ms(end),
            outcome,
        }
    }

    fn get(key: &str, start: u64, end: u64, outcome: Outcome) -> Op {
        Op {
            client: 9,
            node: 1,
            kind: Kind::Get,
            key: key.to_owned(),
            value: None,
            start: ms(start),
            end: ms(end),
            outcome,
        }
    }

    fn value(v: &str) -> Outcome {
        Outcome::Value(v.to_owned())
    }

    #[test]
    fn a_read_of_the_last_acknowledged_write_is_fine() {
        let h = History::new(vec![
            set(0, "k", "a", 0, 10, Outcome::Ok),
            set(0, "k", "b", 20, 30, Outcome::Ok),
            get("k", 40, 50, value("b")),
        ]);
        assert!(h.unwritten_values().is_empty());
        assert!(h.stale_reads(&|_| true, &|_| true).is_empty());
    }

    #[test]
    fn a_read_of_an_overwritten_value_is_stale() {
        let h = History::new(vec![
            set(0, "k", "a", 0, 10, Outcome::Ok),
            set(0, "k", "b", 20, 30, Outcome::Ok),
            get("k", 40, 50, value("a")),
        ]);
        assert_eq!(h.stale_reads(&|_| true, &|_| true).len(), 1);
        // Concurrent with the overwrite: either value is fine.
        let h = History::new(vec![
            set(0, "k", "a", 0, 10, Outcome::Ok),
            set(0, "k", "b", 20, 30, Outcome::Ok),
            get("k", 25, 50, value("a")),
        ]);
        assert!(h.stale_reads(&|_| true, &|_| true).is_empty());
    }

    #[test]
    fn a_miss_after_an_acknowledged_write_is_stale() {
        let h = History::new(vec![
            set(0, "k", "a", 0, 10, Outcome::Ok),
            get("k", 40, 50, Outcome::Miss),
        ]);
        assert_eq!(h.stale_reads(&|_| true, &|_| true).len(), 1);
        // Only unacknowledged writes: a miss is fine.
        let timeout = Outcome::Failed(ErrorClass::ClientTimeout, String::new());
        let h = History::new(vec![
            set(0, "k", "a", 0, 10, timeout),
            get("k", 40, 50, Outcome::Miss),
        ]);
        assert!(h.stale_reads(&|_| true, &|_| true).is_empty());
    }

    #[test]
    fn an_indeterminate_write_is_never_older() {
        let quorum = Outcome::Failed(
            ErrorClass::WriteQuorum,
            "write quorum not reached".to_owned(),
        );
        let h = History::new(vec![
            set(0, "k", "a", 0, 10, quorum),
            set(0, "k", "b", 20, 30, Outcome::Ok),
            get("k", 40, 50, value("a")),
        ]);
        assert!(h.stale_reads(&|_| true, &|_| true).is_empty());
        assert!(h.refused_visible().is_empty());
    }

    #[test]
    fn values_never_written_or_refused_are_caught() {
        let refused = Outcome::Failed(
            ErrorClass::MemberQuorum,
            "member count quorum not reached".to_owned(),
        );
        let h = History::new(vec![
            set(0, "k", "a", 0, 10, refused),
            set(0, "j", "b", 0, 10, Outcome::Ok),
            get("k", 20, 30, value("a")),
            get("k", 20, 30, value("zzz")),
            get("k", 20, 30, value("b")),
            get("j", 1, 2, value("b")),
        ]);
        assert_eq!(h.refused_visible().len(), 1);
        let unwritten = h.unwritten_values();
        assert_eq!(unwritten.len(), 2, "{unwritten:?}");
        assert!(unwritten[0].contains("never written"));
        assert!(unwritten[1].contains("another key"));
    }

    #[test]
    fn slow_and_unexpected_operations_are_caught() {
        let h = History::new(vec![
            get("k", 0, 5000, Outcome::Miss),
            get(
                "k",
                0,
                10,
                Outcome::Failed(ErrorClass::Unexpected, "Int(1)".to_owned()),
            ),
        ]);
        assert_eq!(h.slow_ops(ms(3000)).len(), 1);
        assert_eq!(h.unexplained_errors().len(), 1);
    }

    #[test]
    fn error_texts_are_classified() {
        let c = ErrorClass::of_resp;
        assert_eq!(
            c("ERR cache: member count quorum not reached: 2 needed, 1 live"),
            ErrorClass::MemberQuorum
        );
        assert_eq!(
            c("ERR cache: write quorum not reached: 2 needed, 1 acknowledged"),
            ErrorClass::WriteQuorum
        );
        assert_eq!(
            c("ERR cache: request to 127.0.0.3:7000 (op) timed out after 1s"),
            ErrorClass::ServerTimeout
        );
        assert!(ErrorClass::MemberQuorum.not_made());
        assert!(!ErrorClass::WriteQuorum.not_made());
    }
}
