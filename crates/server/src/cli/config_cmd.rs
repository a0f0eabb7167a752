//! `relaycache config validate` and `relaycache config init`.

use std::path::Path;
use std::process::ExitCode;

use relaycache::Config;

/// Loads `file`; prints `ok` (or the effective configuration) and exits 0, or prints the one-line reason
/// to stderr and exits 1.
pub(crate) fn validate(file: &Path, print: bool) -> ExitCode {
    match Config::load(file) {
        Ok(config) => {
            if print {
                match serde_json::to_string_pretty(&config) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("error: cannot print the configuration: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                println!("{}: ok (mode {})", file.display(), config.cache.mode);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            ExitCode::FAILURE
        }
    }
}

/// Prints the commented sample configuration.
pub(crate) fn init() -> ExitCode {
    print!("{}", Config::SAMPLE_YAML);
    ExitCode::SUCCESS
}
