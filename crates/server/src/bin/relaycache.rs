//! The `relaycache` command-line tool.

fn main() -> std::process::ExitCode {
    relaycache_server::cli::main()
}
