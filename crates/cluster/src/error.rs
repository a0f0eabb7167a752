//! [`ClusterError`]: everything a node or a client of nodes can report.

use std::time::Duration;

/// Which quorum a call could not gather.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumKind {
    /// `read_quorum`: owners that answered a read.
    Read,
    /// `write_quorum`: owners that acknowledged a write.
    Write,
    /// `member_count_quorum`: live members this node sees.
    MemberCount,
}

impl QuorumKind {
    /// The wire and log name: `read`, `write`, `member_count`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            QuorumKind::Read => "read",
            QuorumKind::Write => "write",
            QuorumKind::MemberCount => "member_count",
        }
    }

    /// Parses [`QuorumKind::as_str`].
    #[must_use]
    pub fn parse(text: &[u8]) -> Option<Self> {
        match text {
            b"read" => Some(QuorumKind::Read),
            b"write" => Some(QuorumKind::Write),
            b"member_count" => Some(QuorumKind::MemberCount),
            _ => None,
        }
    }
}

/// A failed quorum: which one, how many were needed, how many were reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumError {
    /// The quorum that failed.
    pub kind: QuorumKind,
    /// How many were needed.
    pub needed: u32,
    /// How many were reached.
    pub reached: u32,
}

impl std::fmt::Display for QuorumError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, unit) = match self.kind {
            QuorumKind::Read => ("read quorum", "answered"),
            QuorumKind::Write => ("write quorum", "acknowledged"),
            QuorumKind::MemberCount => ("member count quorum", "live"),
        };
        write!(
            f,
            "{what} not reached: {} needed, {} {unit}",
            self.needed, self.reached
        )
    }
}

/// Errors of the cluster crate.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// A quorum could not be gathered.
    #[error("{0}")]
    Quorum(QuorumError),
    /// A peer did not answer within the deadline.
    #[error("request to {peer} ({op}) timed out after {after:?}")]
    Timeout {
        /// The peer's RPC address.
        peer: String,
        /// What was asked.
        op: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// A peer could not be reached, or the connection broke.
    #[error("connection to {peer} failed: {reason}")]
    Connection {
        /// The peer's RPC address.
        peer: String,
        /// What went wrong.
        reason: String,
        /// True when the request certainly did not reach the peer (connect refused, handshake failed),
        /// so another owner may safely take the call over.
        not_sent: bool,
    },
    /// The peer refused the connection's handshake (cluster name, partition count or secret differ).
    #[error("{peer} refused the handshake: {reason}")]
    Refused {
        /// The peer's RPC address.
        peer: String,
        /// Which setting differs.
        reason: String,
    },
    /// The node or client is closed.
    #[error("cluster node is closed")]
    Closed,
    /// A peer sent something this version cannot understand.
    #[error("protocol error from {peer}: {reason}")]
    Protocol {
        /// The peer's RPC address.
        peer: String,
        /// What was wrong.
        reason: String,
    },
    /// An argument could not be used (a TTL past the representable range, an empty address list).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The node could not start (a port in use, an unresolvable address).
    #[error("cannot start the cluster node: {0}")]
    Start(String),
    /// Any other failure reported by a peer, with its text.
    #[error("{0}")]
    Remote(String),
}

impl ClusterError {
    /// Builds a quorum error.
    #[must_use]
    pub fn quorum(kind: QuorumKind, needed: u32, reached: u32) -> Self {
        ClusterError::Quorum(QuorumError {
            kind,
            needed,
            reached,
        })
    }
}

/// Result alias of this crate.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;
