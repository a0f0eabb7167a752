//! A routed operation end to end: forwarding to the primary, and coordinating it here (versions,
//! replication to the owners, quorums, read-repair, read-through of incoming partitions).

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::{Inner, MAX_HOPS, remote_result, unexpected};
use crate::error::{ClusterError, QuorumKind, Result};
use crate::placement::{Owner, Table, partition_of};
use crate::rpc::message::{Entry, Op, RemoteError, Request, Response};
use crate::version::now_ms;

impl Inner {
    /// Runs `op` that arrived after `hops` forwards: coordinates it here when this node is the key's
    /// primary (or an owner taking over, or the hop limit is reached), else forwards it to the owners in
    /// order, moving on when the connection to one could not be made or broke. Moving on is safe even
    /// if the broken call had reached its target: every routed operation is idempotent (a value or an
    /// expiry is absolute, a delete writes a tombstone), so running it again at the next owner leaves
    /// the same state. A call that times out is not retried: the owner may be slow, not gone, and the
    /// caller's time is spent.
    pub(crate) async fn execute(self: &Arc<Self>, op: Op, hops: u8) -> Result<Response> {
        self.check_serving()?;
        let table = self.table();
        let partition = partition_of(op.key(), table.partition_count());
        let owners: Vec<Owner> = table.owners(partition).collect();
        let me = self.me();
        let rank = owners.iter().position(|o| o.addr == me.addr);
        if rank == Some(0) || (hops >= 1 && rank.is_some()) || hops >= MAX_HOPS {
            return self.coordinate(op, &table, partition, &owners).await;
        }
        let mut last = None;
        for target in &owners {
            if target.addr == me.addr {
                // The owners before this node could not be reached: take the call over.
                return self.coordinate(op, &table, partition, &owners).await;
            }
            let req = Request::Op {
                hops: hops + 1,
                op: op.clone(),
            };
            match self.call(*target, req).await {
                Ok(Response::Error(crate::rpc::message::RemoteError::Closed)) => {
                    last = Some(ClusterError::Closed);
                }
                Ok(Response::Entry(found)) => {
                    let found = self.previous_owners_copy(*target, op.key(), found).await;
                    return Ok(self.newer_local(*target, op.key(), found));
                }
                Ok(resp) => return remote_result(resp),
                // A compare-and-set that may have reached its target is not run again: it is not
                // idempotent (it would fail on its own write, and its caller would retry it).
                Err(e @ ClusterError::Connection { not_sent, .. })
                    if not_sent || !matches!(op, Op::SetIf { .. }) =>
                {
                    tracing::debug!(peer = %target.rpc_addr(), error = %e, "owner unreachable or connection broken; trying the next");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(ClusterError::Closed))
    }

    /// Runs `ops` (from this node's callers) with one call per owner: the operations whose primary is
    /// this node run here, the others go to their primary as one `BATCH`; an owner that cannot be
    /// reached gets its operations one by one, with the usual fail-over. Answers are in the order of
    /// `ops`.
    pub(crate) async fn execute_batch(self: &Arc<Self>, ops: Vec<Op>) -> Vec<Result<Response>> {
        let table = self.table();
        let me = self.me();
        let pc = table.partition_count();
        let mut answers: Vec<Option<Result<Response>>> = (0..ops.len()).map(|_| None).collect();
        let mut groups: Vec<(Owner, Vec<usize>, Vec<Op>)> = Vec::new();
        let (mut local, mut local_runs) = (Vec::new(), Vec::new());
        for (i, op) in ops.into_iter().enumerate() {
            match table.owners(partition_of(op.key(), pc)).next() {
                Some(primary) if primary.addr != me.addr => {
                    match groups.iter_mut().find(|(o, _, _)| o.addr == primary.addr) {
                        Some((_, idx, batch)) => {
                            idx.push(i);
                            batch.push(op);
                        }
                        None => groups.push((primary, vec![i], vec![op])),
                    }
                }
                _ => match self.try_now(op) {
                    Ok(answer) => answers[i] = Some(answer),
                    Err(op) => {
                        local.push(i);
                        local_runs.push(self.execute(op, 0));
                    }
                },
            }
        }
        let remote_runs = groups.into_iter().map(|(primary, idx, batch)| {
            let inner = Arc::clone(self);
            async move {
                let req = Request::Batch {
                    hops: 1,
                    ops: batch.clone(),
                };
                match inner.call(primary, req).await {
                    Ok(Response::Batch(items)) if items.len() == idx.len() => {
                        let mut answers = Vec::with_capacity(idx.len());
                        for ((i, item), op) in idx.into_iter().zip(items).zip(&batch) {
                            // As for a single forwarded read: a miss at a new owner may still be
                            // held by the owners before the change, or by this node.
                            let answer = match item {
                                Response::Entry(found) => {
                                    let found =
                                        inner.previous_owners_copy(primary, op.key(), found).await;
                                    Ok(inner.newer_local(primary, op.key(), found))
                                }
                                other => remote_result(other),
                            };
                            answers.push((i, answer));
                        }
                        answers
                    }
                    Ok(Response::Error(e)) if e != RemoteError::Closed => {
                        let e = remote_result(Response::Error(e));
                        idx.into_iter().map(|i| (i, e.clone())).collect::<Vec<_>>()
                    }
                    Err(e) if !matches!(e, ClusterError::Connection { .. }) => {
                        idx.into_iter().map(|i| (i, Err(e.clone()))).collect()
                    }
                    _ => {
                        // The primary could not take the batch: one by one, with fail-over.
                        let runs = batch.into_iter().map(|op| inner.execute(op, 0));
                        idx.into_iter()
                            .zip(futures::future::join_all(runs).await)
                            .collect()
                    }
                }
            }
        });
        let (local_done, remote_done) = futures::future::join(
            futures::future::join_all(local_runs),
            futures::future::join_all(remote_runs),
        )
        .await;
        for (i, answer) in local.into_iter().zip(local_done) {
            answers[i] = Some(answer);
        }
        for (i, answer) in remote_done.into_iter().flatten() {
            answers[i] = Some(answer);
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or(Err(ClusterError::Closed)))
            .collect()
    }

    /// Coordinates `op` on this node.
    async fn coordinate(
        self: &Arc<Self>,
        op: Op,
        table: &Table,
        partition: u32,
        owners: &[Owner],
    ) -> Result<Response> {
        let write = |change| self.write(table, partition, owners, change);
        match op {
            // Tombstones travel too, so that a forwarding node can tell "deleted" from "never seen".
            Op::Get { key } | Op::Meta { key } => Ok(Response::Entry(
                self.read(table, partition, owners, &key).await?,
            )),
            Op::Set {
                key,
                value,
                expires_at,
            } => {
                write(Change::value(key, value, expires_at)).await?;
                Ok(Response::Ok)
            }
            Op::Delete { key } => {
                write(Change::delete(key)).await?;
                Ok(Response::Ok)
            }
            Op::SetIf {
                key,
                value,
                expires_at,
                expected,
            } => {
                self.set_if(table, partition, owners, key, value, expires_at, expected)
                    .await
            }
            Op::Expire { key, expires_at } => {
                let current = self.read(table, partition, owners, &key).await?;
                match current.and_then(|e| e.value) {
                    None => Ok(Response::Count(0)),
                    Some(value) => {
                        write(Change::value(key, value, expires_at)).await?;
                        Ok(Response::Count(1))
                    }
                }
            }
        }
    }

    /// The answer of a forwarded read, or this node's own copy when that is newer: a node that owned the
    /// partition before a routing change still holds it while the new owner fills, and sends it the
    /// newer copy.
    fn newer_local(
        self: &Arc<Self>,
        coordinator: Owner,
        key: &Bytes,
        found: Option<Entry>,
    ) -> Response {
        let Some(local) = self.store.get(key) else {
            return Response::Entry(found);
        };
        if found.as_ref().is_some_and(|f| f.version >= local.version) {
            return Response::Entry(found);
        }
        metrics::counter!("relaycache_cluster_read_repairs_total").increment(1);
        self.repair_new_owner(coordinator, local.clone());
        Response::Entry(Some(local))
    }

    /// When a forwarded read found nothing at `coordinator` and the routing changed recently, the owners
    /// before the change may still hold the key the new owner has not received yet: ask them (`PEEK`),
    /// and hand the newest copy to the coordinator.
    async fn previous_owners_copy(
        self: &Arc<Self>,
        coordinator: Owner,
        key: &Bytes,
        found: Option<Entry>,
    ) -> Option<Entry> {
        if found.is_some() {
            return found;
        }
        let previous: Vec<Arc<Table>> = self
            .previous
            .read()
            .iter()
            .filter(|(_, since)| since.elapsed() < super::rebalance::PULL_DEADLINE)
            .map(|(t, _)| Arc::clone(t))
            .collect();
        let me = self.me().addr;
        let mut peers: Vec<Owner> = Vec::new();
        for o in previous.iter().flat_map(|t| t.owners_of(key)) {
            if o.addr != me && o.addr != coordinator.addr && !peers.iter().any(|p| p.addr == o.addr)
            {
                peers.push(o);
            }
        }
        if peers.is_empty() {
            return None;
        }
        let newest = self.peek_newest(peers, key, None).await;
        if let Some(e) = &newest {
            self.repair_new_owner(coordinator, e.clone());
        }
        newest
    }

    /// Sends `entry` to `owner`, a node that has just gained its partition, in the background.
    fn repair_new_owner(self: &Arc<Self>, owner: Owner, entry: Entry) {
        let inner = Arc::clone(self);
        self.tasks.spawn(async move {
            let req = Request::Apply {
                entries: vec![entry],
            };
            if let Err(e) = inner.call(owner, req).await {
                tracing::debug!(peer = %owner.rpc_addr(), error = %e, "repair of the new owner failed");
            }
        });
    }

    /// The newest of `start` and the copies of `key` that `peers` hold (asked with `PEEK`, at once;
    /// peers that fail to answer are left out).
    async fn peek_newest(
        self: &Arc<Self>,
        peers: Vec<Owner>,
        key: &Bytes,
        start: Option<Entry>,
    ) -> Option<Entry> {
        let asks = peers.into_iter().map(|peer| {
            let inner = Arc::clone(self);
            let keys = vec![key.clone()];
            async move { inner.call(peer, Request::Peek { keys }).await }
        });
        let mut newest = start;
        for answer in futures::future::join_all(asks).await {
            if let Ok(Response::Entries(mut entries)) = answer {
                if let Some(e) = entries.pop() {
                    if newest.as_ref().is_none_or(|n| n.version < e.version) {
                        newest = Some(e);
                    }
                }
            }
        }
        newest
    }

    /// The owners a write of `partition` goes to: the table's, plus during a graceful leave the owners of
    /// the table without this node (so nothing written during the hand-off stays only here).
    fn write_targets(&self, table: &Table, partition: u32, owners: &[Owner]) -> Vec<Owner> {
        let mut targets = owners.to_vec();
        if self.leaving.load(std::sync::atomic::Ordering::Acquire) {
            let me = self.me();
            let rest: Vec<Owner> = table
                .members()
                .iter()
                .copied()
                .filter(|m| m.addr != me.addr)
                .collect();
            let after = Table::new(&rest, table.partition_count(), table.replica_count(), 0);
            for o in after.owners(partition) {
                if !targets.iter().any(|t| t.addr == o.addr) {
                    targets.push(o);
                }
            }
        }
        targets
    }

    /// Writes a new version of the change's key to the owners and returns after `write_quorum`
    /// acknowledgements.
    async fn write(
        self: &Arc<Self>,
        table: &Table,
        partition: u32,
        owners: &[Owner],
        change: Change,
    ) -> Result<()> {
        let needed = self.cfg.write_quorum;
        if (owners.len() as u32) < needed {
            return Err(self.quorum_failed(QuorumKind::Write, needed, owners.len() as u32));
        }
        let (acks, pending) = self.write_start(table, partition, owners, change, needed);
        self.await_quorum(needed, acks, pending).await
    }

    /// Waits until `acks` and the acknowledgements `pending` reach `needed`, within `request_timeout`.
    async fn await_quorum(
        &self,
        needed: u32,
        mut acks: u32,
        mut pending: FuturesUnordered<tokio::sync::oneshot::Receiver<bool>>,
    ) -> Result<()> {
        // An acknowledgement counts within `request_timeout`, however long the owner's queue is.
        let deadline = tokio::time::Instant::now() + self.cfg.request_timeout;
        while acks < needed {
            match tokio::time::timeout_at(deadline, pending.next()).await {
                Ok(Some(Ok(true))) => acks += 1,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if acks < needed {
            return Err(self.quorum_failed(QuorumKind::Write, needed, acks));
        }
        Ok(())
    }

    /// Makes a write: assigns its version, stores it here when this node is an owner, and queues it for
    /// the other owners. Returns the acknowledgements so far (this node's) and, when they fall short of
    /// `needed`, the receivers of the other owners' acknowledgements.
    fn write_start(
        self: &Arc<Self>,
        table: &Table,
        partition: u32,
        owners: &[Owner],
        change: Change,
        needed: u32,
    ) -> (u32, FuturesUnordered<tokio::sync::oneshot::Receiver<bool>>) {
        let Change {
            key,
            value,
            expires_at,
        } = change;
        let me = self.me();
        let targets = self.write_targets(table, partition, owners);
        let mut acks = 0u32;
        let entry = if targets.iter().any(|t| t.addr == me.addr) {
            acks += 1;
            self.store.write(&self.hlc, key, value, expires_at)
        } else {
            if let Some(held) = self.store.version(&key) {
                self.hlc.observe(held);
            }
            Entry {
                key,
                value,
                version: self.hlc.next(),
                expires_at,
            }
        };
        self.replicate_to(targets, entry, acks, needed)
    }

    /// Queues `entry` for every target but this node; returns `acks` and, when they fall short of
    /// `needed`, the receivers of the others' acknowledgements.
    fn replicate_to(
        self: &Arc<Self>,
        targets: Vec<Owner>,
        entry: Entry,
        acks: u32,
        needed: u32,
    ) -> (u32, FuturesUnordered<tokio::sync::oneshot::Receiver<bool>>) {
        let me = self.me();
        // The owners beyond the quorum are written after the write returns too.
        let ack = needed > acks;
        let pending = targets
            .into_iter()
            .filter(|t| t.addr != me.addr)
            .filter_map(|t| self.replicate(t, entry.clone(), ack))
            .collect();
        (acks, pending)
    }

    /// Coordinates a compare-and-set: compares and writes this node's copy in one step, then
    /// replicates the new version as a write does. Only an owner can compare; a partition still being
    /// filled first takes the newest copy of the key from its sources, so the comparison sees it.
    #[allow(clippy::too_many_arguments)]
    async fn set_if(
        self: &Arc<Self>,
        table: &Table,
        partition: u32,
        owners: &[Owner],
        key: Bytes,
        value: Option<Bytes>,
        expires_at: u64,
        expected: crate::version::Version,
    ) -> Result<Response> {
        let needed = self.cfg.write_quorum;
        if (owners.len() as u32) < needed {
            return Err(self.quorum_failed(QuorumKind::Write, needed, owners.len() as u32));
        }
        let me = self.me();
        let targets = self.write_targets(table, partition, owners);
        if !targets.iter().any(|t| t.addr == me.addr) {
            return Err(ClusterError::Remote(format!(
                "a compare-and-set reached {}, which holds no copy of its key",
                me.rpc_addr()
            )));
        }
        let filling = self.incoming.lock().contains_key(&partition);
        if filling {
            if let Some(newest) = self.read(table, partition, owners, &key).await? {
                self.hlc.observe(newest.version);
                self.store.apply(&newest);
            }
        }
        let Some(entry) = self
            .store
            .write_if(&self.hlc, key, value, expires_at, expected)
        else {
            return Ok(Response::Count(0));
        };
        let (acks, pending) = self.replicate_to(targets, entry, 1, needed);
        self.await_quorum(needed, acks, pending).await?;
        Ok(Response::Count(1))
    }

    /// Runs `op` at once when that needs no answer from another node: this node is the key's primary,
    /// and a read needs only its own copy (`read_quorum` 1, the partition is not being pulled) or a
    /// write only its own acknowledgement (`write_quorum` 1; the other owners are written in the
    /// background). Otherwise hands `op` back, for [`Inner::execute`].
    pub(crate) fn try_now(self: &Arc<Self>, op: Op) -> std::result::Result<Result<Response>, Op> {
        if let Err(e) = self.check_serving() {
            return Ok(Err(e));
        }
        let table = self.table();
        let partition = partition_of(op.key(), table.partition_count());
        let owners: Vec<Owner> = table.owners(partition).collect();
        if owners.first().map(|o| o.addr) != Some(self.me().addr) {
            return Err(op);
        }
        let writes_now = self.cfg.write_quorum <= 1;
        match op {
            Op::Get { key } | Op::Meta { key }
                if self.cfg.read_quorum <= 1 && !self.incoming.lock().contains_key(&partition) =>
            {
                Ok(Ok(Response::Entry(self.store.get(&key))))
            }
            Op::Set {
                key,
                value,
                expires_at,
            } if writes_now => {
                // This node's copy is the quorum: nothing to wait for.
                let _ = self.write_start(
                    &table,
                    partition,
                    &owners,
                    Change::value(key, value, expires_at),
                    1,
                );
                Ok(Ok(Response::Ok))
            }
            Op::Delete { key } if writes_now => {
                let _ = self.write_start(&table, partition, &owners, Change::delete(key), 1);
                Ok(Ok(Response::Ok))
            }
            other => Err(other),
        }
    }

    /// Reads `key` from `read_quorum` owners (this node first), plus the sources of an incoming
    /// partition; returns the newest entry (a tombstone included) and repairs the owners that answered
    /// with an older one.
    async fn read(
        self: &Arc<Self>,
        _table: &Table,
        partition: u32,
        owners: &[Owner],
        key: &Bytes,
    ) -> Result<Option<Entry>> {
        let needed = self.cfg.read_quorum;
        if (owners.len() as u32) < needed {
            return Err(self.quorum_failed(QuorumKind::Read, needed, owners.len() as u32));
        }
        let me = self.me();
        let mut targets: Vec<Owner> = Vec::with_capacity(owners.len());
        if owners.iter().any(|o| o.addr == me.addr) {
            targets.push(me);
        }
        targets.extend(owners.iter().copied().filter(|o| o.addr != me.addr));
        targets.truncate(needed as usize);
        let sources: Vec<Owner> = self
            .incoming
            .lock()
            .get(&partition)
            .map(|(s, _)| {
                s.iter()
                    .copied()
                    .filter(|s| !targets.iter().any(|t| t.addr == s.addr))
                    .collect()
            })
            .unwrap_or_default();
        let local_only = targets.len() == 1 && targets[0].addr == me.addr && sources.is_empty();
        if local_only {
            return Ok(self.store.get(key));
        }
        // (owner or source, answered, entry)
        let mut answers: Vec<(Owner, bool, bool, Option<Entry>)> = Vec::new();
        let mut calls = FuturesUnordered::new();
        for (is_target, peer) in targets
            .iter()
            .map(|t| (true, *t))
            .chain(sources.iter().map(|s| (false, *s)))
        {
            if peer.addr == me.addr {
                answers.push((peer, is_target, true, self.store.get(key)));
                continue;
            }
            let inner = Arc::clone(self);
            let keys = vec![key.clone()];
            // Owners read through their own incoming partitions; sources answer with their own copy.
            let req = if is_target {
                Request::Fetch { keys }
            } else {
                Request::Peek { keys }
            };
            calls.push(async move {
                let answer = inner.call(peer, req).await.and_then(remote_result);
                (peer, is_target, answer)
            });
        }
        while let Some((peer, is_target, answer)) = calls.next().await {
            match answer {
                Ok(Response::Entries(mut entries)) => {
                    answers.push((peer, is_target, true, entries.pop()));
                }
                Ok(other) => {
                    tracing::debug!(peer = %peer.rpc_addr(), error = %unexpected(&other), "read answer");
                }
                Err(e) => {
                    tracing::debug!(peer = %peer.rpc_addr(), error = %e, "read from an owner failed");
                }
            }
        }
        let reached = answers.iter().filter(|a| a.1 && a.2).count() as u32;
        if reached < needed {
            return Err(self.quorum_failed(QuorumKind::Read, needed, reached));
        }
        let newest = answers
            .iter()
            .filter_map(|a| a.3.as_ref())
            .max_by_key(|e| e.version)
            .cloned();
        if let Some(newest) = &newest {
            self.hlc.observe(newest.version);
            self.repair(newest, &answers, owners, me);
        }
        Ok(newest)
    }

    /// Sends `newest` to every owner that answered a read with an older version (read-repair); stores it
    /// here when this node is an owner and was behind.
    fn repair(
        self: &Arc<Self>,
        newest: &Entry,
        answers: &[(Owner, bool, bool, Option<Entry>)],
        owners: &[Owner],
        me: Owner,
    ) {
        let now = now_ms();
        if newest.expires_at != 0 && newest.expires_at <= now && newest.value.is_some() {
            return;
        }
        for (peer, _, answered, held) in answers {
            let behind = held.as_ref().is_none_or(|h| h.version < newest.version);
            let owner = owners.iter().any(|o| o.addr == peer.addr);
            if !answered || !behind || !owner {
                continue;
            }
            metrics::counter!("relaycache_cluster_read_repairs_total").increment(1);
            if peer.addr == me.addr {
                self.store.apply(newest);
                continue;
            }
            let inner = Arc::clone(self);
            let entry = newest.clone();
            let peer = *peer;
            self.tasks.spawn(async move {
                let key = entry.key.clone();
                if let Err(e) = inner
                    .call(
                        peer,
                        Request::Apply {
                            entries: vec![entry],
                        },
                    )
                    .await
                {
                    tracing::debug!(peer = %peer.rpc_addr(), error = %e, "read-repair failed");
                    inner.hint(peer, key);
                }
            });
        }
    }

    /// This node's newest copies of `keys`; for keys of a partition it is still pulling, also its
    /// sources' copies (asked with `PEEK`), keeping and storing the newest.
    pub(crate) async fn fetch_through(self: &Arc<Self>, keys: Vec<Bytes>) -> Vec<Entry> {
        let pc = self.cfg.tag.partition_count;
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            let local = self.store.get(&key);
            let sources: Vec<Owner> = self
                .incoming
                .lock()
                .get(&partition_of(&key, pc))
                .map(|(s, _)| s.clone())
                .unwrap_or_default();
            let newest = self.peek_newest(sources, &key, local.clone()).await;
            if let Some(e) = &newest {
                if local.as_ref().is_none_or(|l| l.version < e.version) {
                    self.hlc.observe(e.version);
                    self.store.apply(e);
                }
                found.push(e.clone());
            }
        }
        found
    }

    fn quorum_failed(&self, kind: QuorumKind, needed: u32, reached: u32) -> ClusterError {
        metrics::counter!("relaycache_cluster_quorum_failures_total", "quorum" => kind.as_str())
            .increment(1);
        ClusterError::quorum(kind, needed, reached)
    }
}

/// What a write stores under a key, before it has a version.
struct Change {
    key: Bytes,
    /// `None`: a tombstone.
    value: Option<Bytes>,
    /// Absolute expiry, Unix milliseconds; 0 for none.
    expires_at: u64,
}

impl Change {
    fn value(key: Bytes, value: Bytes, expires_at: u64) -> Change {
        Change {
            key,
            value: Some(value),
            expires_at,
        }
    }

    fn delete(key: Bytes) -> Change {
        Change {
            key,
            value: None,
            expires_at: 0,
        }
    }
}
