//! Benchmarks of relaycache's engine against peer caches. Not implemented yet.

fn main() {
    eprintln!("relaycache-bench: not implemented yet");
    std::process::exit(2);
}
