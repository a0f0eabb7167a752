//! [`RedisBuilder`]: settings of a Redis backend, from code or from [`RedisConfig`], and the connection
//! that proves the deployment is reachable before [`RedisCache`] is handed out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::{
    AsyncConnectionConfig, ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    TlsCertificates,
};

use super::RedisCache;
use super::conn::Conn;
use super::errors;
use crate::config::{ConfigError, RedisConfig};
use crate::error::{Error, Result};

/// The shortest wait before the first reconnection attempt; later waits grow exponentially up to
/// [`RedisBuilder::reconnect`]'s `max_delay`.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoints {
    /// One server.
    Url(String),
    /// Some nodes of a Redis Cluster; the others are discovered.
    Cluster(Vec<String>),
}

/// Builds a [`RedisCache`]: where Redis is, credentials, key prefix, timeouts and reconnection.
///
/// ```no_run
/// use std::time::Duration;
/// use relaycache::backend::RedisBuilder;
/// use relaycache::Cache;
/// # async fn demo() -> relaycache::Result<()> {
/// let cache = RedisBuilder::url("redis://127.0.0.1:6379")
///     .prefix("myapp:")
///     .response_timeout(Duration::from_millis(500))
///     .connect()
///     .await?;
/// cache.set(b"k", b"v").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisBuilder {
    endpoints: Endpoints,
    username: Option<String>,
    password: Option<String>,
    prefix: Bytes,
    connect_timeout: Duration,
    response_timeout: Duration,
    reconnect_retries: u32,
    reconnect_max_delay: Duration,
    tls_ca_file: Option<PathBuf>,
    tls_client: Option<(PathBuf, PathBuf)>,
}

impl RedisBuilder {
    /// One server: `redis://[user:password@]host:port[/db]`, `rediss://...` for TLS, or
    /// `redis+unix:///path/to/socket`. Defaults: no prefix, the timeouts and reconnection of
    /// [`RedisConfig::default`].
    pub fn url(url: impl Into<String>) -> Self {
        Self::new(Endpoints::Url(url.into()))
    }

    /// A Redis Cluster, from the URLs of some of its nodes (the others are discovered).
    pub fn cluster<I, S>(urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Endpoints::Cluster(
            urls.into_iter().map(Into::into).collect(),
        ))
    }

    fn new(endpoints: Endpoints) -> Self {
        let defaults = RedisConfig::default();
        RedisBuilder {
            endpoints,
            username: None,
            password: None,
            prefix: Bytes::new(),
            connect_timeout: defaults.connect_timeout,
            response_timeout: defaults.response_timeout,
            reconnect_retries: defaults.reconnect_retries,
            reconnect_max_delay: defaults.reconnect_max_delay,
            tls_ca_file: None,
            tls_client: None,
        }
    }

    /// The settings of a `cache.redis` section. `default_prefix` is used when `prefix` is not set (the
    /// factory passes `<cache.olric.dmap_name>:`).
    ///
    /// # Errors
    /// [`Error::Config`] when neither `url` nor `cluster` is given, or both are.
    pub fn from_config(config: &RedisConfig, default_prefix: &str) -> Result<Self> {
        let endpoints = match (&config.url, config.cluster.is_empty()) {
            (Some(url), true) => Endpoints::Url(url.clone()),
            (None, false) => Endpoints::Cluster(config.cluster.clone()),
            (Some(_), false) => {
                return Err(ConfigError::invalid(
                    "cache.redis.url",
                    "give either cache.redis.url (one server) or cache.redis.cluster, not both",
                )
                .into());
            }
            (None, true) => {
                return Err(ConfigError::invalid(
                    "cache.redis.url",
                    "is required in redis mode (or cache.redis.cluster for a Redis Cluster)",
                )
                .into());
            }
        };
        let prefix = config.prefix.as_deref().unwrap_or(default_prefix);
        let mut builder = Self::new(endpoints)
            .prefix(prefix.as_bytes().to_vec())
            .connect_timeout(config.connect_timeout)
            .response_timeout(config.response_timeout)
            .reconnect(config.reconnect_retries, config.reconnect_max_delay);
        if let Some(username) = &config.username {
            builder = builder.username(username.clone());
        }
        if let Some(password) = &config.password {
            builder = builder.password(password.clone());
        }
        if let Some(ca) = &config.tls_ca_file {
            builder = builder.tls_ca_file(ca);
        }
        match (&config.tls_cert_file, &config.tls_key_file) {
            (Some(cert), Some(key)) => builder = builder.tls_client_cert(cert, key),
            (None, None) => {}
            _ => {
                return Err(ConfigError::invalid(
                    "cache.redis.tls_cert_file",
                    "cache.redis.tls_cert_file and cache.redis.tls_key_file go together",
                )
                .into());
            }
        }
        Ok(builder)
    }

    /// ACL user name, overriding the URL's.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Password, overriding the URL's.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Bytes put in front of every key (a namespace), removed again from keys returned by
    /// [`scan`](crate::Cache::scan). Empty for none.
    pub fn prefix(mut self, prefix: impl Into<Bytes>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long establishing a connection may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one call (one round trip; a cluster request with its redirects and retries) may take.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How many times a lost connection is retried, with exponential backoff and jitter capped at
    /// `max_delay`, before calls fail; the next call starts a new round.
    pub fn reconnect(mut self, retries: u32, max_delay: Duration) -> Self {
        self.reconnect_retries = retries;
        self.reconnect_max_delay = max_delay;
        self
    }

    /// For `rediss://`: trust the certificate authority in this PEM file (a private CA) instead of the
    /// system's roots.
    pub fn tls_ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.tls_ca_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// For `rediss://` to a server that authenticates clients: our certificate and its private key, PEM.
    pub fn tls_client_cert(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.tls_client = Some((cert.as_ref().to_path_buf(), key.as_ref().to_path_buf()));
        self
    }

    /// The certificates configured for TLS, read from their files; `None` to use the system's roots.
    fn tls_certificates(&self) -> Result<Option<TlsCertificates>> {
        if self.tls_ca_file.is_none() && self.tls_client.is_none() {
            return Ok(None);
        }
        let read = |field: &str, path: &Path| {
            std::fs::read(path).map_err(|e| {
                Error::from(ConfigError::invalid(
                    format!("cache.redis.{field}"),
                    format!("cannot read {}: {e}", path.display()),
                ))
            })
        };
        let root_cert = match &self.tls_ca_file {
            Some(path) => Some(read("tls_ca_file", path)?),
            None => None,
        };
        let client_tls = match &self.tls_client {
            Some((cert, key)) => Some(ClientTlsConfig {
                client_cert: read("tls_cert_file", cert)?,
                client_key: read("tls_key_file", key)?,
            }),
            None => None,
        };
        Ok(Some(TlsCertificates {
            client_tls,
            root_cert,
        }))
    }

    /// Connects, checks that the deployment answers `PING` (every master, for a cluster) within the
    /// connect and response timeouts, and returns the cache. One attempt is made: a server that is down
    /// fails here at once rather than after the reconnection backoff.
    ///
    /// # Errors
    /// [`Error::Config`] for an unusable URL or a zero timeout, [`Error::Connection`] when a node cannot
    /// be reached, [`Error::Auth`] when the credentials are refused, [`Error::Timeout`] when it answers too
    /// slowly.
    pub async fn connect(self) -> Result<RedisCache> {
        for (name, value) in [
            ("connect_timeout", self.connect_timeout),
            ("response_timeout", self.response_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::invalid(
                    format!("cache.redis.{name}"),
                    "must be greater than 0",
                )
                .into());
            }
        }
        let (conn, endpoint) = match &self.endpoints {
            Endpoints::Url(url) => self.connect_single(url).await?,
            Endpoints::Cluster(urls) => self.connect_cluster(urls).await?,
        };
        tracing::debug!(component = "redis", %endpoint, "connected");
        Ok(RedisCache::new(
            conn,
            endpoint,
            self.prefix,
            self.response_timeout,
        ))
    }

    /// The connection settings of one URL, with the configured credentials applied.
    fn info(&self, field: &str, url: &str) -> Result<ConnectionInfo> {
        let info = url.into_connection_info().map_err(|e| {
            Error::from(ConfigError::invalid(
                field,
                format!("{:?} is not a usable Redis URL: {e}", redact(url)),
            ))
        })?;
        if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
            install_crypto_provider();
        }
        let mut settings = info.redis_settings().clone();
        if let Some(username) = &self.username {
            settings = settings.set_username(username);
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password);
        }
        Ok(info.set_redis_settings(settings))
    }

    async fn connect_single(&self, url: &str) -> Result<(Conn, String)> {
        let info = self.info("cache.redis.url", url)?;
        let endpoint = describe(&info);
        let is_tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
        let client = match self.tls_certificates()? {
            Some(certs) if is_tls => redis::Client::build_with_tls(info, certs),
            Some(_) => {
                return Err(ConfigError::invalid(
                    "cache.redis.tls_ca_file",
                    "TLS files are set but the URL does not use TLS: write rediss://",
                )
                .into());
            }
            None => redis::Client::open(info),
        }
        .map_err(|e| Error::from(ConfigError::invalid("cache.redis.url", e.to_string())))?;
        // One bounded attempt first, so that a server that is down or refuses us fails now, with the
        // real reason, instead of after the manager's whole reconnection backoff.
        let probe_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout));
        let probe = async {
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&probe_config)
                .await?;
            redis::cmd("PING").query_async::<()>(&mut conn).await
        };
        let budget = self.connect_timeout + self.response_timeout;
        match tokio::time::timeout(budget, probe).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(errors::map("connect", &endpoint, budget, &e)),
            Err(_) => {
                return Err(Error::Timeout {
                    op: "connect",
                    after: budget,
                });
            }
        }
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(self.reconnect_retries as usize)
            .set_min_delay(RECONNECT_MIN_DELAY.min(self.reconnect_max_delay))
            .set_max_delay(self.reconnect_max_delay);
        // Connect the manager now rather than on the first call, so the first call costs one round
        // trip like every other (the server just answered, so this does not wait on backoff).
        let manager = tokio::time::timeout(
            budget,
            ConnectionManager::new_with_config(client, manager_config),
        )
        .await
        .map_err(|_| Error::Timeout {
            op: "connect",
            after: budget,
        })?
        .map_err(|e| errors::map("connect", &endpoint, budget, &e))?;
        Ok((Conn::Single(manager), endpoint))
    }

    async fn connect_cluster(&self, urls: &[String]) -> Result<(Conn, String)> {
        if urls.is_empty() {
            return Err(ConfigError::invalid("cache.redis.cluster", "lists no node").into());
        }
        let mut infos = Vec::with_capacity(urls.len());
        for (i, url) in urls.iter().enumerate() {
            infos.push(self.info(&format!("cache.redis.cluster[{i}]"), url)?);
        }
        let endpoint = format!(
            "cluster [{}]",
            infos.iter().map(describe).collect::<Vec<_>>().join(", ")
        );
        let max_wait = u64::try_from(self.reconnect_max_delay.as_millis()).unwrap_or(u64::MAX);
        let min_wait = u64::try_from(RECONNECT_MIN_DELAY.as_millis())
            .unwrap_or(0)
            .min(max_wait);
        let mut builder = ClusterClientBuilder::new(infos)
            .retries(self.reconnect_retries)
            .min_retry_wait(min_wait)
            .max_retry_wait(max_wait.max(min_wait + 1))
            .connection_timeout(self.connect_timeout)
            .response_timeout(self.response_timeout)
            .overall_response_timeout(Some(self.response_timeout));
        if let Some(username) = &self.username {
            builder = builder.username(username);
        }
        if let Some(password) = &self.password {
            builder = builder.password(password);
        }
        if let Some(certs) = self.tls_certificates()? {
            builder = builder.certs(certs);
        }
        let client = builder
            .build()
            .map_err(|e| Error::from(ConfigError::invalid("cache.redis.cluster", e.to_string())))?;
        let budget = self.connect_timeout + self.response_timeout;
        let attempt = async {
            let mut conn = Conn::Cluster(client.get_async_connection().await?);
            conn.nodes().await?;
            Ok::<_, redis::RedisError>(conn)
        };
        match tokio::time::timeout(budget, attempt).await {
            Ok(Ok(conn)) => Ok((conn, endpoint)),
            Ok(Err(e)) => Err(errors::map("connect", &endpoint, budget, &e)),
            Err(_) => Err(Error::Timeout {
                op: "connect",
                after: budget,
            }),
        }
    }
}

/// `host:port` (or the socket path) of a connection, without credentials, for error messages.
fn describe(info: &ConnectionInfo) -> String {
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("{host}:{port} (TLS)"),
        ConnectionAddr::Unix(path) => format!("unix:{}", path.display()),
        other => format!("{other}"),
    }
}

/// The URL with any password replaced by `***`, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split_once(':').map_or("", |(u, _)| u);
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// rustls needs a process-wide crypto provider for `rediss://`; install ring's unless the application
/// installed one already.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only means another thread installed one first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(redact("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact("redis://:secret@h:1"), "redis://:***@h:1");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
    }

    #[test]
    fn from_config_needs_exactly_one_endpoint() {
        let mut config = RedisConfig::default();
        assert!(matches!(
            RedisBuilder::from_config(&config, "cc-relay:"),
            Err(Error::Config(_))
        ));
        config.url = Some("redis://127.0.0.1:1".into());
        let builder = RedisBuilder::from_config(&config, "cc-relay:").expect("valid");
        assert_eq!(builder.prefix.as_ref(), b"cc-relay:");
        config.prefix = Some(String::new());
        let builder = RedisBuilder::from_config(&config, "cc-relay:").expect("valid");
        assert!(builder.prefix.is_empty());
        config.cluster = vec!["redis://127.0.0.1:2".into()];
        assert!(matches!(
            RedisBuilder::from_config(&config, "cc-relay:"),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn tls_settings_are_validated_with_their_field_names() {
        let load = |redis: &str| {
            crate::Config::from_yaml_str(&format!("cache:\n  mode: redis\n  redis:\n{redis}"))
        };
        let half = load("    url: rediss://127.0.0.1:1\n    tls_cert_file: c.pem\n");
        assert!(
            half.unwrap_err()
                .to_string()
                .contains("cache.redis.tls_cert_file"),
            "cert without key must name the field"
        );
        let plain = load("    url: redis://127.0.0.1:1\n    tls_ca_file: ca.pem\n");
        assert!(
            plain.unwrap_err().to_string().contains("rediss://"),
            "a CA file on a plain URL must say to use rediss://"
        );
        let ok = load(
            "    url: rediss://127.0.0.1:1\n    tls_ca_file: ca.pem\n    tls_cert_file: c.pem\n    tls_key_file: c.key\n",
        )
        .expect("valid TLS settings");
        let builder = RedisBuilder::from_config(&ok.cache.redis, "p:").expect("builder");
        assert_eq!(builder.tls_ca_file.as_deref(), Some(Path::new("ca.pem")));
        assert!(builder.tls_client.is_some());
    }

    #[test]
    fn describe_omits_credentials() {
        let info = "redis://user:pw@127.0.0.1:6390/0"
            .into_connection_info()
            .expect("valid url");
        assert_eq!(describe(&info), "127.0.0.1:6390");
    }
}
