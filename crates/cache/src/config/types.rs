//! The configuration data: every section, field and default.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Which backend to use and its settings.
    pub cache: CacheConfig,
    /// The RESP server (`relaycache-server`).
    pub server: ServerConfig,
    /// Log level and format of the binaries.
    pub logging: LoggingConfig,
}

/// The `cache:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheConfig {
    /// The backend: `single` (default), `ha`, `redis` or `disabled`.
    pub mode: Mode,
    /// Settings of `single` mode (`ristretto:` in the reference system; `single:` is accepted too).
    #[serde(alias = "single")]
    pub ristretto: SingleConfig,
    /// Settings of `ha` mode (`olric:` in the reference system; `ha:` is accepted too).
    #[serde(alias = "ha")]
    pub olric: HaConfig,
    /// Settings of `redis` mode.
    pub redis: RedisConfig,
}

/// The backend selected by `cache.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// In-process cache (the default).
    #[default]
    Single,
    /// Embedded cluster node, or client of external nodes.
    Ha,
    /// A Redis or Valkey server, or a Redis Cluster.
    Redis,
    /// No caching: every get misses, every set succeeds.
    Disabled,
}

impl Mode {
    /// The name as written in the configuration.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Single => "single",
            Mode::Ha => "ha",
            Mode::Redis => "redis",
            Mode::Disabled => "disabled",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `cache.ristretto:` (alias `cache.single:`) section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SingleConfig {
    /// Number of admission counters; about ten times the number of entries you expect.
    pub num_counters: u64,
    /// Bytes the cache may hold, counting keys, values and a fixed per-entry overhead. A number or a size
    /// such as `100MiB`.
    #[serde(deserialize_with = "de_byte_size")]
    pub max_cost: u64,
    /// Accepted for compatibility with the reference system, whose engine buffered reads in batches of this
    /// size. Our engine applies every read and write at once, so there is nothing to size; the value must
    /// still be positive.
    pub buffer_items: u64,
}

impl Default for SingleConfig {
    fn default() -> Self {
        SingleConfig {
            num_counters: 1_000_000,
            max_cost: 100 << 20,
            buffer_items: 64,
        }
    }
}

/// Failure-detection timings shared by every node of a cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Same host or development: fast detection.
    #[default]
    Local,
    /// One data centre.
    Lan,
    /// Across data centres: slow detection, tolerant of latency.
    Wan,
}

/// The timings an [`Environment`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvironmentPreset {
    /// How often membership updates are gossiped.
    pub gossip_interval: Duration,
    /// How often a random member is probed.
    pub probe_interval: Duration,
    /// How long a probe may take before the member is suspected.
    pub probe_timeout: Duration,
}

impl Environment {
    /// The timings of this preset (the reference system's table).
    #[must_use]
    pub fn preset(self) -> EnvironmentPreset {
        let ms = Duration::from_millis;
        let (gossip_interval, probe_interval, probe_timeout) = match self {
            Environment::Local => (ms(100), ms(100), ms(200)),
            Environment::Lan => (ms(200), ms(1000), ms(500)),
            Environment::Wan => (ms(500), ms(3000), ms(2000)),
        };
        EnvironmentPreset {
            gossip_interval,
            probe_interval,
            probe_timeout,
        }
    }
}

/// The `cache.olric:` (alias `cache.ha:`) section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HaConfig {
    /// Run a cluster node in this process (true) or be a client of the nodes in `addresses` (false).
    pub embedded: bool,
    /// Client/RPC address of this node, `host:port`. The gossip port is this port + 2. Required when
    /// `embedded` is true.
    pub bind_addr: Option<String>,
    /// Name of the distributed map; every node must agree.
    pub dmap_name: String,
    /// Failure-detection preset; every node must agree.
    pub environment: Environment,
    /// Client/RPC addresses of external nodes (client mode).
    pub addresses: Vec<String>,
    /// Gossip addresses (`host:port+2`) of other nodes to join (embedded mode).
    pub peers: Vec<String>,
    /// Copies of each key, primary included.
    pub replica_count: u32,
    /// Replicas that must answer a read.
    pub read_quorum: u32,
    /// Replicas that must acknowledge a write.
    pub write_quorum: u32,
    /// Members a node must see to serve at all (split-brain guard).
    pub member_count_quorum: u32,
    /// How long a leaving node may take to announce its exit and hand its partitions over.
    #[serde(with = "humantime_serde")]
    pub leave_timeout: Duration,
    /// Number of partitions of the key space; every node must agree.
    pub partition_count: u32,
    /// Deadline of one request to another node.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Shared secret that authenticates gossip and node-to-node requests. Without it a node on a
    /// non-loopback address warns at start.
    pub secret: Option<String>,
    /// The gossip address (`host:port`) other nodes reach this node at, when it differs from the bound
    /// one (behind NAT, or with `bind_addr` on `0.0.0.0`). Default: the bound gossip address, or for
    /// `0.0.0.0` the local address that routes to the first peer.
    pub advertise_addr: Option<String>,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            embedded: false,
            bind_addr: None,
            dmap_name: "cc-relay".to_owned(),
            environment: Environment::Local,
            addresses: Vec::new(),
            peers: Vec::new(),
            replica_count: 1,
            read_quorum: 1,
            write_quorum: 1,
            member_count_quorum: 1,
            leave_timeout: Duration::from_secs(5),
            partition_count: 271,
            request_timeout: Duration::from_secs(2),
            secret: None,
            advertise_addr: None,
        }
    }
}

/// The `cache.redis:` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RedisConfig {
    /// One server: `redis://[user:password@]host:port[/db]` or `rediss://...` for TLS.
    pub url: Option<String>,
    /// Redis Cluster: URLs of some of its nodes (the rest are discovered). Exclusive with `url`.
    pub cluster: Vec<String>,
    /// ACL user name, if not given in the URL.
    pub username: Option<String>,
    /// Password, if not given in the URL.
    pub password: Option<String>,
    /// Prepended to every key, so several applications can share a server. Defaults to
    /// `<cache.olric.dmap_name>:` (`cc-relay:`); set it to `""` for none.
    pub prefix: Option<String>,
    /// How long establishing a connection may take.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long one command may take before it fails with a timeout.
    #[serde(with = "humantime_serde")]
    pub response_timeout: Duration,
    /// How many times a lost connection is retried, with exponential backoff, before calls fail.
    pub reconnect_retries: u32,
    /// The longest wait between two reconnection attempts.
    #[serde(with = "humantime_serde")]
    pub reconnect_max_delay: Duration,
    /// For `rediss://`: PEM file of the certificate authority that signed the server's certificate
    /// (a private CA). Without it the system's trusted roots are used.
    pub tls_ca_file: Option<String>,
    /// For `rediss://` with client authentication (`tls-auth-clients yes`): PEM file of our certificate.
    /// Requires `tls_key_file`.
    pub tls_cert_file: Option<String>,
    /// PEM file of the private key of `tls_cert_file`.
    pub tls_key_file: Option<String>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: None,
            cluster: Vec::new(),
            username: None,
            password: None,
            prefix: None,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(2),
            reconnect_retries: 6,
            reconnect_max_delay: Duration::from_secs(2),
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

/// The `server:` section, read by `relaycache-server`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default: set `0.0.0.0` deliberately, with `requirepass`.
    pub bind: String,
    /// RESP port (plaintext). 0 picks a free port, except beside a `tls_port`, where 0 serves no
    /// plaintext at all (Redis's `port 0`).
    pub port: u16,
    /// RESP port served with TLS, beside `port` or (with `port: 0`) instead of it. None: no TLS listener.
    /// 0 picks a free port. Requires `tls_cert_file` and `tls_key_file`.
    pub tls_port: Option<u16>,
    /// PEM file of the server's certificate chain (leaf first), for `tls_port` and `admin.tls`.
    pub tls_cert_file: Option<String>,
    /// PEM file of the private key of `tls_cert_file` (PKCS#8, PKCS#1 or SEC1).
    pub tls_key_file: Option<String>,
    /// PEM file of the certificate authorities that sign client certificates.
    pub tls_ca_cert_file: Option<String>,
    /// Whether TLS clients must present a certificate signed by `tls_ca_cert_file`: `yes`, `no` or
    /// `optional` (verified when given). None: `yes` when `tls_ca_cert_file` is set, else `no`.
    pub tls_auth_clients: Option<TlsAuthClients>,
    /// Password clients must give with `AUTH` or `HELLO ... AUTH`. None: no authentication.
    pub requirepass: Option<String>,
    /// Connections served at once; more are refused with `ERR max number of clients reached`.
    pub max_clients: usize,
    /// Close a client idle this long; 0 never.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// On SIGINT/SIGTERM, how long connected clients get to finish before they are cut off.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// After a request, keep one worker polling the sockets (instead of sleeping) for this long, so
    /// the next request needs no wake-up; 0 never. It costs CPU only while requests keep coming.
    #[serde(with = "humantime_serde")]
    pub busy_poll: Duration,
    /// Protocol limits.
    pub limits: LimitsConfig,
    /// The admin HTTP endpoint (`/healthz`, `/readyz`, `/metrics`, `/stats`).
    pub admin: AdminConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1".to_owned(),
            port: 6380,
            tls_port: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_cert_file: None,
            tls_auth_clients: None,
            requirepass: None,
            max_clients: 10_000,
            idle_timeout: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(10),
            busy_poll: Duration::from_micros(50),
            limits: LimitsConfig::default(),
            admin: AdminConfig::default(),
        }
    }
}

impl ServerConfig {
    /// The plaintext RESP port to listen on: `port`, or none when `port` is 0 beside a `tls_port`.
    #[must_use]
    pub fn plaintext_port(&self) -> Option<u16> {
        if self.port == 0 && self.tls_port.is_some() {
            None
        } else {
            Some(self.port)
        }
    }

    /// The client-certificate policy in force: `tls_auth_clients`, or by default `yes` when
    /// `tls_ca_cert_file` is set and `no` otherwise.
    #[must_use]
    pub fn client_auth(&self) -> TlsAuthClients {
        self.tls_auth_clients
            .unwrap_or(match self.tls_ca_cert_file {
                Some(_) => TlsAuthClients::Yes,
                None => TlsAuthClients::No,
            })
    }

    /// Whether anything is served with TLS (`tls_port`, or an enabled admin endpoint with `admin.tls`).
    #[must_use]
    pub fn uses_tls(&self) -> bool {
        self.tls_port.is_some() || (self.admin.enabled && self.admin.tls)
    }
}

/// `server.tls_auth_clients`: what a TLS client must show, as Redis's `tls-auth-clients`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsAuthClients {
    /// A certificate signed by `tls_ca_cert_file` is required; clients without one are refused in the
    /// handshake.
    Yes,
    /// No certificate is asked for.
    No,
    /// A certificate is asked for and verified when given; clients without one are accepted.
    Optional,
}

impl TlsAuthClients {
    /// The name as written in the configuration.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::No => "no",
            TlsAuthClients::Optional => "optional",
        }
    }
}

/// Accepts `yes`, `no`, `optional` (any case) and the YAML booleans `true` / `false`.
impl<'de> Deserialize<'de> for TlsAuthClients {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Bool(true) => Ok(TlsAuthClients::Yes),
            serde_json::Value::Bool(false) => Ok(TlsAuthClients::No),
            serde_json::Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "yes" | "true" => Ok(TlsAuthClients::Yes),
                "no" | "false" => Ok(TlsAuthClients::No),
                "optional" => Ok(TlsAuthClients::Optional),
                _ => Err(D::Error::custom(format!(
                    "invalid value {s:?}: expected yes, no or optional"
                ))),
            },
            other => Err(D::Error::custom(format!(
                "invalid value {other}: expected yes, no or optional"
            ))),
        }
    }
}

/// The `server.limits:` section: what one client may send and hold.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LimitsConfig {
    /// Largest bulk string (key or value) accepted.
    #[serde(deserialize_with = "de_byte_size")]
    pub max_bulk_len: u64,
    /// Most arguments in one command.
    pub max_args: u64,
    /// Longest inline (telnet-style) command line.
    #[serde(deserialize_with = "de_byte_size")]
    pub max_inline_len: u64,
    /// Deepest nesting of aggregate frames.
    pub max_nesting: u32,
    /// Largest bulk string accepted before a client has authenticated.
    #[serde(deserialize_with = "de_byte_size")]
    pub unauthenticated_max_bulk_len: u64,
    /// Most arguments in one command before a client has authenticated.
    pub unauthenticated_max_args: u64,
    /// Replies a client may leave unread before it is disconnected.
    #[serde(deserialize_with = "de_byte_size")]
    pub max_output_buffer: u64,
    /// A command that started arriving must be complete within this time.
    #[serde(with = "humantime_serde")]
    pub partial_command_timeout: Duration,
    /// A client of `tls_port` (or of the admin endpoint with `admin.tls`) must finish its TLS handshake
    /// within this time; it holds a client slot meanwhile.
    #[serde(with = "humantime_serde")]
    pub tls_handshake_timeout: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_bulk_len: 512 << 20,
            max_args: 1 << 20,
            max_inline_len: 64 << 10,
            max_nesting: 32,
            unauthenticated_max_bulk_len: 16 << 10,
            unauthenticated_max_args: 16,
            max_output_buffer: 64 << 20,
            partial_command_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// The `server.admin:` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AdminConfig {
    /// Serve the admin HTTP endpoint.
    pub enabled: bool,
    /// Address to listen on (loopback by default).
    pub bind: String,
    /// HTTP port.
    pub port: u16,
    /// Serve HTTPS, with the certificate, key and client-certificate policy of the RESP `tls_port`
    /// (`server.tls_cert_file`, `tls_key_file`, `tls_ca_cert_file`, `tls_auth_clients`).
    pub tls: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            bind: "127.0.0.1".to_owned(),
            port: 9380,
            tls: false,
        }
    }
}

/// The `logging:` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LoggingConfig {
    /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter such as `info,relaycache=debug`.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Accepts a byte count as a number (`104857600`) or a size string (`100MiB`, `64 KB`, `1.5GiB`).
fn de_byte_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    use serde::de::Error as _;
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(n) => n.as_u64().ok_or_else(|| {
            D::Error::custom(format!(
                "invalid byte size {n}: expected a whole number of bytes >= 0"
            ))
        }),
        serde_json::Value::String(s) => parse_byte_size(&s).map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "invalid byte size {other}: expected a number of bytes or a size like 100MiB"
        ))),
    }
}

/// Parses `100MiB`, `64 KB`, `1.5GiB` or a plain number of bytes.
pub(crate) fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    t.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| {
            format!(
                "invalid byte size {text:?} ({e}); write a number of bytes or a size like 100MiB"
            )
        })
}
