//! A linearizability check of concurrent GET / SET / DEL histories, per key, on a stable cluster; and the
//! checker's own test: it rejects a planted stale read.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::support::{kill_all, settle, start};

/// What an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Wrote this value.
    Set(u64),
    /// Deleted.
    Del,
    /// Read this value (`None`: a miss).
    Get(Option<u64>),
}

/// One completed operation on one key: invoked at `start`, answered at `end` (nanoseconds from the
/// history's origin).
#[derive(Debug, Clone, Copy)]
struct Op {
    start: u64,
    end: u64,
    action: Action,
}

/// True when the operations of one key (at most 64) can be ordered so that each takes effect between
/// its invocation and its answer and every read returns the latest write before it (a register that
/// starts empty). Depth-first search over the minimal operations, memoised on (done set, value).
fn linearizable(ops: &[Op]) -> bool {
    assert!(
        ops.len() <= 64,
        "the checker takes at most 64 operations per key"
    );
    let full: u64 = if ops.len() == 64 {
        u64::MAX
    } else {
        (1u64 << ops.len()) - 1
    };
    let mut seen: std::collections::HashSet<(u64, Option<u64>)> = std::collections::HashSet::new();
    // (done set, register value); explicit stack, bounded by the memo.
    let mut stack = vec![(0u64, None::<u64>)];
    while let Some((done, value)) = stack.pop() {
        if done == full {
            return true;
        }
        if !seen.insert((done, value)) {
            continue;
        }
        // An operation may go next only if it was invoked before every pending operation was answered.
        let horizon = (0..ops.len())
            .filter(|i| done & (1 << i) == 0)
            .map(|i| ops[i].end)
            .min()
            .unwrap_or(u64::MAX);
        for (i, op) in ops.iter().enumerate() {
            if done & (1 << i) != 0 || op.start > horizon {
                continue;
            }
            let next = match op.action {
                Action::Set(v) => Some(Some(v)),
                Action::Del => Some(None),
                Action::Get(read) => (read == value).then_some(value),
            };
            if let Some(next) = next {
                stack.push((done | (1 << i), next));
            }
        }
    }
    false
}

#[test]
fn the_checker_accepts_overlap_and_rejects_a_stale_read() {
    let op = |start, end, action| Op { start, end, action };
    // Sequential: set 1, set 2, read 2.
    let good = [
        op(0, 10, Action::Set(1)),
        op(20, 30, Action::Set(2)),
        op(40, 50, Action::Get(Some(2))),
    ];
    assert!(linearizable(&good));
    // The planted stale read: set 2 was answered before the read began, yet it returns 1.
    let stale = [
        op(0, 10, Action::Set(1)),
        op(20, 30, Action::Set(2)),
        op(40, 50, Action::Get(Some(1))),
    ];
    assert!(!linearizable(&stale));
    // A read overlapping the write may return either value.
    let overlap = [
        op(0, 10, Action::Set(1)),
        op(20, 60, Action::Set(2)),
        op(30, 40, Action::Get(Some(1))),
        op(45, 50, Action::Get(Some(2))),
    ];
    assert!(linearizable(&overlap));
    // ...but not go back to the old value once the new one was seen.
    let flip_back = [
        op(0, 10, Action::Set(1)),
        op(20, 60, Action::Set(2)),
        op(30, 40, Action::Get(Some(2))),
        op(45, 50, Action::Get(Some(1))),
    ];
    assert!(!linearizable(&flip_back));
    // A deleted key reads as a miss; a resurrected value after the delete is caught.
    let resurrected = [
        op(0, 10, Action::Set(1)),
        op(20, 30, Action::Del),
        op(40, 50, Action::Get(Some(1))),
    ];
    assert!(!linearizable(&resurrected));
    assert!(linearizable(&[op(0, 5, Action::Get(None))]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_histories_on_a_stable_cluster_are_linearizable() {
    let nodes = start(3, |c| {
        c.replica_count = 2;
        c.write_quorum = 1;
        c.read_quorum = 1;
    })
    .await;
    settle(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    const KEYS: u64 = 4;
    const CLIENTS: u64 = 6;
    const OPS_PER_CLIENT: u64 = 40;
    let origin = Instant::now();
    let history: Arc<Mutex<HashMap<u64, Vec<Op>>>> = Arc::default();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let node = nodes[(c % 3) as usize].clone();
        let history = Arc::clone(&history);
        tasks.push(tokio::spawn(async move {
            // A small deterministic generator per client: no shared RNG state, reproducible mixes.
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (c + 1);
            for n in 0..OPS_PER_CLIENT {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Every key gets the same number of operations: 60, within the checker's 64.
                let k = n % KEYS;
                let key = format!("lin:{k}");
                let start = origin.elapsed().as_nanos() as u64;
                let action = match (x >> 8) % 5 {
                    0 | 1 => {
                        let v = c * 1_000_000 + n + 1;
                        node.set(key.as_bytes(), v.to_string().as_bytes(), 0)
                            .await
                            .expect("set on a stable cluster");
                        Action::Set(v)
                    }
                    2 => {
                        node.delete(key.as_bytes()).await.expect("delete");
                        Action::Del
                    }
                    _ => {
                        let got = node.get(key.as_bytes()).await.expect("get");
                        Action::Get(got.and_then(|e| e.value).map(|v| {
                            std::str::from_utf8(&v)
                                .expect("utf-8")
                                .parse()
                                .expect("a value this test wrote")
                        }))
                    }
                };
                let end = origin.elapsed().as_nanos() as u64;
                history
                    .lock()
                    .entry(k)
                    .or_default()
                    .push(Op { start, end, action });
            }
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("clients finish")
            .expect("client task");
    }
    let history = std::mem::take(&mut *history.lock());
    let mut total = 0;
    for (k, ops) in history.iter() {
        total += ops.len();
        assert!(
            linearizable(ops),
            "key {k}: history is not linearizable: {ops:?}"
        );
    }
    assert_eq!(total as u64, CLIENTS * OPS_PER_CLIENT);
    kill_all(&nodes).await;
}
