//! The connection to the deployment: one server through redis-rs' `ConnectionManager` (reconnects with
//! backoff), or a Redis Cluster through `cluster_async` (slot routing, redirects, retries). Commands that
//! must reach one particular node (`SCAN`, `INFO`, `DBSIZE`) go through [`Node`].

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, RedisFuture, RedisResult, Value,
};

/// A cheap-to-clone handle on the deployment; every clone shares the same connections.
#[derive(Clone)]
pub(crate) enum Conn {
    /// One Redis or Valkey server.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conn::Single(_) => f.write_str("Conn::Single"),
            Conn::Cluster(_) => f.write_str("Conn::Cluster"),
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A node that holds data: the one server, or one master of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Node {
    /// The single server.
    Server,
    /// A cluster master, by the address the cluster announces.
    Master {
        /// Host or IP.
        host: String,
        /// Port.
        port: u16,
    },
}

impl Conn {
    /// True for a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    /// The nodes that hold data: the server, or every master that `CLUSTER SLOTS` lists, sorted by
    /// address (so that a scan cursor names the same node from one call to the next while the topology is
    /// stable). The list is the cluster's own view, so a master that is down is still listed, and calls
    /// to it fail instead of being silently skipped.
    pub(crate) async fn nodes(&mut self) -> RedisResult<Vec<Node>> {
        let cluster = match self {
            Conn::Single(_) => return Ok(vec![Node::Server]),
            Conn::Cluster(c) => c,
        };
        let ranges: Vec<Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(cluster)
            .await?;
        let mut nodes = Vec::with_capacity(ranges.len());
        for range in ranges {
            let master = match &range {
                Value::Array(items) if items.len() >= 3 => &items[2],
                other => return Err(unexpected("a CLUSTER SLOTS range", other)),
            };
            let (host, port) = match master {
                Value::Array(addr) if addr.len() >= 2 => (
                    redis::from_redis_value_ref::<String>(&addr[0])?,
                    redis::from_redis_value_ref::<u16>(&addr[1])?,
                ),
                other => return Err(unexpected("a master address", other)),
            };
            if host.is_empty() || host == "?" {
                return Err(unexpected("a master with a host", master));
            }
            nodes.push(Node::Master { host, port });
        }
        nodes.sort();
        nodes.dedup();
        if nodes.is_empty() {
            return Err(RedisError::from((
                ErrorKind::Server(redis::ServerErrorKind::ClusterDown),
                "the cluster serves no slot",
            )));
        }
        Ok(nodes)
    }

    /// PINGs every node; fails if one does not answer.
    pub(crate) async fn ping_all(&mut self) -> RedisResult<()> {
        let nodes = self.nodes().await?;
        let pings = nodes.iter().map(|node| {
            let mut conn = self.clone();
            async move { conn.query_on::<()>(node, redis::cmd("PING")).await }
        });
        futures::future::try_join_all(pings).await?;
        Ok(())
    }

    /// Runs `cmd` on `node`.
    pub(crate) async fn query_on<T: FromRedisValue>(
        &mut self,
        node: &Node,
        cmd: Cmd,
    ) -> RedisResult<T> {
        match (self, node) {
            (Conn::Cluster(c), Node::Master { host, port }) => {
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                let value = c
                    .route_command(cmd, routing)
                    .await
                    .map_err(|e| unreachable_master(e, host, *port))?;
                Ok(redis::from_redis_value(value)?)
            }
            (conn, _) => cmd.query_async(conn).await,
        }
    }

    /// Runs the commands of `pipe` (not atomic) on `node` and converts their replies, in order.
    pub(crate) async fn pipeline_on<T: FromRedisValue>(
        &mut self,
        node: &Node,
        pipe: Pipeline,
    ) -> RedisResult<T> {
        match (self, node) {
            (Conn::Cluster(c), Node::Master { host, port }) => {
                let count = pipe.len();
                let route = SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                };
                let replies = c
                    .route_pipeline(pipe, 0, count, route)
                    .await
                    .map_err(|e| unreachable_master(e, host, *port))?;
                for reply in &replies {
                    if let Value::ServerError(e) = reply {
                        return Err(e.clone().into());
                    }
                }
                Ok(redis::from_redis_value(Value::Array(replies))?)
            }
            (conn, _) => pipe.query_async(conn).await,
        }
    }
}

/// redis-rs answers a call routed to a master it holds no connection to (because the master went down)
/// with a client error; report it as what it is, a connection failure.
fn unreachable_master(e: RedisError, host: &str, port: u16) -> RedisError {
    if e.kind() == ErrorKind::Client && e.to_string().contains("connection not found") {
        RedisError::from(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            format!("no connection to cluster master {host}:{port} ({e})"),
        ))
    } else {
        e
    }
}

/// A client-side error for a reply of the wrong shape.
pub(crate) fn unexpected(want: &str, got: &Value) -> RedisError {
    RedisError::from((
        ErrorKind::UnexpectedReturnType,
        "unexpected reply",
        format!("want {want}, got {got:?}"),
    ))
}
