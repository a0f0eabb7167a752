//! The `relaycache-server` program: flags, configuration, logging, runtime, serve until a signal.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use relaycache::config::ENV_PREFIX;
use relaycache::{AnyCache, Config, ConfigError};
use tokio_util::sync::CancellationToken;

use crate::server::Server;

/// relaycache-server: serves the configured cache over RESP, so redis-cli and every Redis client work.
///
/// With no configuration file it serves `single` mode (in-process cache) on 127.0.0.1:6380, with the
/// admin HTTP endpoint (/healthz /readyz /metrics /stats /cluster) on 127.0.0.1:9380.
#[derive(Debug, Parser)]
#[command(name = "relaycache-server", version, about, long_about = None)]
pub struct ServerArgs {
    /// Configuration file (YAML). Without one, the defaults (and RELAYCACHE_* variables) apply.
    #[arg(short, long, env = "RELAYCACHE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Port to listen on (overrides server.port; 0 picks a free one).
    #[arg(short, long)]
    pub port: Option<u16>,
    /// TLS port to listen on (overrides server.tls_port; needs server.tls_cert_file and tls_key_file).
    /// With --port 0 the server serves TLS only.
    #[arg(long)]
    pub tls_port: Option<u16>,
    /// Address to listen on (overrides server.bind).
    #[arg(short, long)]
    pub bind: Option<String>,
    /// Admin HTTP port (overrides server.admin.port; 0 picks a free one).
    #[arg(long)]
    pub admin_port: Option<u16>,
    /// Do not serve the admin HTTP endpoint.
    #[arg(long)]
    pub no_admin: bool,
    /// Worker threads (default: one per CPU). With 1, every task runs on one thread, as in redis-server.
    #[arg(long)]
    pub threads: Option<std::num::NonZeroUsize>,
}

impl ServerArgs {
    /// Loads the configuration this command line asks for, flags applied last.
    ///
    /// # Errors
    /// An unreadable or invalid file, or flags that make it invalid.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        if let Some(port) = self.tls_port {
            // Applied before validation, as an override: TLS files given in the file or the
            // environment are only valid once something serves TLS.
            env.push((format!("{ENV_PREFIX}SERVER__TLS_PORT"), port.to_string()));
        }
        let text = match &self.config {
            Some(path) => std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?,
            None => String::new(),
        };
        let mut config = Config::from_yaml_str_with_env(&text, &env)?;
        if let Some(port) = self.port {
            config.server.port = port;
        }
        if let Some(bind) = &self.bind {
            config.server.bind.clone_from(bind);
        }
        if let Some(port) = self.admin_port {
            config.server.admin.port = port;
        }
        if self.no_admin {
            config.server.admin.enabled = false;
        }
        config.validate()?;
        Ok(config)
    }
}

/// Parses the process arguments and runs the server; the exit code is 0 after a graceful shutdown,
/// 1 when it could not start.
#[must_use]
pub fn main() -> ExitCode {
    let args = ServerArgs::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relaycache-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the server described by `args` until SIGINT or SIGTERM.
///
/// # Errors
/// A configuration, backend or bind failure.
pub fn run(args: &ServerArgs) -> anyhow::Result<()> {
    let config = args.load_config()?;
    crate::logging::init(&config.logging);
    // One thread: the current-thread scheduler, which has no work-stealing queues to keep and no
    // per-poll timing; more: the multi-thread one with that many workers.
    let mut runtime = match args.threads.map(std::num::NonZeroUsize::get) {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all().thread_name("relaycache-worker");
    let runtime = runtime.build().context("cannot start the async runtime")?;
    // Before the cache starts, so the series the cluster node records at start are kept.
    crate::metrics::install_recorder();
    let served = runtime.block_on(async {
        // Listen for signals before the cache starts (an `ha` node may wait seconds to join): a
        // signal meanwhile makes the server stop as soon as it runs, with the same orderly close.
        let token = CancellationToken::new();
        let stop = token.clone();
        let signalled = crate::shutdown::signal();
        tokio::spawn(async move {
            signalled.await;
            stop.cancel();
        });
        let cache = AnyCache::from_config(&config)
            .await
            .with_context(|| format!("cannot start the {} backend", config.cache.mode))?;
        let mut server = Server::bind(&config, cache).await?;
        if let Some(path) = &args.config {
            server = server.with_config_file(path.display().to_string());
        }
        let scheme = if server.admin_tls() { "https" } else { "http" };
        let admin = server
            .admin_addr()
            .map(|a| format!(", admin {scheme}://{a}"))
            .unwrap_or_default();
        let listening = match (server.plaintext_addr(), server.tls_addr()) {
            (Some(plain), Some(tls)) => format!("on {plain} and with TLS on {tls}"),
            (None, Some(tls)) => format!("with TLS on {tls}"),
            _ => format!("on {}", server.local_addr()),
        };
        println!(
            "relaycache-server {} listening {listening} (mode {}{admin})",
            env!("CARGO_PKG_VERSION"),
            config.cache.mode,
        );
        tracing::info!(
            addr = ?server.plaintext_addr(),
            tls_addr = ?server.tls_addr(),
            mode = %config.cache.mode,
            "serving"
        );
        server.run(token).await?;
        Ok(())
    });
    // Tasks still running (a client cut off at shutdown_timeout) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}
