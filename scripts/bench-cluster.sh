#!/usr/bin/env bash
# relaycache-server in ha mode (embedded cluster) against one node, one server and redis-server, in one run,
# with redis-benchmark: SET and GET, 50 clients, random keys, without and with a pipeline of 16.
#
# Targets, all started at once on free loopback ports (release binaries):
#   ha3-r1     node 1 of a 3-node cluster, replica_count 1 (write_quorum 1, read_quorum 1)
#   ha3-r2     node 1 of a 3-node cluster, replica_count 2, write_quorum 1, read_quorum 1
#              (a SET is acknowledged once its primary stored it; the backup is written in the background)
#   ha3-r2w2   the same with write_quorum 2 (a SET waits for the backup's acknowledgement too)
#   ha1        a 1-node ha server (replica_count 1: the cluster code path without a network hop)
#   single     relaycache-server in single mode (the in-process engine)
#   redis      redis-server --save '' --appendonly no
# The runs alternate between the targets, ROUNDS times, and the median of each row is reported, with the
# ratio of its throughput to redis-server's. The clusters use environment local (100 ms gossip).
#
# Usage: scripts/bench-cluster.sh            (builds relaycache-server in release mode first)
# Environment: REQUESTS (default 200000, pipelined runs x4), ROUNDS (3), CLIENTS (50),
#              KEYSPACE (redis-benchmark -r; default 100000), THREADS (worker threads of every relaycache
#              process; default 1, as redis-server serves on one thread), TARGETS (a space-separated subset
#              of the names above), PIN=1 (taskset: every server on the last CPU, redis-benchmark on the
#              others; default unpinned), RELAYCACHE_BIN_DIR (default target/release), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-200000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
THREADS=${THREADS:-1}
TARGETS=${TARGETS:-ha3-r1 ha3-r2 ha3-r2w2 ha1 single redis}
PIN=${PIN:-0}
BIN_DIR=${RELAYCACHE_BIN_DIR:-target/release}

for tool in redis-server redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)" >&2; exit 1; }
done
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p relaycache-server --bins >&2
fi
BIN=$BIN_DIR/relaycache-server
[ -x "$BIN" ] || { echo "no $BIN" >&2; exit 1; }
read -r -a targets <<<"$TARGETS"
((${#targets[@]} <= 6)) || { echo "at most 6 targets" >&2; exit 2; }
[[ " $TARGETS " == *" redis "* ]] || { echo "TARGETS must include redis (the ratios are to it)" >&2; exit 2; }

ncpu=$(nproc)
server_cpu=() bench_cpu=()
if [ "$PIN" = 1 ]; then
  command -v taskset >/dev/null || { echo "PIN=1 needs taskset (util-linux)" >&2; exit 1; }
  [ "$ncpu" -ge 2 ] || { echo "PIN=1 needs 2 CPUs" >&2; exit 1; }
  server_cpu=(taskset -c "$((ncpu - 1))")
  bench_cpu=(taskset -c "0-$((ncpu - 2))")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/relaycache-bench.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports, all distinct, picked at once: TCP ports for RESP, and RPC ports (tcp+udp) whose
# port + 2 (gossip, udp) is free too.
free_ports() { # tcp_count rpc_count
  python3 - "$1" "$2" <<'EOF'
import socket, sys
held, tcp, rpc = [], [], []
def grab(t, port=0):
    s = socket.socket(socket.AF_INET, t)
    s.bind(("127.0.0.1", port))
    held.append(s)
    return s.getsockname()[1]
while len(tcp) < int(sys.argv[1]):
    tcp.append(grab(socket.SOCK_STREAM))
while len(rpc) < int(sys.argv[2]):
    p = grab(socket.SOCK_STREAM)
    try:
        grab(socket.SOCK_DGRAM, p); grab(socket.SOCK_DGRAM, p + 2); grab(socket.SOCK_STREAM, p + 2)
    except OSError:
        continue
    rpc.append(p)
# Released before the ports are printed: the servers bind them as soon as they are read.
for s in held:
    s.close()
print(" ".join(map(str, tcp)))
print(" ".join(map(str, rpc)), flush=True)
EOF
}
{ read -r -a TCP_POOL; read -r -a RPC_POOL; } < <(free_ports 16 16)
next_tcp() { PICK=${TCP_POOL[0]}; TCP_POOL=("${TCP_POOL[@]:1}"); }
next_rpc() { PICK=${RPC_POOL[0]}; RPC_POOL=("${RPC_POOL[@]:1}"); }

declare -A PORT          # target -> the RESP port redis-benchmark talks to
declare -A CLUSTER_PORTS # cluster target -> the RESP ports of its nodes
DESC=()                  # lines describing each target

# A relaycache-server with a generated config; sets STARTED to its RESP port.
start_relay() { # name mode [rpc_port peers_csv replica_count write_quorum]
  local name=$1 mode=$2 port
  next_tcp; port=$PICK
  {
    echo "cache:"
    echo "  mode: $mode"
    echo "  ristretto:"
    echo "    max_cost: 256MiB"
    if [ "$mode" = ha ]; then
      echo "  olric:"
      echo "    embedded: true"
      echo "    bind_addr: \"127.0.0.1:$3\""
      echo "    environment: local"
      echo "    peers: [$4]"
      echo "    replica_count: $5"
      echo "    write_quorum: $6"
      echo "    read_quorum: 1"
      echo "    member_count_quorum: 1"
      echo "    leave_timeout: 2s"
      echo "    secret: \"bench-secret\""
    fi
    echo "server:"
    echo "  bind: 127.0.0.1"
    echo "  port: $port"
    echo "  shutdown_timeout: 2s"
    echo "logging:"
    echo "  level: warn"
  } >"$WORK/$name.yaml"
  "${server_cpu[@]}" "$BIN" --config "$WORK/$name.yaml" --no-admin --threads "$THREADS" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  pids+=($!)
  STARTED=$port
}

start_cluster() { # target replica_count write_quorum
  local target=$1 rc=$2 wq=$3 rpc=() i j peers
  for i in 0 1 2; do next_rpc; rpc+=("$PICK"); done
  for i in 0 1 2; do
    peers=""
    for j in 0 1 2; do [ "$j" -ne "$i" ] && peers+="${peers:+, }\"127.0.0.1:$((rpc[j] + 2))\""; done
    start_relay "$target-n$((i + 1))" ha "${rpc[i]}" "$peers" "$rc" "$wq"
    [ "$i" -eq 0 ] && PORT[$target]=$STARTED
    CLUSTER_PORTS[$target]+="$STARTED "
  done
}

for t in "${targets[@]}"; do
  case "$t" in
    ha3-r1) start_cluster "$t" 1 1; DESC+=("ha3-r1    3-node cluster, replica_count 1, write_quorum 1, read_quorum 1; benchmark on node 1") ;;
    ha3-r2) start_cluster "$t" 2 1; DESC+=("ha3-r2    3-node cluster, replica_count 2, write_quorum 1, read_quorum 1; benchmark on node 1") ;;
    ha3-r2w2) start_cluster "$t" 2 2; DESC+=("ha3-r2w2  3-node cluster, replica_count 2, write_quorum 2, read_quorum 1; benchmark on node 1") ;;
    ha1)
      next_rpc
      start_relay "$t" ha "$PICK" "" 1 1
      PORT[$t]=$STARTED
      DESC+=("ha1       1-node ha server (replica_count 1)")
      ;;
    single)
      start_relay "$t" single
      PORT[$t]=$STARTED
      DESC+=("single    relaycache-server, single mode")
      ;;
    redis)
      next_tcp; PORT[$t]=$PICK
      "${server_cpu[@]}" redis-server --port "${PORT[$t]}" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$WORK" --logfile "$WORK/redis.log" >/dev/null &
      pids+=($!)
      DESC+=("redis     $(redis-server --version | awk '{print $1, $2, $3}'), --save '' --appendonly no")
      ;;
    *) echo "unknown target $t (known: ha3-r1 ha3-r2 ha3-r2w2 ha1 single redis)" >&2; exit 2 ;;
  esac
done

# Every server answers PING; every cluster node sees 3 members (bounded: 20 s each).
members() {
  redis-cli -h 127.0.0.1 -p "$1" CLUSTER.MEMBERS 2>/dev/null | awk 'prev == "cluster_members" { print; exit } { prev = $0 }'
}
for t in "${targets[@]}"; do
  for port in ${CLUSTER_PORTS[$t]:-${PORT[$t]}}; do
    ok=0
    for _ in $(seq 1 100); do
      if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
        if [ -z "${CLUSTER_PORTS[$t]:-}" ] || [ "$(members "$port")" = 3 ]; then ok=1; break; fi
      fi
      sleep 0.2
    done
    [ "$ok" -eq 1 ] || { echo "$t on port $port did not come up (or join)" >&2; cat "$WORK"/*.err >&2; exit 1; }
  done
done

# One redis-benchmark run; prints "rps p50 p99" (redis-benchmark 7's --csv: test,rps,avg,min,p50,p95,p99,max).
run() { # port test pipeline requests
  "${bench_cpu[@]}" redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -c "$CLIENTS" -n "$4" -P "$3" -r "$KEYSPACE" --csv 2>/dev/null |
    awk -F'"' 'NR==2 { print $4, $10, $14 }'
}
median() { sort -g | awk '{ a[NR]=$1 } END { print a[int((NR+1)/2)] }'; }

if [ "$PIN" = 1 ]; then
  cores="pinned with taskset: every server process on CPU $((ncpu - 1)), redis-benchmark on CPU 0-$((ncpu - 2))"
else
  cores="unpinned: every process (all servers and redis-benchmark) shares the same $ncpu CPUs; idle targets only gossip"
fi
echo "relaycache-server ($BIN, worker threads: $THREADS per process) and redis-server on $ncpu CPUs, $(date -u +%Y-%m-%d)"
echo "cores: $cores"
echo "redis-benchmark -c $CLIENTS -r $KEYSPACE -n $REQUESTS (x4 with -P 16), median of $ROUNDS alternating rounds; latencies in ms"
printf '  %s\n' "${DESC[@]}"

declare -A RPS P50 P99
for pipeline in 1 16; do
  n=$REQUESTS
  [ "$pipeline" -gt 1 ] && n=$((REQUESTS * 4))
  for test in set get; do
    for t in "${targets[@]}"; do : >"$WORK/r.$t"; done
    for _ in $(seq 1 "$ROUNDS"); do
      for t in "${targets[@]}"; do
        out=$(run "${PORT[$t]}" "$test" "$pipeline" "$n")
        [ -n "$out" ] || { echo "redis-benchmark against $t ($test, -P $pipeline) printed nothing" >&2; exit 1; }
        echo "$out" >>"$WORK/r.$t"
      done
    done
    for t in "${targets[@]}"; do
      k="$t/$test/$pipeline"
      RPS[$k]=$(cut -d' ' -f1 "$WORK/r.$t" | median)
      P50[$k]=$(cut -d' ' -f2 "$WORK/r.$t" | median)
      P99[$k]=$(cut -d' ' -f3 "$WORK/r.$t" | median)
    done
  done
done

echo
printf '| %-9s | %-4s | %2s | %12s | %8s | %8s | %8s |\n' target test P "req/s" "p50 ms" "p99 ms" "x redis"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ----------- ------ ---: -------------: ---------: ---------: ---------:
for pipeline in 1 16; do
  for test in set get; do
    for t in "${targets[@]}"; do
      k="$t/$test/$pipeline"
      ratio=$(awk -v a="${RPS[$k]}" -v b="${RPS[redis/$test/$pipeline]}" 'BEGIN { printf "%.2fx", a / b }')
      printf '| %-9s | %-4s | %2s | %12.0f | %8s | %8s | %8s |\n' "$t" "${test^^}" "$pipeline" "${RPS[$k]}" \
        "${P50[$k]}" "${P99[$k]}" "$ratio"
    done
  done
done
