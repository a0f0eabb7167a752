#!/usr/bin/env bash
# The whole test gate: installs what the tests need, then format, lints, tests and doc tests.
# This is exactly what CI runs (.ci/run calls this script).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# --- what the tests need -----------------------------------------------------------------------------
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v openssl >/dev/null 2>&1 || missing+=(openssl) # certificates for the rediss:// tests
command -v curl >/dev/null 2>&1 || missing+=(curl) # /readyz in scripts/demo-cluster.sh
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose) # validates examples/cluster (no engine needed)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip) # the redis-py client test
command -v iptables >/dev/null 2>&1 || missing+=(iptables) # crates/fault: partitions, loss, black holes
command -v ip >/dev/null 2>&1 || missing+=(iproute2) # crates/fault: lo up in its network namespaces
command -v unshare >/dev/null 2>&1 || missing+=(util-linux) # crates/fault: unshare --net
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# redis-py for the Python client test (crates/server/tests/python/smoke.py).
if ! python3 -c 'import redis' >/dev/null 2>&1; then
  log "installing redis-py"
  python3 -m pip install --quiet redis 2>/dev/null || python3 -m pip install --quiet --break-system-packages redis
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done

# --- the gate ------------------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

log "cargo nextest"
cargo nextest run --workspace --all-features --locked --profile ci

log "cargo test --doc"
cargo test --doc --workspace --all-features --locked

log "examples/cluster: docker-compose config, relaycache config validate of every mounted node config"
cargo build -p relaycache-server --bins --locked
# docker-compose parses, checks and interpolates the file without a Docker engine; the node configs are the
# files it mounts. ${RELAYCACHE_CLUSTER_SECRET:-...} and ${RELAYCACHE_PASSWORD:-...} have defaults: check
# the configs with them, and with both set.
compose=$(cd examples/cluster && docker-compose config)
# (docker-compose 1.x prints "- SRC:/etc/relaycache/config.yaml:ro", Compose v2 "source: SRC" then "target: ...")
mounted=$(awk '$1 == "-" && $2 ~ /:\/etc\/relaycache\/config.yaml/ { split($2, a, ":"); print a[1] }
  $1 == "source:" { src = $2 } $1 == "target:" && $2 == "/etc/relaycache/config.yaml" { print src }' <<<"$compose")
[ "$(wc -l <<<"$mounted")" -eq 3 ] || { echo "expected 3 mounted node configs, got: $mounted" >&2; exit 1; }
for f in $mounted; do
  target/debug/relaycache config validate "$f"
  RELAYCACHE_CLUSTER_SECRET=gate-secret RELAYCACHE_PASSWORD=gate-password \
    target/debug/relaycache config validate "$f" >/dev/null
done

log "3-node cluster on loopback (scripts/demo-cluster.sh)"
RELAYCACHE_BIN_DIR=target/debug SKIP_BUILD=1 timeout --kill-after=10 90 bash scripts/demo-cluster.sh

log "all checks passed"
