//! A cluster of [`Node`]s: start, observe (`/cluster`, `PEEK`), wait for states with deadlines.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use relaycache_cluster::ClusterTag;
use relaycache_cluster::placement::partition_of;
use relaycache_cluster::rpc::{Entry, Request, Response, RpcClient, RpcSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::node::{Node, Settings};

/// How long a node may take to print its banner.
pub const START_WITHIN: Duration = Duration::from_secs(30);
/// `partition_count` of every scenario (the default).
pub const PARTITION_COUNT: u32 = 271;

/// What a node's `/cluster` says.
#[derive(Debug, Clone)]
pub struct Info {
    /// `cluster_members`.
    pub members: usize,
    /// RPC addresses of the live members.
    pub member_rpc: Vec<String>,
    /// `state`: `serving`, `below member_count_quorum`, `leaving`.
    pub state: String,
    /// `fingerprint`.
    pub fingerprint: u64,
    /// `epoch`.
    pub epoch: u64,
    /// `incoming_partitions`.
    pub incoming: u64,
    /// Owners (RPC addresses, primary first) of each partition.
    pub partitions: Vec<Vec<String>>,
}

impl Info {
    fn parse(v: &serde_json::Value) -> Option<Info> {
        let partitions = v["partitions"]
            .as_array()?
            .iter()
            .map(|owners| {
                owners
                    .as_array()
                    .map(|o| {
                        o.iter()
                            .filter_map(|a| a.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        let member_rpc = v["members"]
            .as_array()?
            .iter()
            .filter_map(|m| m["rpc_addr"].as_str().map(str::to_owned))
            .collect();
        Some(Info {
            members: usize::try_from(v["cluster_members"].as_u64()?).ok()?,
            member_rpc,
            state: v["state"].as_str()?.to_owned(),
            fingerprint: v["fingerprint"].as_u64()?,
            epoch: v["epoch"].as_u64()?,
            incoming: v["incoming_partitions"].as_u64()?,
            partitions,
        })
    }

    /// The owners of `key`'s partition, primary first.
    #[must_use]
    pub fn owners_of(&self, key: &str) -> &[String] {
        let p = partition_of(key.as_bytes(), PARTITION_COUNT) as usize;
        self.partitions.get(p).map_or(&[], Vec::as_slice)
    }
}

/// A blocking-free HTTP GET with a deadline: (status, body).
///
/// # Errors
/// When the node does not answer within `within`.
pub async fn http_get(addr: SocketAddr, path: &str, within: Duration) -> Result<(u16, String)> {
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: fault\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(within, fetch)
        .await
        .with_context(|| format!("GET {path} on {addr}: no answer within {within:?}"))??;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The running nodes of a scenario and the means to look into them.
pub struct Cluster {
    /// The nodes, by index.
    pub nodes: Vec<Node>,
    /// The settings every node runs with.
    pub settings: Settings,
    rpc: RpcClient,
}

impl Cluster {
    /// Writes the configurations of `n` nodes into `dir`, starts them all at once and waits until each
    /// serves and all see each other.
    ///
    /// # Errors
    /// When a node does not start, or the cluster does not form within 30 s.
    pub async fn start(server: &Path, dir: &Path, n: usize, settings: Settings) -> Result<Cluster> {
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            nodes.push(Node::new(server, dir, i, n, &settings)?);
        }
        for node in &mut nodes {
            node.spawn()?;
        }
        for node in &mut nodes {
            node.wait_serving(START_WITHIN).await?;
        }
        let tag = ClusterTag {
            dmap_name: "cc-relay".to_owned(),
            partition_count: PARTITION_COUNT,
            environment: 0,
        };
        let rpc = RpcClient::new(RpcSettings::new(tag, None, Duration::from_secs(2)));
        let cluster = Cluster {
            nodes,
            settings,
            rpc,
        };
        let all: Vec<usize> = (0..n).collect();
        cluster.wait_formed(&all, Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    /// Node `i`'s `/cluster`, if it answers within 2 s.
    pub async fn info(&self, i: usize) -> Option<Info> {
        let (status, body) = http_get(self.nodes[i].admin(), "/cluster", Duration::from_secs(2))
            .await
            .ok()?;
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        Info::parse(&v)
    }

    /// Waits until every node of `group` sees exactly the members of `group`, with one fingerprint;
    /// returns how long that took.
    ///
    /// # Errors
    /// When that does not happen within `within` (the error carries every node's view and log tail).
    pub async fn wait_formed(&self, group: &[usize], within: Duration) -> Result<Duration> {
        let started = Instant::now();
        let expected: Vec<String> = {
            let mut e: Vec<String> = group
                .iter()
                .map(|&i| self.nodes[i].rpc().to_string())
                .collect();
            e.sort();
            e
        };
        loop {
            let mut ok = true;
            let mut fingerprint = None;
            for &i in group {
                match self.info(i).await {
                    Some(info) => {
                        let mut seen = info.member_rpc.clone();
                        seen.sort();
                        if seen != expected || fingerprint.is_some_and(|f| f != info.fingerprint) {
                            ok = false;
                        }
                        fingerprint = Some(info.fingerprint);
                    }
                    None => ok = false,
                }
                if !ok {
                    break;
                }
            }
            if ok {
                return Ok(started.elapsed());
            }
            if started.elapsed() > within {
                bail!(
                    "nodes {group:?} did not form one view within {within:?}:\n{}",
                    self.describe(group).await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every node of `group` has no incoming partition (its pulls are done).
    ///
    /// # Errors
    /// When that does not happen within `within`.
    pub async fn wait_settled(&self, group: &[usize], within: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            let mut ok = true;
            for &i in group {
                if self.info(i).await.is_none_or(|info| info.incoming != 0) {
                    ok = false;
                    break;
                }
            }
            if ok {
                return Ok(started.elapsed());
            }
            if started.elapsed() > within {
                bail!(
                    "nodes {group:?} still pull partitions after {within:?}:\n{}",
                    self.describe(group).await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until `check` holds on node `i`'s `/cluster` (a node that does not answer fails the check);
    /// returns how long it took.
    ///
    /// # Errors
    /// When it does not hold within `within`.
    pub async fn wait_info(
        &self,
        i: usize,
        within: Duration,
        what: &str,
        check: impl Fn(&Info) -> bool,
    ) -> Result<Duration> {
        let started = Instant::now();
        loop {
            if self.info(i).await.is_some_and(|info| check(&info)) {
                return Ok(started.elapsed());
            }
            if started.elapsed() > within {
                bail!(
                    "{} did not reach `{what}` within {within:?}:\n{}",
                    self.nodes[i].name(),
                    self.describe(&[i]).await
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Each node's view and log tail, for error messages.
    pub async fn describe(&self, group: &[usize]) -> String {
        let mut out = String::new();
        for &i in group {
            let view = match self.info(i).await {
                Some(info) => format!(
                    "{} sees {} members {:?}, state {}, epoch {}, incoming {}",
                    self.nodes[i].name(),
                    info.members,
                    info.member_rpc,
                    info.state,
                    info.epoch,
                    info.incoming
                ),
                None => format!("{} does not answer /cluster", self.nodes[i].name()),
            };
            out.push_str(&view);
            out.push('\n');
            out.push_str(&self.nodes[i].log_tail(25));
        }
        out
    }

    /// Node `i`'s own stored copies of `keys` (`PEEK` over the cluster RPC, from 127.0.0.1), by key.
    ///
    /// # Errors
    /// When the node does not answer.
    pub async fn peek(&self, i: usize, keys: &[String]) -> Result<HashMap<String, Entry>> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(500) {
            let req = Request::Peek {
                keys: chunk.iter().map(|k| Bytes::from(k.clone())).collect(),
            };
            let (resp, _) = self
                .rpc
                .call(self.nodes[i].rpc(), 0, req)
                .await
                .with_context(|| format!("PEEK on {}", self.nodes[i].name()))?;
            match resp {
                Response::Entries(entries) => {
                    for e in entries {
                        found.insert(String::from_utf8_lossy(&e.key).into_owned(), e);
                    }
                }
                other => bail!(
                    "PEEK on {}: unexpected answer {other:?}",
                    self.nodes[i].name()
                ),
            }
        }
        Ok(found)
    }

    /// The index of the node with this RPC address.
    #[must_use]
    pub fn index_of_rpc(&self, rpc: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.rpc().to_string() == rpc)
    }

    /// Log tails of every node.
    #[must_use]
    pub fn logs(&self) -> String {
        self.nodes.iter().map(|n| n.log_tail(30)).collect()
    }
}
