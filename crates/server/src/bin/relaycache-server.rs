//! The `relaycache-server` binary: see [`relaycache_server::run`].

fn main() -> std::process::ExitCode {
    relaycache_server::run::main()
}
