//! Multi-node tests of the cluster crate: real nodes in one process, talking over real UDP (gossip) and
//! TCP (RPC) on 127.0.0.1, on free ports.

mod formation;
mod linearizability;
mod quorum;
mod rebalance;
mod routing;
mod support;
