//! The `relaycache` command-line tool: argument parsing and dispatch.

mod config_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// relaycache command-line tool: check configuration files and talk to a relaycache server.
#[derive(Debug, Parser)]
#[command(name = "relaycache", version, disable_help_subcommand = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the version of relaycache.
    Version,
}

/// `relaycache config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate a configuration file; exits non-zero with the reason when it is invalid.
    Validate {
        /// The YAML file to check.
        file: PathBuf,
        /// Print the effective configuration (after defaults, ${VAR} expansion and RELAYCACHE_* overrides)
        /// as YAML-compatible JSON.
        #[arg(long)]
        print: bool,
    },
    /// Print a commented sample configuration with every key and its default.
    Init,
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
    }
}
