# relaycache-server and the relaycache CLI in a small Debian image.
#
#   docker build -t relaycache .
#   docker run --rm -p 127.0.0.1:6380:6380 -p 127.0.0.1:9380:9380 -e RELAYCACHE_PASSWORD=s3cret relaycache
#
# The default configuration (/etc/relaycache/config.yaml) serves `single` mode on 0.0.0.0:6380 (admin HTTP
# on 9380) and requires a password from RELAYCACHE_PASSWORD: it refuses to start without one. Mount your
# own file over it for any other mode; examples/cluster/docker-compose.yml runs a 3-node `ha` cluster.
#
# Ports: 6380/tcp RESP, 9380/tcp admin HTTP (/healthz /readyz /metrics /stats /cluster),
#        3320/tcp+udp cluster RPC (cache.olric.bind_addr; the UDP side answers misdirected gossip),
#        3322/udp cluster gossip (bind_addr port + 2).

# Builder and runtime share one Debian release, so the binaries find the glibc they were linked against.
# Override the toolchain with --build-arg RUST_VERSION=1.95 (the workspace needs 1.85 or newer).
ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p relaycache-server --bins \
 && install -D -m 0755 -t /out target/release/relaycache-server target/release/relaycache \
 && strip --strip-debug /out/relaycache-server /out/relaycache   # keeps symbols for backtraces

FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: system roots for rediss:// in redis mode; curl: the /readyz healthcheck.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 relaycache \
 && useradd --system --uid 10001 --gid relaycache --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin relaycache \
 && mkdir -p /etc/relaycache \
 && printf '%s\n' \
      '# Default configuration of the relaycache image: single mode on every interface, password required.' \
      'cache:' \
      '  mode: single' \
      'server:' \
      '  bind: 0.0.0.0' \
      '  port: 6380' \
      '  requirepass: "${RELAYCACHE_PASSWORD}"   # set RELAYCACHE_PASSWORD; the server refuses to start without it' \
      '  admin:' \
      '    bind: 0.0.0.0' \
      '    port: 9380' \
      > /etc/relaycache/config.yaml
COPY --from=builder /out/ /usr/local/bin/

USER relaycache:relaycache
EXPOSE 6380/tcp 9380/tcp 3320/tcp 3320/udp 3322/udp
HEALTHCHECK --interval=5s --timeout=2s --start-period=10s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:9380/readyz || exit 1
STOPSIGNAL SIGTERM
CMD ["relaycache-server", "--config", "/etc/relaycache/config.yaml"]
