#!/usr/bin/env bash
# Compares relaycache-server with redis-server on this machine, in one run, with redis-benchmark:
# SET and GET, 50 clients, without and with a pipeline of 16, in plaintext and then over TLS. Both servers
# run at the same time on free loopback ports; the runs alternate between them (ROUNDS times) and the
# median of each is reported, with the ratio relaycache/redis and p50/p99 latencies.
#
# TLS rows: a second pair of servers serves TLS only (relaycache-server --port 0 --tls-port N, redis-server
# --port 0 --tls-port N --tls-auth-clients no), with a CA and a server certificate for 127.0.0.1 made by
# openssl for the run; redis-benchmark --tls --cacert. TLS=0 skips them.
#
# Usage: scripts/bench-server.sh            (builds relaycache-server in release mode first)
# Environment: REQUESTS (default 1000000, pipelined runs x4), ROUNDS (3), CLIENTS (50),
#              THREADS (relaycache worker threads; default 1: on a 2-core machine redis-benchmark needs the
#              other core, and redis-server also serves on one thread), SKIP_BUILD=1,
#              RELAYCACHE_MODE (single), TLS (1).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-1000000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
MODE=${RELAYCACHE_MODE:-single}
TLS=${TLS:-1}

tools=(redis-server redis-benchmark python3)
[ "$TLS" = 1 ] && tools+=(openssl)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)" >&2; exit 1; }
done
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p relaycache-server >&2
fi
BIN=${CARGO_TARGET_DIR:-target}/release/relaycache-server

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

tls_args=()
if [ "$TLS" = 1 ]; then
  # A CA and a server certificate for 127.0.0.1 (P-256), valid for the run.
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 1 -subj /CN=bench-ca 2>/dev/null
  openssl req "${ec[@]}" -keyout "$WORK/server.key" -out "$WORK/server.csr" -subj /CN=bench-server 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$WORK/server.ext"
  openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
    -out "$WORK/server.pem" -days 1 -extfile "$WORK/server.ext" 2>/dev/null
  tls_args=(--tls --cacert "$WORK/ca.pem")
  REDIS_TLS_PORT=$(free_port)
  RC_TLS_PORT=$(free_port)
  redis-server --port 0 --tls-port "$REDIS_TLS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    --tls-cert-file "$WORK/server.pem" --tls-key-file "$WORK/server.key" --tls-ca-cert-file "$WORK/ca.pem" \
    --tls-auth-clients no --logfile "$WORK/redis-tls.log" >/dev/null &
  pids+=($!)
  RELAYCACHE_CACHE__MODE=$MODE RELAYCACHE_SERVER__TLS_CERT_FILE="$WORK/server.pem" \
    RELAYCACHE_SERVER__TLS_KEY_FILE="$WORK/server.key" RUST_LOG=warn \
    "$BIN" --port 0 --tls-port "$RC_TLS_PORT" --no-admin "${thread_flag[@]}" \
    >"$WORK/relaycache-tls.out" 2>"$WORK/relaycache-tls.err" &
  pids+=($!)
fi

wait_ready() { # port [redis-cli TLS args...]
  local port=$1; shift
  for _ in $(seq 1 100); do
    redis-cli -p "$port" "$@" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  redis-cli -p "$port" "$@" ping >/dev/null || { echo "server on port $port did not start" >&2; cat "$WORK"/*.err >&2; exit 1; }
}
wait_ready "$REDIS_PORT"
wait_ready "$RC_PORT"
if [ "$TLS" = 1 ]; then
  wait_ready "$REDIS_TLS_PORT" "${tls_args[@]}"
  wait_ready "$RC_TLS_PORT" "${tls_args[@]}"
fi

# One redis-benchmark run; prints "rps p50 p99" for the single test it runs.
run() { # port test pipeline requests [redis-benchmark args...]
  local port=$1 test=$2 pipeline=$3 n=$4; shift 4
  redis-benchmark -h 127.0.0.1 -p "$port" "$@" -t "$test" -c "$CLIENTS" -n "$n" -P "$pipeline" --csv 2>/dev/null |
    awk -F'"' 'NR==2 { print $4, $10, $14 }'
}
median() { sort -g | awk '{ a[NR]=$1 } END { print a[int((NR+1)/2)] }'; }

echo "relaycache-server ($MODE mode, $(nproc) CPUs, worker threads: $THREADS) vs $(redis-server --version | awk '{print $1, $2, $3}')"
echo "redis-benchmark -c $CLIENTS, median of $ROUNDS alternating runs; latencies in ms"
printf '\n%-10s %4s | %12s %12s %7s | %15s %15s\n' test P "redis ops/s" "relay ops/s" ratio "p50 redis/relay" "p99 redis/relay"
printf -- '-%.0s' $(seq 1 86); echo
# The rows of one pair of servers: SET and GET, P 1 and 16.
rows() { # suffix redis_port relay_port [redis-benchmark args...]
  local suffix=$1 redis_port=$2 relay_port=$3; shift 3
  for pipeline in 1 16; do
    n=$REQUESTS
    [ "$pipeline" -gt 1 ] && n=$((REQUESTS * 4))
    for t in set get; do
      : >"$WORK/r"; : >"$WORK/c"
      for _ in $(seq 1 "$ROUNDS"); do
        run "$redis_port" "$t" "$pipeline" "$n" "$@" >>"$WORK/r"
        run "$relay_port" "$t" "$pipeline" "$n" "$@" >>"$WORK/c"
      done
      r_rps=$(cut -d' ' -f1 "$WORK/r" | median); c_rps=$(cut -d' ' -f1 "$WORK/c" | median)
      r_50=$(cut -d' ' -f2 "$WORK/r" | median); c_50=$(cut -d' ' -f2 "$WORK/c" | median)
      r_99=$(cut -d' ' -f3 "$WORK/r" | median); c_99=$(cut -d' ' -f3 "$WORK/c" | median)
      ratio=$(awk -v a="$c_rps" -v b="$r_rps" 'BEGIN { printf "%.2fx", a / b }')
      printf '%-10s %4s | %12.0f %12.0f %7s | %7s/%-7s %7s/%-7s\n' "${t^^}$suffix" "$pipeline" "$r_rps" "$c_rps" \
        "$ratio" "$r_50" "$c_50" "$r_99" "$c_99"
    done
  done
}
rows "" "$REDIS_PORT" "$RC_PORT"
if [ "$TLS" = 1 ]; then
  rows " tls" "$REDIS_TLS_PORT" "$RC_TLS_PORT" "${tls_args[@]}"
fi
