//! The `relaycache-server` binary. The RESP server is not built yet.

fn main() -> std::process::ExitCode {
    eprintln!("relaycache-server: the RESP server is not implemented yet");
    std::process::ExitCode::from(2)
}
