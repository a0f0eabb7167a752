//! The rules a configuration must follow, each reported with the path of the key that breaks it.

use std::net::{IpAddr, SocketAddr};

use super::types::{HaConfig, Mode, RedisConfig, ServerConfig, TlsAuthClients};
use super::{Config, ConfigError};

impl Config {
    /// Checks every rule. Sections of inactive modes are checked too (a typo there is still a typo), but
    /// fields only the active mode needs (`bind_addr`, `redis.url`) are required only for it.
    ///
    /// # Errors
    /// The first broken rule, as [`ConfigError::Invalid`] with the key's path.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let single = &self.cache.ristretto;
        if single.num_counters == 0 {
            return Err(ConfigError::invalid(
                "cache.ristretto.num_counters",
                "must be greater than 0 (about 10x the number of entries you expect)",
            ));
        }
        if single.max_cost == 0 {
            return Err(ConfigError::invalid(
                "cache.ristretto.max_cost",
                "must be greater than 0 bytes",
            ));
        }
        if single.buffer_items == 0 {
            return Err(ConfigError::invalid(
                "cache.ristretto.buffer_items",
                "must be greater than 0",
            ));
        }
        validate_ha(&self.cache.olric, self.cache.mode == Mode::Ha)?;
        validate_redis(&self.cache.redis, self.cache.mode == Mode::Redis)?;
        validate_server(self)?;
        Ok(())
    }
}

fn validate_ha(ha: &HaConfig, active: bool) -> Result<(), ConfigError> {
    const P: &str = "cache.olric";
    if ha.replica_count == 0 {
        return Err(ConfigError::invalid(
            format!("{P}.replica_count"),
            "must be at least 1",
        ));
    }
    for (name, value) in [
        ("read_quorum", ha.read_quorum),
        ("write_quorum", ha.write_quorum),
    ] {
        if value == 0 || value > ha.replica_count {
            return Err(ConfigError::invalid(
                format!("{P}.{name}"),
                format!(
                    "{value} must be between 1 and {P}.replica_count ({})",
                    ha.replica_count
                ),
            ));
        }
    }
    if ha.member_count_quorum == 0 {
        return Err(ConfigError::invalid(
            format!("{P}.member_count_quorum"),
            "must be at least 1",
        ));
    }
    if ha.dmap_name.is_empty() {
        return Err(ConfigError::invalid(
            format!("{P}.dmap_name"),
            "must not be empty",
        ));
    }
    if ha.partition_count == 0 {
        return Err(ConfigError::invalid(
            format!("{P}.partition_count"),
            "must be at least 1",
        ));
    }
    if ha.request_timeout.is_zero() {
        return Err(ConfigError::invalid(
            format!("{P}.request_timeout"),
            "must be greater than 0",
        ));
    }
    let bind = match &ha.bind_addr {
        Some(addr) => Some(parse_host_port(addr).ok_or_else(|| {
            ConfigError::invalid(
                format!("{P}.bind_addr"),
                format!("{addr:?} is not host:port (for example \"0.0.0.0:3320\")"),
            )
        })?),
        None => None,
    };
    if let Some((_, port)) = &bind {
        if *port > u16::MAX - 2 {
            return Err(ConfigError::invalid(
                format!("{P}.bind_addr"),
                format!("port {port} leaves no room for the gossip port (port + 2)"),
            ));
        }
    }
    for (i, peer) in ha.peers.iter().enumerate() {
        let field = format!("{P}.peers[{i}]");
        let (host, port) = parse_host_port(peer).ok_or_else(|| {
            ConfigError::invalid(
                &field,
                format!(
                    "{peer:?} is not host:port (the peer's gossip address, bind_addr port + 2)"
                ),
            )
        })?;
        if let Some((bind_host, bind_port)) = &bind {
            let gossip = bind_port + 2;
            if port == *bind_port {
                return Err(ConfigError::invalid(
                    &field,
                    format!(
                        "{peer:?} uses the client/RPC port {port}; peers must be gossip addresses, \
                         which are bind_addr port + 2 ({gossip})"
                    ),
                ));
            }
            if port == gossip && same_host(&host, bind_host) {
                return Err(ConfigError::invalid(
                    &field,
                    format!(
                        "{peer:?} is this node's own gossip address; a node must not list itself"
                    ),
                ));
            }
        }
    }
    for (i, addr) in ha.addresses.iter().enumerate() {
        if parse_host_port(addr).is_none() {
            return Err(ConfigError::invalid(
                format!("{P}.addresses[{i}]"),
                format!("{addr:?} is not host:port"),
            ));
        }
    }
    if active {
        if ha.embedded && ha.bind_addr.is_none() {
            return Err(ConfigError::invalid(
                format!("{P}.bind_addr"),
                "is required when embedded is true (for example \"0.0.0.0:3320\")",
            ));
        }
        if !ha.embedded && ha.addresses.is_empty() {
            return Err(ConfigError::invalid(
                format!("{P}.addresses"),
                "is required when embedded is false: list the client addresses of the cluster's nodes \
                 (or set embedded: true to run a node in this process)",
            ));
        }
    }
    Ok(())
}

fn validate_redis(redis: &RedisConfig, active: bool) -> Result<(), ConfigError> {
    const P: &str = "cache.redis";
    if redis.url.is_some() && !redis.cluster.is_empty() {
        return Err(ConfigError::invalid(
            format!("{P}.url"),
            format!("give either {P}.url (one server) or {P}.cluster (cluster nodes), not both"),
        ));
    }
    let urls = redis.url.iter().map(|u| (format!("{P}.url"), u)).chain(
        redis
            .cluster
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("{P}.cluster[{i}]"), u)),
    );
    for (field, url) in urls {
        let scheme_ok = [
            "redis://",
            "rediss://",
            "redis+unix://",
            "unix://",
            "valkey://",
            "valkeys://",
        ]
        .iter()
        .any(|s| url.starts_with(s));
        if !scheme_ok {
            return Err(ConfigError::invalid(
                field,
                format!("{url:?} must start with redis:// or rediss:// (TLS)"),
            ));
        }
    }
    if redis.tls_cert_file.is_some() != redis.tls_key_file.is_some() {
        return Err(ConfigError::invalid(
            format!("{P}.tls_cert_file"),
            format!("{P}.tls_cert_file and {P}.tls_key_file go together: give both or neither"),
        ));
    }
    let uses_tls = redis
        .url
        .iter()
        .chain(&redis.cluster)
        .any(|u| u.starts_with("rediss://") || u.starts_with("valkeys://"));
    let tls_files = redis.tls_ca_file.is_some() || redis.tls_cert_file.is_some();
    if tls_files && !uses_tls && (redis.url.is_some() || !redis.cluster.is_empty()) {
        return Err(ConfigError::invalid(
            format!("{P}.tls_ca_file"),
            "TLS files are set but no URL uses TLS: write rediss:// URLs",
        ));
    }
    if active && redis.url.is_none() && redis.cluster.is_empty() {
        return Err(ConfigError::invalid(
            format!("{P}.url"),
            format!("is required in redis mode (or {P}.cluster for a Redis Cluster)"),
        ));
    }
    for (name, value) in [
        ("connect_timeout", redis.connect_timeout),
        ("response_timeout", redis.response_timeout),
    ] {
        if value.is_zero() {
            return Err(ConfigError::invalid(
                format!("{P}.{name}"),
                "must be greater than 0",
            ));
        }
    }
    Ok(())
}

fn validate_server(config: &Config) -> Result<(), ConfigError> {
    let server = &config.server;
    if server.bind.parse::<IpAddr>().is_err() {
        return Err(ConfigError::invalid(
            "server.bind",
            format!(
                "{:?} is not an IP address (for example 127.0.0.1 or 0.0.0.0)",
                server.bind
            ),
        ));
    }
    if server.admin.bind.parse::<IpAddr>().is_err() {
        return Err(ConfigError::invalid(
            "server.admin.bind",
            format!("{:?} is not an IP address", server.admin.bind),
        ));
    }
    if server.max_clients == 0 {
        return Err(ConfigError::invalid(
            "server.max_clients",
            "must be at least 1",
        ));
    }
    if matches!(&server.requirepass, Some(p) if p.is_empty()) {
        return Err(ConfigError::invalid(
            "server.requirepass",
            "must not be empty; remove the key to disable authentication",
        ));
    }
    let limits = &server.limits;
    for (name, value) in [
        ("max_bulk_len", limits.max_bulk_len),
        ("max_args", limits.max_args),
        ("max_inline_len", limits.max_inline_len),
        ("max_nesting", u64::from(limits.max_nesting)),
        (
            "unauthenticated_max_bulk_len",
            limits.unauthenticated_max_bulk_len,
        ),
        ("unauthenticated_max_args", limits.unauthenticated_max_args),
        ("max_output_buffer", limits.max_output_buffer),
    ] {
        if value == 0 {
            return Err(ConfigError::invalid(
                format!("server.limits.{name}"),
                "must be greater than 0",
            ));
        }
    }
    if limits.tls_handshake_timeout.is_zero() {
        return Err(ConfigError::invalid(
            "server.limits.tls_handshake_timeout",
            "must be greater than 0",
        ));
    }
    validate_tls(server)?;
    if limits.max_bulk_len > i64::MAX as u64 {
        return Err(ConfigError::invalid(
            "server.limits.max_bulk_len",
            "is larger than the protocol can express",
        ));
    }
    let level = config.logging.level.trim();
    if level.is_empty() {
        return Err(ConfigError::invalid(
            "logging.level",
            "must not be empty (error, warn, info, debug or trace)",
        ));
    }
    Ok(())
}

/// The TLS keys of `server:`: what `tls_port` and `admin.tls` need, keys that go together, and files
/// that must exist.
fn validate_tls(server: &ServerConfig) -> Result<(), ConfigError> {
    const P: &str = "server";
    if let (Some(tls), port) = (server.tls_port, server.port) {
        if tls != 0 && tls == port {
            return Err(ConfigError::invalid(
                format!("{P}.tls_port"),
                format!(
                    "{tls} is also {P}.port; give TLS its own port, or set {P}.port: 0 to serve TLS only"
                ),
            ));
        }
    }
    let users = match (
        server.tls_port.is_some(),
        server.admin.enabled && server.admin.tls,
    ) {
        (true, true) => Some(format!("{P}.tls_port and {P}.admin.tls")),
        (true, false) => Some(format!("{P}.tls_port")),
        (false, true) => Some(format!("{P}.admin.tls")),
        (false, false) => None,
    };
    let files = [
        ("tls_cert_file", &server.tls_cert_file),
        ("tls_key_file", &server.tls_key_file),
        ("tls_ca_cert_file", &server.tls_ca_cert_file),
    ];
    let Some(users) = users else {
        // Certificates that nothing serves with are a mistake: the listener the user meant to protect
        // would run in plaintext.
        let set = files
            .iter()
            .find(|(_, value)| value.is_some())
            .map(|(name, _)| *name)
            .or(server.tls_auth_clients.map(|_| "tls_auth_clients"));
        return match set {
            Some(name) => Err(ConfigError::invalid(
                format!("{P}.{name}"),
                format!(
                    "is set but nothing is served with TLS: set {P}.tls_port (or {P}.admin.tls: true)"
                ),
            )),
            None => Ok(()),
        };
    };
    for (name, value) in &files[..2] {
        if value.is_none() {
            return Err(ConfigError::invalid(
                format!("{P}.{name}"),
                format!("is required by {users} (a PEM file)"),
            ));
        }
    }
    let auth = server.client_auth();
    if auth != TlsAuthClients::No && server.tls_ca_cert_file.is_none() {
        return Err(ConfigError::invalid(
            format!("{P}.tls_ca_cert_file"),
            format!(
                "is required with {P}.tls_auth_clients: {} (the CA that signs client certificates); \
                 set tls_auth_clients: no to accept clients without certificates",
                auth.as_str()
            ),
        ));
    }
    for (name, value) in files {
        let Some(path) = value else { continue };
        if path.is_empty() {
            return Err(ConfigError::invalid(
                format!("{P}.{name}"),
                "must not be empty",
            ));
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(ConfigError::invalid(
                    format!("{P}.{name}"),
                    format!("{path:?} is not a file"),
                ));
            }
            Err(e) => {
                return Err(ConfigError::invalid(
                    format!("{P}.{name}"),
                    format!("cannot read {path:?}: {e}"),
                ));
            }
        }
    }
    Ok(())
}

/// Splits `host:port`, `[v6]:port` or `v4:port`. The host may be a name.
pub(crate) fn parse_host_port(text: &str) -> Option<(String, u16)> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some((addr.ip().to_string(), addr.port()));
    }
    let (host, port) = text.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let valid_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    valid_host.then(|| (host.to_owned(), port))
}

/// Whether a peer host denotes this node, given the host of `bind_addr`. An unspecified bind address
/// (`0.0.0.0`) means every local address, so loopback and `localhost` peers are this node too.
fn same_host(peer: &str, bind: &str) -> bool {
    if peer.eq_ignore_ascii_case(bind) {
        return true;
    }
    let local = |h: &str| {
        h.eq_ignore_ascii_case("localhost")
            || h.parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
    };
    let bind_unspecified = bind.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    (bind_unspecified && local(peer)) || (local(peer) && local(bind) && peer == bind)
}
