//! [`Client`]: a client of external nodes (`embedded: false`). It learns the routing table from the
//! nodes and sends each operation straight to the key's primary, refreshing the table when a node
//! answers with another fingerprint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;

use crate::auth::{AuthKey, RPC_LABEL};
use crate::config::ClientConfig;
use crate::error::{ClusterError, Result};
use crate::node::{
    into_entry, into_versioned, purge_members, remote_result, resolve, scan_members, unexpected,
};
use crate::placement::{Owner, Table};
use crate::rpc::message::{Entry, NodeStats, Op, RemoteError, Request, Response, TableInfo};
use crate::rpc::{RpcClient, RpcSettings};

/// A client of cluster nodes. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addresses", &self.inner.cfg.addresses)
            .finish_non_exhaustive()
    }
}

struct ClientInner {
    cfg: ClientConfig,
    rpc: RpcClient,
    table: RwLock<Arc<Table>>,
    refreshing: AtomicBool,
    closed: AtomicBool,
}

impl Client {
    /// Connects to the first of `addresses` that answers and learns the routing table from it.
    ///
    /// # Errors
    /// [`ClusterError::InvalidArgument`] without addresses; the last node's error when none answers.
    pub async fn connect(cfg: ClientConfig) -> Result<Client> {
        if cfg.addresses.is_empty() {
            return Err(ClusterError::InvalidArgument(
                "a cluster client needs at least one node address".to_owned(),
            ));
        }
        let key = cfg.secret.as_deref().map(|s| AuthKey::derive(s, RPC_LABEL));
        let rpc = RpcClient::new(RpcSettings {
            tag: cfg.tag.clone(),
            key,
            request_timeout: cfg.request_timeout,
            local_ip: None,
            connections_per_peer: 2,
            max_connections: 1024,
        });
        let inner = Arc::new(ClientInner {
            table: RwLock::new(Arc::new(Table::new(&[], cfg.tag.partition_count, 1, 0))),
            cfg,
            rpc,
            refreshing: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        inner.refresh().await?;
        Ok(Client { inner })
    }

    /// The routing table as last learnt.
    #[must_use]
    pub fn table(&self) -> Arc<Table> {
        Arc::clone(&self.inner.table.read())
    }

    /// Learns the routing table again.
    ///
    /// # Errors
    /// When no node answers.
    pub async fn refresh(&self) -> Result<()> {
        self.inner.refresh().await
    }

    /// Reads `key`: the newest live entry, or `None`.
    ///
    /// # Errors
    /// [`ClusterError::Quorum`], [`ClusterError::Timeout`], [`ClusterError::Connection`],
    /// [`ClusterError::Closed`].
    pub async fn get(&self, key: &[u8]) -> Result<Option<Entry>> {
        into_entry(
            self.inner
                .execute(Op::Get {
                    key: Bytes::copy_from_slice(key),
                })
                .await?,
        )
    }

    /// Reads many keys with one call per primary; answers in the order of `keys` (`None`: a miss).
    ///
    /// # Errors
    /// As [`Client::get`], for the first key that failed.
    pub async fn get_multi(&self, keys: &[&[u8]]) -> Result<Vec<Option<Entry>>> {
        let ops = Op::gets(keys);
        self.inner
            .execute_batch(ops)
            .await
            .into_iter()
            .map(|a| a.and_then(into_entry))
            .collect()
    }

    /// Writes many keys with one call per primary, all expiring at `expires_at` (0: never).
    ///
    /// # Errors
    /// As [`Client::set`], for the first key that failed (the others may have been written).
    pub async fn set_multi(&self, items: &[(&[u8], &[u8])], expires_at: u64) -> Result<()> {
        let ops = Op::sets(items, expires_at);
        for answer in self.inner.execute_batch(ops).await {
            answer?;
        }
        Ok(())
    }

    /// Reads `key`'s presence and deadline.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn meta(&self, key: &[u8]) -> Result<Option<Entry>> {
        into_entry(
            self.inner
                .execute(Op::Meta {
                    key: Bytes::copy_from_slice(key),
                })
                .await?,
        )
    }

    /// Reads `key`'s stored entry as its primary holds it, a tombstone or an expired value included
    /// (as an entry without a value): the version a compare-and-set ([`Client::set_if`]) expects.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn read_versioned(&self, key: &[u8]) -> Result<Option<Entry>> {
        into_versioned(
            self.inner
                .execute(Op::Meta {
                    key: Bytes::copy_from_slice(key),
                })
                .await?,
        )
    }

    /// Writes `value` (a tombstone when `None`) under `key`, expiring at `expires_at`, only if the
    /// version stored at the key's primary is `expected` ([`Version::ZERO`](crate::Version::ZERO):
    /// nothing); returns whether it wrote.
    ///
    /// # Errors
    /// As [`Client::get`]; a connection that broke after the request was sent is an error (the write
    /// may or may not have happened), not retried elsewhere.
    pub async fn set_if(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        expires_at: u64,
        expected: crate::Version,
    ) -> Result<bool> {
        let op = Op::SetIf {
            key: Bytes::copy_from_slice(key),
            value: value.map(Bytes::copy_from_slice),
            expires_at,
            expected,
        };
        match self.inner.execute(op).await? {
            Response::Count(n) => Ok(n > 0),
            other => Err(unexpected(&other)),
        }
    }

    /// Writes `value` under `key`, expiring at `expires_at` (Unix ms; 0 never).
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn set(&self, key: &[u8], value: &[u8], expires_at: u64) -> Result<()> {
        self.inner
            .execute(Op::Set {
                key: Bytes::copy_from_slice(key),
                value: Bytes::copy_from_slice(value),
                expires_at,
            })
            .await
            .map(drop)
    }

    /// Deletes `key`.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn delete(&self, key: &[u8]) -> Result<()> {
        self.inner
            .execute(Op::Delete {
                key: Bytes::copy_from_slice(key),
            })
            .await
            .map(drop)
    }

    /// Sets or removes (0) the deadline of a present key; false when absent.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn expire(&self, key: &[u8], expires_at: u64) -> Result<bool> {
        match self
            .inner
            .execute(Op::Expire {
                key: Bytes::copy_from_slice(key),
                expires_at,
            })
            .await?
        {
            Response::Count(n) => Ok(n > 0),
            other => Err(unexpected(&other)),
        }
    }

    /// Every member's counters, keyed by RPC address.
    pub async fn cluster_stats(&self) -> Vec<(SocketAddr, Result<NodeStats>)> {
        let members = self.table().members().to_vec();
        let calls = members.into_iter().map(|m| {
            let inner = Arc::clone(&self.inner);
            async move {
                let answer = inner.call(m, Request::Stats).await.and_then(|r| match r {
                    Response::Stats(s) => Ok(s),
                    other => Err(unexpected(&other)),
                });
                (m.rpc_addr(), answer)
            }
        });
        futures::future::join_all(calls).await
    }

    /// A page of the cluster's keys starting with `prefix` (see `Node::scan` for the cursor).
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn scan(
        &self,
        cursor: u64,
        prefix: &[u8],
        count: usize,
    ) -> Result<(u64, Vec<Bytes>)> {
        self.inner.check_open()?;
        let members = self.table().members().to_vec();
        scan_members(&members, cursor, prefix, count, |m, req| {
            let inner = Arc::clone(&self.inner);
            async move { inner.call(m, req).await }
        })
        .await
    }

    /// Removes every key starting with `prefix` on every member; returns how many.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn purge_prefix(&self, prefix: &[u8]) -> Result<u64> {
        self.inner.check_open()?;
        let members = self.table().members().to_vec();
        purge_members(&members, prefix, |m, req| {
            let inner = Arc::clone(&self.inner);
            async move { inner.call(m, req).await }
        })
        .await
    }

    /// Closes every connection; later calls fail with [`ClusterError::Closed`]. Idempotent.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.rpc.close();
    }
}

impl ClientInner {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(ClusterError::Closed)
        } else {
            Ok(())
        }
    }

    fn table(&self) -> Arc<Table> {
        Arc::clone(&self.table.read())
    }

    async fn call(&self, member: Owner, req: Request) -> Result<Response> {
        let fp = self.table().fingerprint();
        let (resp, _) = self.rpc.call(member.rpc_addr(), fp, req).await?;
        remote_result(resp)
    }

    /// Sends `op` to its primary, then to the other owners when a call certainly did not arrive; learns
    /// the table again when a node's view differs or no owner could be reached.
    async fn execute(self: &Arc<Self>, op: Op) -> Result<Response> {
        self.check_open()?;
        let mut last = None;
        for attempt in 0..2 {
            let table = self.table();
            let owners: Vec<Owner> = table.owners_of(op.key()).collect();
            for (rank, target) in owners.iter().enumerate() {
                let req = Request::Op {
                    hops: u8::from(rank > 0),
                    op: op.clone(),
                };
                match self
                    .rpc
                    .call(target.rpc_addr(), table.fingerprint(), req)
                    .await
                {
                    Ok((Response::Error(RemoteError::Closed), _)) => {
                        last = Some(ClusterError::Closed);
                    }
                    Ok((resp, fingerprint)) => {
                        if fingerprint != 0 && fingerprint != table.fingerprint() {
                            self.refresh_soon();
                        }
                        return remote_result(resp);
                    }
                    // Unreachable or broken: the next owner runs it (routed operations are
                    // idempotent, so this is safe even if the broken call had arrived), except a
                    // compare-and-set that may have arrived: it is not idempotent.
                    Err(e @ ClusterError::Connection { not_sent, .. })
                        if not_sent || !matches!(op, Op::SetIf { .. }) =>
                    {
                        last = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            if attempt == 0 {
                // Every owner we know failed: the table is likely stale.
                if let Err(e) = self.refresh().await {
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or(ClusterError::Closed))
    }

    /// Sends `ops` as one `BATCH` per primary; a primary that cannot take it gets its operations one by
    /// one through [`ClientInner::execute`]. Answers in the order of `ops`.
    async fn execute_batch(self: &Arc<Self>, ops: Vec<Op>) -> Vec<Result<Response>> {
        if let Err(e) = self.check_open() {
            return ops.iter().map(|_| Err(e.clone())).collect();
        }
        let table = self.table();
        let mut groups: Vec<(Owner, Vec<usize>)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let Some(primary) = table.owners_of(op.key()).next() else {
                continue;
            };
            match groups.iter_mut().find(|(o, _)| o.addr == primary.addr) {
                Some((_, idx)) => idx.push(i),
                None => groups.push((primary, vec![i])),
            }
        }
        let runs = groups.into_iter().map(|(primary, idx)| {
            let inner = Arc::clone(self);
            let batch: Vec<Op> = idx.iter().map(|&i| ops[i].clone()).collect();
            let fp = table.fingerprint();
            async move {
                let req = Request::Batch {
                    hops: 0,
                    ops: batch.clone(),
                };
                match inner.rpc.call(primary.rpc_addr(), fp, req).await {
                    Ok((Response::Batch(items), peer_fp)) if items.len() == idx.len() => {
                        if peer_fp != 0 && peer_fp != fp {
                            inner.refresh_soon();
                        }
                        idx.into_iter()
                            .zip(items)
                            .map(|(i, item)| (i, remote_result(item)))
                            .collect::<Vec<_>>()
                    }
                    Err(e) if !matches!(e, ClusterError::Connection { .. }) => {
                        idx.into_iter().map(|i| (i, Err(e.clone()))).collect()
                    }
                    _ => {
                        let runs = batch.into_iter().map(|op| inner.execute(op));
                        idx.into_iter()
                            .zip(futures::future::join_all(runs).await)
                            .collect()
                    }
                }
            }
        });
        let mut answers: Vec<Option<Result<Response>>> = (0..ops.len()).map(|_| None).collect();
        for (i, answer) in futures::future::join_all(runs).await.into_iter().flatten() {
            answers[i] = Some(answer);
        }
        answers
            .into_iter()
            .map(|a| {
                a.unwrap_or_else(|| {
                    Err(ClusterError::Remote(
                        "the cluster has no members".to_owned(),
                    ))
                })
            })
            .collect()
    }

    /// Starts a refresh in the background unless one runs.
    fn refresh_soon(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = inner.refresh().await {
                tracing::debug!(error = %e, "cluster table refresh failed");
            }
            inner.refreshing.store(false, Ordering::Release);
        });
    }

    /// Asks the known members, then the configured addresses, for the table; keeps the first answer.
    async fn refresh(&self) -> Result<()> {
        let mut candidates: Vec<SocketAddr> =
            self.table().members().iter().map(Owner::rpc_addr).collect();
        for addr in &self.cfg.addresses {
            match resolve(addr).await {
                Ok(a) if !candidates.contains(&a) => candidates.push(a),
                Ok(_) => {}
                Err(e) => tracing::debug!(address = %addr, error = %e, "cannot resolve a node"),
            }
        }
        let mut last = ClusterError::Connection {
            peer: self.cfg.addresses.join(","),
            reason: "no node address resolved".to_owned(),
            not_sent: true,
        };
        for addr in candidates {
            match self.rpc.call(addr, 0, Request::Table).await {
                Ok((Response::Table(info), _)) => {
                    let table = table_of(&info, self.table().epoch() + 1)?;
                    *self.table.write() = Arc::new(table);
                    return Ok(());
                }
                Ok((other, _)) => {
                    last = remote_result(other)
                        .err()
                        .unwrap_or_else(|| ClusterError::Protocol {
                            peer: addr.to_string(),
                            reason: "TABLE answered with something else".to_owned(),
                        })
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// The table a node described.
fn table_of(info: &TableInfo, epoch: u64) -> Result<Table> {
    let mut members = Vec::with_capacity(info.members.len());
    for m in &info.members {
        let addr: SocketAddr = m.gossip_addr.parse().map_err(|_| ClusterError::Protocol {
            peer: m.gossip_addr.clone(),
            reason: "member address is not host:port".to_owned(),
        })?;
        members.push(Owner {
            addr,
            generation: m.generation,
        });
    }
    Ok(Table::new(
        &members,
        info.partition_count,
        info.replica_count,
        epoch,
    ))
}
