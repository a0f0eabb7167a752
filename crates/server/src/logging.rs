//! Installs the tracing subscriber of the binaries from the `logging:` section.

use relaycache::config::{LogFormat, LoggingConfig};
use tracing_subscriber::EnvFilter;

/// Logs to stderr at `logging.level` (a level or a filter such as `info,relaycache=debug`; `RUST_LOG`
/// overrides it) in `logging.format` (`text` or `json`). Does nothing if a subscriber is already set.
pub fn init(config: &LoggingConfig) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(&config.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Json => builder.json().try_init(),
        _ => builder.try_init(),
    };
}
