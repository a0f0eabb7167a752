#!/usr/bin/env bash
# A 3-node relaycache cluster (ha mode) on 127.0.0.1, without Docker, end to end:
#   1. writes three node configs into a temporary directory (ha, environment local, replica_count 2,
#      each node's peers = the gossip ports of the other two) and validates them;
#   2. starts three relaycache-server processes and waits (bounded) until every node's /readyz is 200
#      and CLUSTER.MEMBERS reports 3 members on every node;
#   3. sets keys through node 1 with redis-cli, reads them back through nodes 2 and 3 and prints them,
#      prints CLUSTER.MEMBERS of every node;
#   4. stops the nodes with SIGTERM (graceful leave) and removes the directory, unless --keep is given.
# Exits non-zero when a node does not start or join, or when a read-back differs from what was written.
# On any failure or Ctrl-C the nodes are killed.
#
# Usage: scripts/demo-cluster.sh [--keep]
# Environment:
#   RELAYCACHE_BIN_DIR  where relaycache-server is (default target/release). target/release and
#                       target/debug are built with cargo first (a no-op when up to date); SKIP_BUILD=1
#                       skips that. Any other directory is used as it is.
#   RESP_PORTS, ADMIN_PORTS, RPC_PORTS
#                       three space-separated ports each (node 1 2 3) instead of free ones picked at
#                       start; gossip uses RPC port + 2 (UDP), and the RPC port also listens on UDP.
#   READY_TIMEOUT       seconds to wait for the cluster to form (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."

KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (usage: $0 [--keep])" >&2; exit 2 ;;
  esac
done

BIN_DIR=${RELAYCACHE_BIN_DIR:-target/release}
READY_TIMEOUT=${READY_TIMEOUT:-20}
for tool in redis-cli curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-tools curl python3)" >&2; exit 1; }
done
if [ -z "${SKIP_BUILD:-}" ]; then
  case "${BIN_DIR%/}" in
    target/release) cargo build --release -p relaycache-server --bins >&2 ;;
    target/debug) cargo build -p relaycache-server --bins >&2 ;;
  esac
fi
SERVER=$BIN_DIR/relaycache-server
CLI=$BIN_DIR/relaycache
[ -x "$SERVER" ] || { echo "no $SERVER (cargo build --release -p relaycache-server)" >&2; exit 1; }

log() { printf '==> %s\n' "$*"; }

# --- ports --------------------------------------------------------------------------------------------
# Free ports, all distinct: 3 RESP (tcp), 3 admin (tcp), 3 RPC (tcp + udp) whose port + 2 is free (udp).
free_ports() {
  python3 - <<'EOF'
import socket
held, out = [], []
def grab(kind, port=0):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", port))
    held.append(s)
    return s.getsockname()[1]
for _ in range(6):
    out.append(grab(socket.SOCK_STREAM))
rpc = []
while len(rpc) < 3:
    p = grab(socket.SOCK_STREAM)
    try:
        grab(socket.SOCK_DGRAM, p)
        grab(socket.SOCK_DGRAM, p + 2)
        grab(socket.SOCK_STREAM, p + 2)
    except OSError:
        continue
    rpc.append(p)
print(" ".join(map(str, out + rpc)))
EOF
}
read -r -a picked <<<"$(free_ports)"
read -r -a RESP <<<"${RESP_PORTS:-${picked[*]:0:3}}"
read -r -a ADMIN <<<"${ADMIN_PORTS:-${picked[*]:3:3}}"
read -r -a RPC <<<"${RPC_PORTS:-${picked[*]:6:3}}"
if [ "${#RESP[@]}" -ne 3 ] || [ "${#ADMIN[@]}" -ne 3 ] || [ "${#RPC[@]}" -ne 3 ]; then
  echo "RESP_PORTS, ADMIN_PORTS and RPC_PORTS need three ports each" >&2
  exit 2
fi

# --- processes and cleanup ----------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/relaycache-demo.XXXXXX")
pids=()
ok=0
stop_nodes() { # signal
  local p
  for p in "${pids[@]}"; do kill "-$1" "$p" 2>/dev/null || true; done
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$KEEP" -eq 1 ] && [ "$ok" -eq 1 ]; then
    echo
    echo "nodes left running (--keep): pids ${pids[*]}; configs and logs in $WORK"
    echo "stop them with: kill ${pids[*]}"
    exit "$status"
  fi
  if ((${#pids[@]})); then
    stop_nodes TERM
    # Graceful leave takes up to leave_timeout (2 s here); kill whatever is left after 10 s.
    for _ in $(seq 1 100); do
      alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ "$alive" -eq 0 ] && break
      sleep 0.1
    done
    stop_nodes KILL
    wait 2>/dev/null || true
    [ "$status" -eq 0 ] && log "nodes stopped"
  fi
  if [ "$status" -ne 0 ] && [ "$status" -ne 130 ]; then
    for i in 1 2 3; do
      [ -f "$WORK/node$i.log" ] && { echo "--- node $i log (last 20 lines)" >&2; tail -n 20 "$WORK/node$i.log" >&2; }
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# --- configs ------------------------------------------------------------------------------------------
SECRET="demo-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
for i in 0 1 2; do
  n=$((i + 1))
  peers=()
  for j in 0 1 2; do [ "$j" -ne "$i" ] && peers+=("\"127.0.0.1:$((RPC[j] + 2))\""); done
  rpc=${RPC[i]} gossip=$((RPC[i] + 2)) resp=${RESP[i]} admin=${ADMIN[i]}
  peer_list=$(IFS=,; echo "${peers[*]}")
  cat >"$WORK/node$n.yaml" <<EOF
# node $n of the demo cluster (written by scripts/demo-cluster.sh)
cache:
  mode: ha
  ristretto:
    max_cost: 64MiB
  olric:
    embedded: true
    bind_addr: "127.0.0.1:$rpc"      # RPC; gossip on $gossip/udp
    environment: local
    peers: [$peer_list]
    replica_count: 2
    read_quorum: 1
    write_quorum: 1
    member_count_quorum: 1
    leave_timeout: 2s
    secret: "\${DEMO_CLUSTER_SECRET}"
server:
  bind: 127.0.0.1
  port: $resp
  shutdown_timeout: 2s
  admin:
    bind: 127.0.0.1
    port: $admin
logging:
  level: info
EOF
done
export DEMO_CLUSTER_SECRET=$SECRET
if [ -x "$CLI" ]; then
  for n in 1 2 3; do "$CLI" config validate "$WORK/node$n.yaml" >/dev/null; done
fi

log "starting 3 nodes ($SERVER)"
for i in 0 1 2; do
  n=$((i + 1))
  "$SERVER" --config "$WORK/node$n.yaml" >"$WORK/node$n.log" 2>&1 &
  pids+=($!)
  printf '    node %d: pid %-7d RESP 127.0.0.1:%-5d admin http://127.0.0.1:%-5d RPC %d/tcp gossip %d/udp\n' \
    "$n" "${pids[i]}" "${RESP[i]}" "${ADMIN[i]}" "${RPC[i]}" "$((RPC[i] + 2))"
done

# --- wait for the cluster -----------------------------------------------------------------------------
members() { # resp port -> the member count CLUSTER.MEMBERS reports (empty when it does not answer)
  redis-cli -h 127.0.0.1 -p "$1" CLUSTER.MEMBERS 2>/dev/null | awk 'prev == "cluster_members" { print; exit } { prev = $0 }'
}
ready() { # admin port -> HTTP status of /readyz
  curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/readyz" 2>/dev/null || true
}
log "waiting for the cluster to form (at most ${READY_TIMEOUT}s)"
start=$SECONDS
formed=0
for _ in $(seq 1 $((READY_TIMEOUT * 5))); do
  formed=1
  for i in 0 1 2; do
    kill -0 "${pids[i]}" 2>/dev/null || { echo "node $((i + 1)) exited" >&2; exit 1; }
    if [ "$(ready "${ADMIN[i]}")" != 200 ] || [ "$(members "${RESP[i]}")" != 3 ]; then formed=0; break; fi
  done
  [ "$formed" -eq 1 ] && break
  [ $((SECONDS - start)) -ge "$READY_TIMEOUT" ] && break
  sleep 0.2
done
if [ "$formed" -ne 1 ]; then
  echo "the cluster did not form within ${READY_TIMEOUT}s:" >&2
  for i in 0 1 2; do
    echo "    node $((i + 1)): /readyz $(ready "${ADMIN[i]}"), CLUSTER.MEMBERS count '$(members "${RESP[i]}")'" >&2
  done
  exit 1
fi
log "cluster formed in $((SECONDS - start))s: every node is ready and sees 3 members"

# --- write through node 1, read through nodes 2 and 3 -------------------------------------------------
KEYS=(user:1 user:2 user:3 session:abc order:42 cart:7 greeting config:flags counter page:/index.html)
log "SET ${#KEYS[@]} keys through node 1 (127.0.0.1:${RESP[0]})"
for k in "${KEYS[@]}"; do
  reply=$(redis-cli -h 127.0.0.1 -p "${RESP[0]}" SET "$k" "value of $k" EX 300)
  [ "$reply" = OK ] || { echo "SET $k through node 1 answered: $reply" >&2; exit 1; }
done

mismatches=0
for i in 1 2; do
  log "GET through node $((i + 1)) (127.0.0.1:${RESP[i]})"
  for k in "${KEYS[@]}"; do
    got=$(redis-cli -h 127.0.0.1 -p "${RESP[i]}" GET "$k")
    want="value of $k"
    if [ "$got" = "$want" ]; then
      printf '    %-20s %s\n' "$k" "$got"
    else
      printf '    %-20s %s   <-- MISMATCH, wanted "%s"\n' "$k" "${got:-(nil)}" "$want"
      mismatches=$((mismatches + 1))
    fi
  done
done

log "CLUSTER.MEMBERS on node 1"
redis-cli --no-raw -h 127.0.0.1 -p "${RESP[0]}" CLUSTER.MEMBERS | sed 's/^/    /'
for i in 1 2; do
  log "CLUSTER.MEMBERS on node $((i + 1)): cluster_members $(members "${RESP[i]}")"
done

if [ "$mismatches" -ne 0 ]; then
  echo "FAILED: $mismatches read-back(s) differ from what node 1 was given" >&2
  exit 1
fi
ok=1
if [ "$KEEP" -eq 0 ]; then
  log "all $((2 * ${#KEYS[@]})) reads matched; stopping the nodes (SIGTERM)"
else
  log "all $((2 * ${#KEYS[@]})) reads matched"
fi
