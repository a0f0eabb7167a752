//! Replication of the writes this node coordinates to the other owners of their keys.
//!
//! Each owner has one queue and one task that drains it: everything queued while the previous `APPLY`
//! to that owner was in flight goes out as the next `APPLY` (group commit). Under load, many writes
//! cost one call and one reply instead of one each; with no load, a write goes out at once. A write
//! whose `APPLY` fails is hinted (sent again until it arrives), and the writer waiting for its
//! acknowledgement (`write_quorum` above 1) learns that it was not stored.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot};

use super::Inner;
use crate::placement::Owner;
use crate::rpc::message::{Entry, Request, Response};

/// Most entries in one `APPLY`.
const MAX_BATCH_ENTRIES: usize = 1024;

/// Most key and value bytes in one `APPLY` (an entry larger than this goes alone).
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Most entries waiting for one owner; beyond it, a write is hinted at once instead of queued (the
/// owner is slow or unreachable, and the hints re-send it later).
const MAX_QUEUED: usize = 1 << 16;

/// An owner's queue and its task end after this long with nothing to send.
const IDLE: Duration = Duration::from_secs(10);

/// The queues, one per owner this node replicates to.
#[derive(Debug, Default)]
pub(crate) struct Replicator {
    queues: Mutex<HashMap<Owner, Arc<Queue>>>,
}

#[derive(Debug, Default)]
struct Queue {
    waiting: Mutex<Vec<Waiting>>,
    notify: Notify,
}

#[derive(Debug)]
struct Waiting {
    entry: Entry,
    /// Told whether the owner stored the entry, when the writer waits for it.
    ack: Option<oneshot::Sender<bool>>,
}

impl Inner {
    /// Sends `entry` to `owner` in the background; with `ack`, the receiver learns whether the owner
    /// stored it (false: it failed and was hinted).
    pub(crate) fn replicate(
        self: &Arc<Self>,
        owner: Owner,
        entry: Entry,
        ack: bool,
    ) -> Option<oneshot::Receiver<bool>> {
        let (tx, rx) = if ack {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let mut queues = self.replicator.queues.lock();
        let queue = match queues.get(&owner) {
            Some(queue) => Arc::clone(queue),
            None => {
                let queue = Arc::new(Queue::default());
                queues.insert(owner, Arc::clone(&queue));
                let inner = Arc::clone(self);
                let drained = Arc::clone(&queue);
                self.tasks
                    .spawn(async move { inner.drain_replicas(owner, drained).await });
                queue
            }
        };
        // Pushed while the map is locked, so that an idle task cannot retire the queue in between.
        let mut waiting = queue.waiting.lock();
        if waiting.len() >= MAX_QUEUED {
            drop(waiting);
            drop(queues);
            self.hint(owner, entry.key);
            if let Some(tx) = tx {
                let _ = tx.send(false);
            }
            return rx;
        }
        waiting.push(Waiting { entry, ack: tx });
        drop(waiting);
        drop(queues);
        queue.notify.notify_one();
        rx
    }

    /// The task of `owner`'s queue: sends what is queued, a batch at a time, until the node closes or
    /// the queue has been idle for [`IDLE`].
    async fn drain_replicas(self: Arc<Self>, owner: Owner, queue: Arc<Queue>) {
        loop {
            let batch = take_batch(&queue);
            if batch.is_empty() {
                let woken = tokio::select! {
                    () = self.cancel.cancelled() => return,
                    () = queue.notify.notified() => true,
                    () = tokio::time::sleep(IDLE) => false,
                };
                if !woken {
                    let mut queues = self.replicator.queues.lock();
                    if queue.waiting.lock().is_empty() {
                        queues.remove(&owner);
                        return;
                    }
                }
                // Let the other writers that are ready queue theirs first.
                tokio::task::yield_now().await;
                continue;
            }
            let (entries, acks): (Vec<Entry>, Vec<Option<oneshot::Sender<bool>>>) =
                batch.into_iter().map(|w| (w.entry, w.ack)).unzip();
            let keys: Vec<bytes::Bytes> = entries.iter().map(|e| e.key.clone()).collect();
            let answer = tokio::select! {
                () = self.cancel.cancelled() => return,
                a = self.call(owner, Request::Apply { entries }) => a,
            };
            let stored = match answer {
                Ok(Response::Ok) => true,
                Ok(other) => {
                    tracing::debug!(peer = %owner.rpc_addr(), answer = ?other, "replica refused a write");
                    false
                }
                Err(e) => {
                    tracing::debug!(peer = %owner.rpc_addr(), error = %e, "replica write failed");
                    false
                }
            };
            if !stored {
                // Sent again until they arrive (hinted hand-off), so the owners converge.
                for key in keys {
                    self.hint(owner, key);
                }
            }
            for ack in acks.into_iter().flatten() {
                let _ = ack.send(stored);
            }
        }
    }
}

/// The next batch of `queue`: from its front, at most [`MAX_BATCH_ENTRIES`] entries and
/// [`MAX_BATCH_BYTES`] bytes (at least one entry when any is queued).
fn take_batch(queue: &Queue) -> Vec<Waiting> {
    let mut waiting = queue.waiting.lock();
    let mut bytes = 0usize;
    let mut count = 0usize;
    for w in waiting.iter() {
        let size = w.entry.key.len() + w.entry.value.as_ref().map_or(0, bytes::Bytes::len);
        if count > 0 && (count == MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES) {
            break;
        }
        bytes += size;
        count += 1;
    }
    if count == waiting.len() {
        std::mem::take(&mut *waiting)
    } else {
        waiting.drain(..count).collect()
    }
}
