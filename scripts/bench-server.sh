#!/usr/bin/env bash
# Compares relaycache-server with redis-server on this machine, in one run, with redis-benchmark:
# SET and GET, 50 clients, without and with a pipeline of 16. Both servers run at the same time on free
# loopback ports; the runs alternate between them (ROUNDS times) and the median of each is reported, with
# the ratio relaycache/redis and p50/p99 latencies.
#
# Usage: scripts/bench-server.sh            (builds relaycache-server in release mode first)
# Environment: REQUESTS (default 1000000, pipelined runs x4), ROUNDS (3), CLIENTS (50),
#              THREADS (relaycache worker threads; default 1: on a 2-core machine redis-benchmark needs the
#              other core, and redis-server also serves on one thread), SKIP_BUILD=1,
#              RELAYCACHE_MODE (single).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-1000000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
MODE=${RELAYCACHE_MODE:-single}

for tool in redis-server redis-benchmark python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)" >&2; exit 1; }
done
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p relaycache-server >&2
fi
BIN=target/release/relaycache-server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
RC_PORT=$(free_port)
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" >/dev/null &
pids+=($!)
THREADS=${THREADS:-1}
thread_flag=(--threads "$THREADS")
RELAYCACHE_CACHE__MODE=$MODE RUST_LOG=warn "$BIN" --port "$RC_PORT" --no-admin "${thread_flag[@]}" \
  >"$WORK/relaycache.out" 2>"$WORK/relaycache.err" &
pids+=($!)

for port in "$REDIS_PORT" "$RC_PORT"; do
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" ping >/dev/null || { echo "server on port $port did not start" >&2; cat "$WORK"/*.err >&2; exit 1; }
done

# One redis-benchmark run; prints "rps p50 p99" for the single test it runs.
run() { # port test pipeline requests
  redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -c "$CLIENTS" -n "$4" -P "$3" --csv 2>/dev/null |
    awk -F'"' 'NR==2 { print $4, $10, $14 }'
}
median() { sort -g | awk '{ a[NR]=$1 } END { print a[int((NR+1)/2)] }'; }

echo "relaycache-server ($MODE mode, $(nproc) CPUs, worker threads: $THREADS) vs $(redis-server --version | awk '{print $1, $2, $3}')"
echo "redis-benchmark -c $CLIENTS, median of $ROUNDS alternating runs; latencies in ms"
printf '\n%-10s %4s | %12s %12s %7s | %15s %15s\n' test P "redis ops/s" "relay ops/s" ratio "p50 redis/relay" "p99 redis/relay"
printf -- '-%.0s' $(seq 1 86); echo
for pipeline in 1 16; do
  n=$REQUESTS
  [ "$pipeline" -gt 1 ] && n=$((REQUESTS * 4))
  for t in set get; do
    : >"$WORK/r"; : >"$WORK/c"
    for _ in $(seq 1 "$ROUNDS"); do
      run "$REDIS_PORT" "$t" "$pipeline" "$n" >>"$WORK/r"
      run "$RC_PORT" "$t" "$pipeline" "$n" >>"$WORK/c"
    done
    r_rps=$(cut -d' ' -f1 "$WORK/r" | median); c_rps=$(cut -d' ' -f1 "$WORK/c" | median)
    r_50=$(cut -d' ' -f2 "$WORK/r" | median); c_50=$(cut -d' ' -f2 "$WORK/c" | median)
    r_99=$(cut -d' ' -f3 "$WORK/r" | median); c_99=$(cut -d' ' -f3 "$WORK/c" | median)
    ratio=$(awk -v a="$c_rps" -v b="$r_rps" 'BEGIN { printf "%.2fx", a / b }')
    printf '%-10s %4s | %12.0f %12.0f %7s | %7s/%-7s %7s/%-7s\n' "${t^^}" "$pipeline" "$r_rps" "$c_rps" "$ratio" \
      "$r_50" "$c_50" "$r_99" "$c_99"
  done
done
