//! The `relaycache` command-line tool: argument parsing and dispatch.
//!
//! Client commands take `-h/--host`, `-p/--port`, `-a/--password` like `redis-cli` (so `-h` is the
//! host; help is `--help`). Exit codes: 0 success, 1 not found, 2 error (see `client_cmd`).

mod client_cmd;
mod cluster_cmd;
mod config_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

pub use client_cmd::{FAILED, NOT_FOUND};

/// relaycache command-line tool: check configuration files and talk to a relaycache server.
///
/// Exit codes: 0 success; 1 not found (get/ttl of a missing key, del of no existing key, a set whose
/// NX/XX condition failed, a scan with no match); 2 error (connection, authentication, server error,
/// bad usage).
#[derive(Debug, Parser)]
#[command(
    name = "relaycache",
    version,
    about = "relaycache command-line tool: check configuration files and talk to a relaycache server",
    after_help = "Exit codes: 0 success; 1 not found (missing key, nothing deleted, NX/XX condition \
                  failed, no key matched); 2 error (connection, authentication, server error, usage).",
    long_about = None,
    disable_help_subcommand = true,
    disable_help_flag = true
)]
pub struct Cli {
    /// Where the server is (client commands).
    #[command(flatten)]
    pub connection: Connection,
    /// Print help.
    #[arg(long, action = ArgAction::Help, global = true)]
    pub help: Option<bool>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How client commands reach the server.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Server host.
    #[arg(
        short = 'h',
        long,
        global = true,
        default_value = "127.0.0.1",
        env = "RELAYCACHE_HOST"
    )]
    pub host: String,
    /// Server port.
    #[arg(
        short = 'p',
        long,
        global = true,
        default_value_t = 6380,
        env = "RELAYCACHE_PORT"
    )]
    pub port: u16,
    /// Password (AUTH). Prefer the RELAYCACHE_PASSWORD variable: arguments are visible to other users.
    #[arg(
        short = 'a',
        long,
        global = true,
        env = "RELAYCACHE_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Seconds to wait for the connection and for each reply.
    #[arg(long = "timeout", global = true, default_value_t = 5)]
    pub timeout_secs: u64,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with configuration files.
    #[command(subcommand, disable_help_flag = true)]
    Config(ConfigCommand),
    /// Print the version of relaycache.
    #[command(disable_help_flag = true)]
    Version,
    /// Talk to a server.
    #[command(flatten)]
    Client(ClientCommand),
}

/// `relaycache config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate a configuration file; exits non-zero with the reason when it is invalid.
    #[command(disable_help_flag = true)]
    Validate {
        /// The YAML file to check.
        file: PathBuf,
        /// Print the effective configuration (after defaults, ${VAR} expansion and RELAYCACHE_* overrides)
        /// as YAML-compatible JSON.
        #[arg(long)]
        print: bool,
    },
    /// Print a commented sample configuration with every key and its default.
    #[command(disable_help_flag = true)]
    Init,
}

/// Client subcommands (against a running server).
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Print the value of KEY (exit 1 when absent).
    #[command(disable_help_flag = true)]
    Get {
        /// The key.
        key: String,
    },
    /// Store VALUE under KEY.
    #[command(disable_help_flag = true)]
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Expire after this long (`5s`, `500ms`, `1h 30m`).
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<Duration>,
        /// Only if the key does not exist.
        #[arg(long, conflicts_with = "xx")]
        nx: bool,
        /// Only if the key exists.
        #[arg(long)]
        xx: bool,
    },
    /// Delete keys; prints how many existed (exit 1 when none did).
    #[command(disable_help_flag = true)]
    Del {
        /// The keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Print the time KEY has left (`no expiry` when none; exit 1 when absent).
    #[command(disable_help_flag = true)]
    Ttl {
        /// The key.
        key: String,
    },
    /// Print the server's cache statistics.
    #[command(disable_help_flag = true)]
    Stats,
    /// Check the server answers, with the round-trip time.
    #[command(disable_help_flag = true)]
    Ping,
    /// List keys, optionally only those starting with a prefix (exit 1 when none).
    #[command(disable_help_flag = true)]
    Scan {
        /// Only keys starting with this (taken literally, not as a pattern).
        #[arg(long, default_value = "")]
        prefix: String,
        /// Keys examined per round trip.
        #[arg(long, default_value_t = 1000)]
        count: u32,
        /// Stop after printing this many keys.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Inspect the cluster of an `ha` mode server.
    #[command(subcommand, disable_help_flag = true)]
    Cluster(ClusterCommand),
}

/// `relaycache cluster ...` (an `ha` mode server; others answer that they are not clustered).
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Print the server's view of the cluster: its state and epoch, and the live members as a table.
    #[command(disable_help_flag = true)]
    Members {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the routing table: each partition with its owners (RPC addresses), primary first.
    #[command(disable_help_flag = true)]
    Partitions {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Parses the process arguments and runs the command; the exit code says whether it succeeded.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli)
}

/// Runs a parsed command line.
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Config(ConfigCommand::Validate { file, print }) => {
            config_cmd::validate(&file, print)
        }
        Command::Config(ConfigCommand::Init) => config_cmd::init(),
        Command::Version => {
            println!("relaycache {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Client(command) => client_cmd::run(&cli.connection, &command),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dash_h_is_the_host() {
        let cli = Cli::try_parse_from(["relaycache", "-h", "10.0.0.1", "-p", "7000", "get", "k"])
            .unwrap();
        assert_eq!(cli.connection.host, "10.0.0.1");
        assert_eq!(cli.connection.port, 7000);
        let cli = Cli::try_parse_from(["relaycache", "set", "k", "v", "--ttl", "5s"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Client(ClientCommand::Set { ttl: Some(t), .. }) if t == Duration::from_secs(5)
        ));
    }

    #[test]
    fn cluster_subcommands_take_the_connection_flags() {
        let cli = Cli::try_parse_from(["relaycache", "cluster", "members", "-p", "7000", "--json"])
            .unwrap();
        assert_eq!(cli.connection.port, 7000);
        assert!(matches!(
            cli.command,
            Command::Client(ClientCommand::Cluster(ClusterCommand::Members {
                json: true
            }))
        ));
        let cli =
            Cli::try_parse_from(["relaycache", "-h", "10.0.0.1", "cluster", "partitions"]).unwrap();
        assert_eq!(cli.connection.host, "10.0.0.1");
        assert!(matches!(
            cli.command,
            Command::Client(ClientCommand::Cluster(ClusterCommand::Partitions {
                json: false
            }))
        ));
    }
}
