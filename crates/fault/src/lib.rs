//! # relaycache-fault
//!
//! The fault-injection suite of relaycache's `ha` mode: real `relaycache-server` processes in a private
//! network namespace, faults injected with iptables and signals, clients that record every operation,
//! and checks of the recorded history. What the suite measured is in `docs/guarantees.md`.
//!
//! ## Map
//! - [`netns`]: the private namespace (`unshare --net`, checks that only `lo` exists) and [`netns::Firewall`],
//!   the iptables rules (partition, one-way cut, loss, DROP vs REJECT), flushed on drop.
//! - [`node`]: one node process on its own 127.0.0.x address with fixed ports; SIGKILL, SIGSTOP/SIGCONT,
//!   SIGTERM, restart; killed on drop.
//! - [`cluster`]: the nodes of a scenario; `/cluster` views, waits with deadlines, and each node's own
//!   copies over the cluster RPC (`PEEK`).
//! - [`workload`]: RESP clients (the `redis` crate, async, a timeout per operation) that record each
//!   operation; looping clients with a stop signal and a deadline.
//! - [`history`]: the recorded operations and the checks of an acceptable history.
//! - [`report`]: what a scenario measured and which checks failed.
//! - [`scenario`]: the scenarios (`kill`, `pause`, `minority`, `split-refuse`, `split-lww`, `bridge`,
//!   `gossip`, `loss10`, `loss30`, `blackhole`, `rolling`, `chaos`).
//!
//! The binary `relaycache-fault <scenario>` re-executes itself under `unshare --net`, runs one scenario,
//! prints its report and exits 0 when every check passed, 1 when one failed, 2 when the harness could
//! not run it. The integration tests run it once per scenario (all but `chaos`); `scripts/chaos.sh`
//! runs the chaos scenario.

pub mod cluster;
pub mod history;
pub mod netns;
pub mod node;
pub mod report;
pub mod scenario;
pub mod workload;
