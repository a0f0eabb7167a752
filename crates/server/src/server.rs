//! [`Server`]: binds the RESP listeners (plaintext `port`, TLS `tls_port`) and the admin listener,
//! accepts clients, and shuts down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use relaycache::config::ServerConfig;
use relaycache::{Config, KeyOps};
use relaycache_resp::Limits;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin;
use crate::busy_poll::BusyPoll;
use crate::connection;
use crate::metrics::{CloseReason, Metrics};
use crate::session::Session;
use crate::tls;

/// The Redis version the server reports (`INFO`, `HELLO`): the command set and replies follow it.
pub const REDIS_VERSION: &str = "7.0.15";

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A listener could not be bound (address in use, permission, bad address). Nothing is running.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A TLS key names a file that cannot be used (unreadable, not PEM, no certificate, a key that does
    /// not match). Nothing is running.
    #[error("config: {field}: {reason}")]
    Tls {
        /// The key's path, such as `server.tls_cert_file`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The server task failed or panicked.
    #[error("server task failed: {0}")]
    Task(String),
}

/// State shared by the accept loop, every connection and the admin endpoint.
#[derive(Debug)]
pub(crate) struct Shared<C> {
    pub(crate) cache: C,
    pub(crate) config: ServerConfig,
    pub(crate) password: Option<Vec<u8>>,
    pub(crate) metrics: Metrics,
    pub(crate) started: std::time::Instant,
    pub(crate) next_id: AtomicU64,
    /// The plaintext RESP port bound; 0 when plaintext is off (as Redis reports `port 0`).
    pub(crate) port: u16,
    /// The TLS RESP port bound; 0 without TLS.
    pub(crate) tls_port: u16,
    pub(crate) mode: &'static str,
    pub(crate) config_file: Option<String>,
    pub(crate) busy_poll: BusyPoll,
    /// 40 random hex digits naming this run of the server (`INFO`'s `run_id`).
    pub(crate) run_id: String,
    /// 40 random hex digits, `INFO`'s `master_replid` (there is no replication stream).
    pub(crate) replid: String,
    /// Unix time in seconds when the server was built (`INFO`'s `rdb_last_save_time`).
    pub(crate) started_unix: u64,
    /// The TLS configuration of `tls_port` and of the admin endpoint with `admin.tls`.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// Who watches which key (`WATCH`).
    pub(crate) watches: crate::watch::Watches,
    /// Keys whose values Redis would encode otherwise than their bytes say (`OBJECT ENCODING`).
    pub(crate) encodings: crate::encoding::Encodings,
    /// Isolates transactions: a connection holds it shared while it executes a batch of commands, and
    /// `EXEC` holds it exclusively while it runs the queued commands.
    pub(crate) isolation: tokio::sync::RwLock<()>,
    /// How long shutdown waits for [`Cache::close`] (an `ha` node's graceful leave).
    close_timeout: Duration,
    limits: Limits,
}

impl<C> Shared<C> {
    /// The decoder limits for a client in this authentication state.
    pub(crate) fn limits_for(&self, authenticated: bool) -> Limits {
        if authenticated {
            self.limits
        } else {
            self.limits.unauthenticated(
                self.config.limits.unauthenticated_max_bulk_len,
                self.config.limits.unauthenticated_max_args,
            )
        }
    }
}

/// A bound, not yet running server over cache `C` (any [`Cache`]: normally
/// [`AnyCache`](relaycache::AnyCache)).
///
/// ```no_run
/// use relaycache::{AnyCache, Config};
/// use relaycache_server::Server;
/// # async fn demo() -> anyhow::Result<()> {
/// let config = Config::default();
/// let cache = AnyCache::from_config(&config).await?;
/// let server = Server::bind(&config, cache).await?;
/// println!("listening on {}", server.local_addr());
/// let handle = server.spawn();
/// // ... later
/// handle.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server<C> {
    shared: Arc<Shared<C>>,
    /// Plaintext RESP (`port`), unless `port: 0` beside a `tls_port` turns it off.
    listener: Option<TcpListener>,
    /// RESP over TLS (`tls_port`).
    tls_listener: Option<TcpListener>,
    admin: Option<TcpListener>,
}

async fn listen(bind: &str, port: u16) -> Result<TcpListener, ServerError> {
    let addr = format!("{bind}:{port}");
    TcpListener::bind(&addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

impl<C: KeyOps + 'static> Server<C> {
    /// Binds the RESP listeners (`server.bind`:`server.port`, and `server.tls_port` with TLS) and,
    /// when enabled, the admin listener. Port 0 picks a free port (except `port: 0` beside a
    /// `tls_port`, which serves TLS only); see [`local_addr`](Server::local_addr) and
    /// [`tls_addr`](Server::tls_addr). The TLS files are read here.
    ///
    /// # Errors
    /// [`ServerError::Bind`] when an address cannot be bound, [`ServerError::Tls`] when a TLS file
    /// cannot be used.
    pub async fn bind(config: &Config, cache: C) -> Result<Self, ServerError> {
        crate::metrics::install_recorder();
        let server = &config.server;
        let tls = tls::acceptor(server)?;
        let listener = match server.plaintext_port() {
            Some(port) => Some(listen(&server.bind, port).await?),
            None => None,
        };
        let tls_listener = match server.tls_port {
            Some(port) => Some(listen(&server.bind, port).await?),
            None => None,
        };
        let admin = if server.admin.enabled {
            Some(listen(&server.admin.bind, server.admin.port).await?)
        } else {
            None
        };
        let bound = |l: &Option<TcpListener>, configured: u16| {
            l.as_ref()
                .map_or(0, |l| l.local_addr().map_or(configured, |a| a.port()))
        };
        let port = bound(&listener, server.port);
        let tls_port = bound(&tls_listener, server.tls_port.unwrap_or(0));
        let l = &server.limits;
        let limits = Limits {
            max_bulk_len: l.max_bulk_len,
            max_args: l.max_args,
            max_inline_len: l.max_inline_len,
            max_nesting: l.max_nesting,
            unauthenticated: false,
        };
        let shared = Shared {
            cache,
            config: server.clone(),
            password: server.requirepass.as_ref().map(|p| p.as_bytes().to_vec()),
            metrics: Metrics::default(),
            started: std::time::Instant::now(),
            next_id: AtomicU64::new(1),
            port,
            tls_port,
            mode: config.cache.mode.as_str(),
            config_file: None,
            busy_poll: BusyPoll::new(server.busy_poll),
            run_id: crate::cmd::random_hex40(),
            replid: crate::cmd::random_hex40(),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            tls,
            watches: crate::watch::Watches::default(),
            encodings: crate::encoding::Encodings::default(),
            isolation: tokio::sync::RwLock::new(()),
            close_timeout: close_timeout(config),
            limits,
        };
        Ok(Server {
            shared: Arc::new(shared),
            listener,
            tls_listener,
            admin,
        })
    }

    /// Records the configuration file's path, shown by `INFO server`.
    #[must_use]
    pub fn with_config_file(mut self, path: impl Into<String>) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.config_file = Some(path.into());
        }
        self
    }

    /// The RESP address actually bound: the plaintext one, or the TLS one when plaintext is off.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .as_ref()
            .or(self.tls_listener.as_ref())
            .and_then(|l| l.local_addr().ok())
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], self.shared.port)))
    }

    /// The plaintext RESP address, unless `port: 0` beside a `tls_port` turned plaintext off.
    #[must_use]
    pub fn plaintext_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The TLS RESP address (`tls_port`), when configured.
    #[must_use]
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Whether the admin endpoint serves HTTPS (`server.admin.tls`).
    #[must_use]
    pub fn admin_tls(&self) -> bool {
        self.shared.config.admin.tls
    }

    /// The admin HTTP address actually bound, when enabled.
    #[must_use]
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Runs the server on a task of the current runtime; the handle stops it.
    #[must_use]
    pub fn spawn(self) -> ServerHandle {
        let addr = self.local_addr();
        let tls_addr = self.tls_addr();
        let admin_addr = self.admin_addr();
        let token = CancellationToken::new();
        let task = tokio::spawn(self.run(token.clone()));
        ServerHandle {
            addr,
            tls_addr,
            admin_addr,
            token,
            task: Some(task),
        }
    }

    /// Serves until `shutdown` is cancelled, then stops gracefully, in this order: stops accepting (RESP
    /// and admin), lets every client finish the commands it has sent and receive their replies, waits
    /// up to `server.shutdown_timeout` for clients to go, then closes the cache (in `ha` mode a graceful
    /// leave that hands this node's partitions over within `cache.olric.leave_timeout`). Each step is
    /// bounded, so this returns within about `shutdown_timeout + leave_timeout` (+ `request_timeout`)
    /// plus a few seconds.
    ///
    /// # Errors
    /// None today; reserved for failures of the server's own tasks.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServerError> {
        let Server {
            shared,
            listener,
            tls_listener,
            admin,
        } = self;
        let admin_task =
            admin.map(|l| tokio::spawn(admin::serve(l, shared.clone(), shutdown.clone())));
        let spinner = tokio::spawn({
            let (shared, shutdown) = (shared.clone(), shutdown.clone());
            async move { shared.busy_poll.run(shutdown).await }
        });
        let tracker = TaskTracker::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                (accepted, secure) = next_client(listener.as_ref(), tls_listener.as_ref()) => match accepted {
                    Ok((stream, peer)) => accept(stream, peer, secure, &shared, &tracker, &shutdown),
                    Err(e) => {
                        // Out of file descriptors and the like: log, breathe, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
            }
        }
        drop(listener);
        drop(tls_listener);
        tracker.close();
        let open = tracker.len();
        tracing::info!(
            clients = open,
            "shutting down: no longer accepting, finishing clients"
        );
        if tokio::time::timeout(shared.config.shutdown_timeout, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                clients = tracker.len(),
                "shutdown timeout passed; cutting clients off"
            );
        }
        let _ = spinner.await;
        if let Some(mut task) = admin_task {
            // axum lets requests in flight finish; a stuck HTTP client must not hold the exit.
            match tokio::time::timeout(ADMIN_STOP_TIMEOUT, &mut task).await {
                Ok(Err(e)) => tracing::warn!(error = %e, "admin endpoint task failed"),
                Ok(Ok(())) => {}
                Err(_) => {
                    tracing::warn!("admin endpoint did not stop in time; cutting it off");
                    task.abort();
                }
            }
        }
        tracing::info!(
            backend = shared.cache.name(),
            timeout_ms = shared.close_timeout.as_millis() as u64,
            "closing the cache"
        );
        match tokio::time::timeout(shared.close_timeout, shared.cache.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "closing the cache failed"),
            Err(_) => tracing::warn!(
                timeout_ms = shared.close_timeout.as_millis() as u64,
                "closing the cache did not finish in time; stopping anyway"
            ),
        }
        tracing::info!("shutdown complete");
        Ok(())
    }
}

/// How long shutdown waits for the admin endpoint's requests in flight.
const ADMIN_STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// The bound on [`Cache::close`] at shutdown: in `ha` mode the node's `leave_timeout` (the hand-off)
/// plus one `request_timeout` (the leave notices) and some slack; other backends get 5 s.
fn close_timeout(config: &Config) -> Duration {
    let slack = Duration::from_secs(2);
    match config.cache.mode {
        relaycache::config::Mode::Ha => {
            let ha = &config.cache.olric;
            ha.leave_timeout + ha.request_timeout + slack
        }
        _ => Duration::from_secs(5),
    }
}

/// How long a client refused for `max_clients` gets to receive the refusal (TLS handshake included).
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// Decrements the connected-clients gauge when a connection task ends, even by panic.
struct Connected<'a>(&'a Metrics);

impl Drop for Connected<'_> {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The next client of either RESP listener, and whether it came in on the TLS one. A listener that is
/// not configured never yields.
async fn next_client(
    plain: Option<&TcpListener>,
    secure: Option<&TcpListener>,
) -> (std::io::Result<(TcpStream, SocketAddr)>, bool) {
    async fn on(l: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
        match l {
            Some(l) => l.accept().await,
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        accepted = on(plain) => (accepted, false),
        accepted = on(secure) => (accepted, true),
    }
}

fn accept<C: KeyOps + 'static>(
    stream: TcpStream,
    peer: SocketAddr,
    secure: bool,
    shared: &Arc<Shared<C>>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let metrics = &shared.metrics;
    // A TLS client holds its slot from the first byte of its handshake.
    let now = metrics.connected.fetch_add(1, Ordering::Relaxed) + 1;
    let acceptor = if secure { shared.tls.clone() } else { None };
    if now > shared.config.max_clients as u64 {
        metrics.connected.fetch_sub(1, Ordering::Relaxed);
        metrics.connections_rejected.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%peer, max_clients = shared.config.max_clients, tls = secure, "refusing client: max clients reached");
        tracker.spawn(async move {
            const REFUSAL: &[u8] = b"-ERR max number of clients reached\r\n";
            let refuse = async {
                match acceptor {
                    // The error goes over TLS, where the client can read it; the whole refusal,
                    // handshake included, gets the same short bound as in plaintext, so a flood of
                    // clients over the limit cannot pile up tasks.
                    Some(acceptor) => {
                        let mut tls = tls::handshake(&acceptor, stream, REFUSAL_TIME)
                            .await
                            .map_err(std::io::Error::other)?;
                        tls.write_all(REFUSAL).await?;
                        tls.shutdown().await
                    }
                    None => {
                        let mut stream = stream;
                        stream.write_all(REFUSAL).await?;
                        stream.shutdown().await
                    }
                }
            };
            if let Ok(Err(e)) = tokio::time::timeout(REFUSAL_TIME, refuse).await {
                tracing::debug!(%peer, error = %e, "refusal not delivered");
            }
        });
        return;
    }
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    let local = stream.local_addr().unwrap_or(peer);
    let handshake_timeout = shared.config.limits.tls_handshake_timeout;
    let shared = shared.clone();
    let shutdown = shutdown.clone();
    tracker.spawn(async move {
        let _connected = Connected(&shared.metrics);
        let Some(acceptor) = acceptor else {
            let session = open_session(&shared, peer, local);
            connection::serve(stream, shared.clone(), session, shutdown).await;
            return;
        };
        let handshake = tokio::select! {
            () = shutdown.cancelled() => return,
            handshake = tls::handshake(&acceptor, stream, handshake_timeout) => handshake,
        };
        match handshake {
            Ok(stream) => {
                let session = open_session(&shared, peer, local);
                connection::serve(stream, shared.clone(), session, shutdown).await;
            }
            Err(e) => {
                shared.metrics.closed(CloseReason::TlsHandshake);
                tracing::debug!(%peer, error = %e, "closing client: TLS handshake did not complete");
            }
        }
    });
}

/// Counts the connection and gives it its session.
fn open_session<C>(shared: &Shared<C>, peer: SocketAddr, local: SocketAddr) -> Session {
    shared
        .metrics
        .connections_total
        .fetch_add(1, Ordering::Relaxed);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    tracing::trace!(client = id, %peer, "client connected");
    Session::new(id, peer, local, shared.password.is_some())
}

/// A running server: its addresses, and [`shutdown`](ServerHandle::shutdown). Dropping the handle also
/// asks the server to stop (without waiting).
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    token: CancellationToken,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl ServerHandle {
    /// The RESP address: the plaintext one, or the TLS one when plaintext is off.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The TLS RESP address (`tls_port`), when configured.
    #[must_use]
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The admin HTTP address, when enabled.
    #[must_use]
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Stops the server gracefully and waits until it has.
    ///
    /// # Errors
    /// [`ServerError::Task`] if the server task panicked.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        self.token.cancel();
        match self.task.take() {
            Some(task) => task.await.map_err(|e| ServerError::Task(e.to_string()))?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.token.cancel();
    }
}
