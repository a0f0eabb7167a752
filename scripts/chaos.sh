#!/usr/bin/env bash
# The chaos run of the fault suite (crates/fault), not part of the gate: 3 nodes (replica_count 2,
# write_quorum 2, member_count_quorum 2) under a client that writes unique values and reads them back,
# while one random fault after another (SIGKILL, SIGTERM, SIGSTOP, minority partition by DROP or REJECT,
# bridge, gossip-only cut, 10% or 30% loss, RPC black hole) is held for 2-8 s and healed; after each,
# the replicas must agree within 30 s. Runs in its own network namespace (unshare --net, as root).
#
#   bash scripts/chaos.sh [MINUTES] [--seed N] [--keep]      # default 5 minutes
#
# Exit status: 0 every check passed, 1 a check failed (the report says which), 2 the harness failed.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-5}
shift || true
cargo build --release --locked -p relaycache-server -p relaycache-fault
exec target/release/relaycache-fault chaos --minutes "$minutes" --server target/release/relaycache-server "$@"
