//! Routing-table changes and the movement of partitions: pulls of gained partitions, the push of a
//! graceful leave, the dropping of partitions no longer owned, and the pause watchdog.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Inner;
use crate::placement::{Owner, Table, partition_of};
use crate::rpc::message::{Entry, Request, Response};

/// Entries per pull or push batch.
const BATCH_ENTRIES: usize = 512;
/// Bytes per push batch (values and keys).
const BATCH_BYTES: usize = 1 << 20;
/// How long a source is retried, and how long a partition stays incoming at most.
pub(super) const PULL_DEADLINE: Duration = Duration::from_secs(30);
/// How often lost partitions are dropped and expired entries reclaimed.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Tick of the pause watchdog.
const WATCHDOG_TICK: Duration = Duration::from_millis(100);
/// Keys remembered per owner that missed writes; past this, the owner gets a full push instead.
const MAX_HINTS_PER_OWNER: usize = 100_000;
/// After a routing change, gained partitions are pulled a second time this much later, to pick up
/// writes that peers still on their previous table made to the previous owners meanwhile.
const REPULL_AFTER: Duration = Duration::from_secs(2);

/// Writes owners missed, by owner address: the keys to send again, or a full push of the partitions
/// shared with that owner when there were too many.
#[derive(Debug, Default)]
pub(crate) struct Hints {
    keys: HashMap<std::net::SocketAddr, std::collections::HashSet<bytes::Bytes>>,
    full: std::collections::HashSet<std::net::SocketAddr>,
    /// Owners a retry is running for.
    busy: std::collections::HashSet<std::net::SocketAddr>,
}

/// Starts the tasks of a node: the view watcher, the sweeper and the pause watchdog.
pub(super) fn spawn_tasks(inner: &Arc<Inner>) {
    let Some(membership) = inner.membership.get() else {
        return;
    };
    let mut view = membership.view();
    let weak = Arc::downgrade(inner);
    let cancel = inner.cancel.clone();
    inner.tasks.spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                changed = view.changed() => {
                    if changed.is_err() { break; }
                    let Some(inner) = weak.upgrade() else { break };
                    inner.apply_view();
                }
            }
        }
    });
    let weak = Arc::downgrade(inner);
    let cancel = inner.cancel.clone();
    inner.tasks.spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {
                    let Some(inner) = weak.upgrade() else { break };
                    inner.sweep();
                }
            }
        }
    });
    let weak = Arc::downgrade(inner);
    let cancel = inner.cancel.clone();
    let threshold = inner
        .cfg
        .timings
        .suspect_timeout
        .max(Duration::from_secs(1));
    inner.tasks.spawn(async move {
        let mut last = Instant::now();
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(WATCHDOG_TICK) => {
                    let gap = last.elapsed();
                    last = Instant::now();
                    if gap > threshold {
                        let Some(inner) = weak.upgrade() else { break };
                        inner.resync_after_pause(gap);
                    }
                }
            }
        }
    });
}

impl Inner {
    /// Recomputes the routing table from the membership view and plans the pulls the change calls for.
    pub(crate) fn apply_view(self: &Arc<Self>) {
        let Some(membership) = self.membership.get() else {
            return;
        };
        let view = Arc::clone(&membership.view().borrow());
        let local = membership.local();
        let me = Owner {
            addr: local.addr,
            generation: local.generation,
        };
        let previous = self.me();
        *self.me.write() = Some(me);
        let renewed = previous.addr == me.addr && previous.generation != me.generation;
        let mut members: Vec<Owner> = view
            .iter()
            .map(|m| Owner {
                addr: m.addr,
                generation: m.generation,
            })
            .filter(|o| o.addr != me.addr)
            .collect();
        members.push(me);
        let old = self.table();
        let new = Table::new(
            &members,
            self.cfg.tag.partition_count,
            self.cfg.replica_count,
            old.epoch() + 1,
        );
        if new.fingerprint() == old.fingerprint() {
            return;
        }
        let new = Arc::new(new);
        // Partitions owned and the epoch are exported by the server from `NodeStatus`, per node.
        let (primary, backup) = new.owned_by(me.addr);
        tracing::info!(
            epoch = new.epoch(),
            members = new.members().len(),
            primary_partitions = primary,
            backup_partitions = backup,
            "routing table changed"
        );
        let fresh = self.fresh.load(Ordering::Acquire) || renewed;
        if new.members().len() > 1 {
            self.fresh.store(false, Ordering::Release);
        }
        self.plan(&old, &new, me, fresh, true);
    }

    /// Marks the partitions this node gained as incoming and starts pulling them; records the ones it
    /// lost.
    /// With `publish`, `new` becomes the routing table in the same critical section, so nobody sees the
    /// new table without its incoming partitions.
    fn plan(
        self: &Arc<Self>,
        old: &Arc<Table>,
        new: &Arc<Table>,
        me: Owner,
        fresh: bool,
        publish: bool,
    ) {
        let pc = new.partition_count();
        let alive = |o: &Owner| {
            o.addr != me.addr
                && new
                    .members()
                    .iter()
                    .any(|m| m.addr == o.addr && m.generation == o.generation)
        };
        let without = |t: &Table| {
            let rest: Vec<Owner> = t
                .members()
                .iter()
                .copied()
                .filter(|m| m.addr != me.addr)
                .collect();
            Table::new(&rest, pc, new.replica_count(), 0)
        };
        // Where the partition's data lived as the other members saw it, before and after the change.
        let old_rest = without(old);
        let new_rest = without(new);
        let now = Instant::now();
        let mut by_source: HashMap<Owner, Vec<u32>> = HashMap::new();
        {
            let mut incoming = self.incoming.lock();
            let mut lost = self.lost.lock();
            if publish {
                *self.table.write() = Arc::clone(new);
                let mut previous = self.previous.write();
                if previous.len() >= super::PREVIOUS_TABLES {
                    previous.pop_front();
                }
                previous.push_back((Arc::clone(old), Instant::now()));
            }
            // Sources that are gone can no longer be read.
            incoming.retain(|_, (sources, _)| {
                sources.retain(|s| alive(s));
                !sources.is_empty()
            });
            for p in 0..pc {
                let owned_before = old.is_owner(p, me.addr);
                if !new.is_owner(p, me.addr) {
                    if owned_before {
                        lost.entry(p).or_insert(now);
                    }
                    incoming.remove(&p);
                    continue;
                }
                lost.remove(&p);
                let gained = !owned_before || fresh;
                // Everyone who may hold data of `p`: its owners before and after, and the owners the
                // other members computed without this node. A partition this node kept only needs the
                // holders that are new to it (a member that joined, or came back from a partition).
                let known = |o: &Owner| {
                    old.owners(p).any(|k| k == *o) || old_rest.owners(p).any(|k| k == *o)
                };
                let mut sources: Vec<Owner> = Vec::new();
                for o in old.owners(p).chain(new.owners(p)).chain(new_rest.owners(p)) {
                    if alive(&o)
                        && (gained || !known(&o))
                        && !sources.iter().any(|s| s.addr == o.addr)
                    {
                        sources.push(o);
                    }
                }
                if sources.is_empty() {
                    continue;
                }
                for s in &sources {
                    by_source.entry(*s).or_default().push(p);
                }
                incoming.insert(p, (sources, now));
            }
        }
        for (source, partitions) in by_source {
            let inner = Arc::clone(self);
            self.tasks.spawn(async move {
                inner.pull_from(source, partitions.clone(), true).await;
                // Peers change tables a little apart; what they wrote to the previous owners in
                // between arrives with a second pull.
                tokio::select! {
                    () = inner.cancel.cancelled() => return,
                    () = tokio::time::sleep(REPULL_AFTER) => {}
                }
                if inner.is_member(source) {
                    inner.pull_from(source, partitions, false).await;
                }
            });
        }
    }

    /// Remembers that `owner` missed the write of `key`.
    pub(crate) fn hint(&self, owner: Owner, key: bytes::Bytes) {
        let mut hints = self.hints.lock();
        if hints.full.contains(&owner.addr) {
            return;
        }
        let keys = hints.keys.entry(owner.addr).or_default();
        if keys.len() >= MAX_HINTS_PER_OWNER {
            hints.keys.remove(&owner.addr);
            hints.full.insert(owner.addr);
            tracing::warn!(peer = %owner.rpc_addr(), "too many writes missed by an owner; it will get a full push");
        } else {
            // A copy: the key may be a slice of a response buffer, which a hint kept for long would
            // hold in memory whole.
            keys.insert(bytes::Bytes::copy_from_slice(&key));
        }
    }

    /// Starts sending missed writes again to the owners that are members (one task per owner).
    fn retry_hints(self: &Arc<Self>) {
        let table = self.table();
        let mut hints = self.hints.lock();
        let known: Vec<std::net::SocketAddr> = hints
            .keys
            .keys()
            .chain(hints.full.iter())
            .copied()
            .collect();
        for addr in known {
            let Some(owner) = table.members().iter().copied().find(|m| m.addr == addr) else {
                // Gone: it pulls what it owns when it comes back.
                hints.keys.remove(&addr);
                hints.full.remove(&addr);
                continue;
            };
            if !hints.busy.insert(addr) {
                continue;
            }
            let inner = Arc::clone(self);
            self.tasks.spawn(async move {
                inner.send_hints(owner).await;
                inner.hints.lock().busy.remove(&owner.addr);
            });
        }
    }

    /// Sends `owner` the writes it missed: the hinted keys in batches, or everything of the partitions
    /// both own after an overflow. Stops at the first failure (the rest waits for the next round).
    async fn send_hints(self: &Arc<Self>, owner: Owner) {
        let full = self.hints.lock().full.contains(&owner.addr);
        if full {
            let table = self.table();
            let me = self.me();
            let pc = table.partition_count();
            let shared: Vec<u32> = (0..pc)
                .filter(|&p| table.is_owner(p, me.addr) && table.is_owner(p, owner.addr))
                .collect();
            let mut cursor = 0;
            for _ in 0..u32::MAX {
                let page = self.store.pull(&shared, pc, cursor, BATCH_ENTRIES);
                for chunk in chunk_by_bytes(page.entries) {
                    if self
                        .call(owner, Request::Apply { entries: chunk })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                cursor = page.cursor;
                if cursor == 0 {
                    break;
                }
            }
            self.hints.lock().full.remove(&owner.addr);
            return;
        }
        for _ in 0..u32::MAX {
            let batch: Vec<bytes::Bytes> = {
                let hints = self.hints.lock();
                match hints.keys.get(&owner.addr) {
                    Some(keys) if !keys.is_empty() => {
                        keys.iter().take(BATCH_ENTRIES).cloned().collect()
                    }
                    _ => return,
                }
            };
            let entries: Vec<Entry> = batch.iter().filter_map(|k| self.store.get(k)).collect();
            let sent = entries.is_empty()
                || matches!(
                    self.call(owner, Request::Apply { entries }).await,
                    Ok(Response::Ok)
                );
            if !sent {
                return;
            }
            let mut hints = self.hints.lock();
            if let Some(keys) = hints.keys.get_mut(&owner.addr) {
                for k in &batch {
                    keys.remove(k);
                }
                if keys.is_empty() {
                    hints.keys.remove(&owner.addr);
                }
            }
        }
    }

    /// Pulls every entry `source` holds in `partitions`, storing each if newer, then marks the source
    /// done for those partitions.
    async fn pull_from(self: &Arc<Self>, source: Owner, partitions: Vec<u32>, first: bool) {
        let started = Instant::now();
        let mut cursor = 0;
        let mut pulled = 0usize;
        let mut backoff = Duration::from_millis(50);
        let mut complete = false;
        for _ in 0..u32::MAX {
            if self.cancel.is_cancelled() {
                return;
            }
            let req = Request::Pull {
                partitions: partitions.clone(),
                cursor,
                count: BATCH_ENTRIES as u32,
            };
            match self.call(source, req).await {
                Ok(Response::Page {
                    cursor: next,
                    entries,
                }) => {
                    pulled += entries.len();
                    for entry in &entries {
                        self.hlc.observe(entry.version);
                        self.store.apply(entry);
                    }
                    backoff = Duration::from_millis(50);
                    cursor = next;
                    if next == 0 {
                        complete = true;
                        break;
                    }
                }
                answer => {
                    if started.elapsed() > PULL_DEADLINE || !self.is_member(source) {
                        tracing::warn!(
                            source = %source.rpc_addr(),
                            answer = ?answer.err(),
                            "giving up pulling partitions from a source"
                        );
                        break;
                    }
                    tokio::select! {
                        () = self.cancel.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        tracing::debug!(
            source = %source.rpc_addr(),
            partitions = partitions.len(),
            entries = pulled,
            complete,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "pulled partitions"
        );
        if !first {
            return;
        }
        let mut incoming = self.incoming.lock();
        for p in partitions {
            if let Some((sources, _)) = incoming.get_mut(&p) {
                sources.retain(|s| s.addr != source.addr);
                if sources.is_empty() {
                    incoming.remove(&p);
                }
            }
        }
    }

    fn is_member(&self, who: Owner) -> bool {
        self.table()
            .members()
            .iter()
            .any(|m| m.addr == who.addr && m.generation == who.generation)
    }

    /// Drops the partitions lost long enough ago, forgets incoming partitions past their deadline, and
    /// reclaims expired entries.
    fn sweep(self: &Arc<Self>) {
        self.retry_hints();
        let keep = self.cfg.tombstone_ttl();
        let table = self.table();
        let me = self.me();
        let due: Vec<u32> = {
            let mut lost = self.lost.lock();
            let due: Vec<u32> = lost
                .iter()
                .filter(|(p, since)| since.elapsed() >= keep && !table.is_owner(**p, me.addr))
                .map(|(p, _)| *p)
                .collect();
            for p in &due {
                lost.remove(p);
            }
            due
        };
        if !due.is_empty() {
            let pc = table.partition_count();
            let dropped = self.store.remove_if(|k| due.contains(&partition_of(k, pc)));
            tracing::debug!(
                partitions = due.len(),
                entries = dropped,
                "dropped partitions no longer owned"
            );
        }
        self.incoming
            .lock()
            .retain(|_, (_, since)| since.elapsed() < PULL_DEADLINE * 2);
        self.store.reclaim_expired(4096);
    }

    /// After the process was paused (SIGSTOP, a VM freeze) for `gap`, the other owners may have accepted
    /// writes this node missed: every partition it owns becomes incoming again, so reads also ask the
    /// other owners until they have been pulled.
    fn resync_after_pause(self: &Arc<Self>, gap: Duration) {
        tracing::warn!(
            paused_ms = gap.as_millis() as u64,
            "this node was paused; re-reading its partitions from the other owners"
        );
        let table = self.table();
        let empty = Arc::new(Table::new(
            &[],
            table.partition_count(),
            table.replica_count(),
            0,
        ));
        self.plan(&empty, &table, self.me(), true, false);
    }
}

/// Graceful leave: widen writes to the next owners, push every held partition to them, announce the
/// leave and stop, all within `leave_timeout`.
pub(super) async fn leave(inner: &Arc<Inner>) {
    if inner.closed.load(Ordering::Acquire) || inner.leaving.swap(true, Ordering::AcqRel) {
        return;
    }
    let started = Instant::now();
    let timeout = inner.cfg.leave_timeout;
    match tokio::time::timeout(timeout, hand_off(inner)).await {
        Ok((entries, targets)) => tracing::info!(
            entries,
            targets,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "handed partitions over before leaving"
        ),
        Err(_) => tracing::warn!(
            leave_timeout = ?timeout,
            "leave_timeout reached before the hand-off completed; leaving anyway"
        ),
    }
    inner.stop(true).await;
}

/// Pushes every entry this node holds to the owners that replace it; returns (entries, targets).
async fn hand_off(inner: &Arc<Inner>) -> (usize, usize) {
    let table = inner.table();
    let me = inner.me();
    let pc = table.partition_count();
    let rest: Vec<Owner> = table
        .members()
        .iter()
        .copied()
        .filter(|m| m.addr != me.addr)
        .collect();
    if rest.is_empty() {
        return (0, 0);
    }
    let after = Table::new(&rest, pc, table.replica_count(), 0);
    let lost: Vec<u32> = inner.lost.lock().keys().copied().collect();
    let mut targets_of: HashMap<u32, Vec<Owner>> = HashMap::new();
    for p in 0..pc {
        if !table.is_owner(p, me.addr) && !lost.contains(&p) {
            continue;
        }
        let targets: Vec<Owner> = after
            .owners(p)
            .filter(|o| !table.owners(p).any(|t| t.addr == o.addr) || lost.contains(&p))
            .collect();
        if !targets.is_empty() {
            targets_of.insert(p, targets);
        }
    }
    let partitions: Vec<u32> = targets_of.keys().copied().collect();
    let mut sent = 0usize;
    let mut all_targets: Vec<Owner> = Vec::new();
    let mut cursor = 0;
    for _ in 0..u32::MAX {
        let page = inner.store.pull(&partitions, pc, cursor, BATCH_ENTRIES);
        let mut batches: HashMap<Owner, Vec<Entry>> = HashMap::new();
        for entry in page.entries {
            let p = partition_of(&entry.key, pc);
            for t in targets_of.get(&p).into_iter().flatten() {
                batches.entry(*t).or_default().push(entry.clone());
            }
        }
        let sends = batches.into_iter().map(|(target, entries)| {
            let inner = Arc::clone(inner);
            async move {
                let n = entries.len();
                for chunk in chunk_by_bytes(entries) {
                    if let Err(e) = inner.call(target, Request::Apply { entries: chunk }).await {
                        tracing::warn!(peer = %target.rpc_addr(), error = %e, "hand-off batch failed");
                        return (target, 0);
                    }
                }
                (target, n)
            }
        });
        for (target, n) in futures::future::join_all(sends).await {
            sent += n;
            if !all_targets.contains(&target) {
                all_targets.push(target);
            }
        }
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    (sent, all_targets.len())
}

/// Splits `entries` into batches of at most [`BATCH_BYTES`] (each batch holds at least one entry).
fn chunk_by_bytes(entries: Vec<Entry>) -> Vec<Vec<Entry>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for e in entries {
        let size = e.key.len() + e.value.as_ref().map_or(0, |v| v.len());
        if !current.is_empty() && bytes + size > BATCH_BYTES {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(e);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}
