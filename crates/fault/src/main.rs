//! `relaycache-fault <scenario> [--server PATH] [--minutes N] [--seed N] [--keep]`: runs one fault
//! scenario in a private network namespace and prints its report. Exit status: 0 passed, 1 a check
//! failed, 2 the harness could not run the scenario.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use relaycache_fault::netns;
use relaycache_fault::report::Report;
use relaycache_fault::scenario::{self, Ctx, NAMES};
use relaycache_fault::workload::Recorder;

/// The longest a gate scenario may run before the runner gives up (nextest ends a test at 240 s).
const GATE_LIMIT: Duration = Duration::from_secs(200);

struct Args {
    scenario: String,
    server: Option<PathBuf>,
    minutes: f64,
    seed: Option<u64>,
    keep: bool,
}

fn usage() -> String {
    format!(
        "usage: relaycache-fault <scenario> [--server PATH] [--minutes N] [--seed N] [--keep]\n\
         scenarios: {}",
        NAMES.join(", ")
    )
}

fn parse(raw: &[String]) -> Result<Args> {
    let mut args = Args {
        scenario: String::new(),
        server: std::env::var_os("RELAYCACHE_SERVER_BIN").map(PathBuf::from),
        minutes: 5.0,
        seed: None,
        keep: false,
    };
    let mut it = raw.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--server" => {
                args.server = Some(PathBuf::from(it.next().context("--server needs a path")?))
            }
            "--minutes" => {
                args.minutes = it
                    .next()
                    .context("--minutes needs a number")?
                    .parse()
                    .context("--minutes needs a number")?;
            }
            "--seed" => {
                args.seed = Some(
                    it.next()
                        .context("--seed needs a number")?
                        .parse()
                        .context("--seed needs a number")?,
                );
            }
            "--keep" => args.keep = true,
            "-h" | "--help" => bail!("{}", usage()),
            other if other.starts_with('-') => bail!("unknown option {other}\n{}", usage()),
            other if args.scenario.is_empty() => args.scenario = other.to_owned(),
            other => bail!("unexpected argument {other}\n{}", usage()),
        }
    }
    if !NAMES.contains(&args.scenario.as_str()) {
        bail!("unknown scenario {:?}\n{}", args.scenario, usage());
    }
    Ok(args)
}

/// `relaycache-server` next to this binary (`target/<profile>/`), unless given.
fn server_binary(given: Option<PathBuf>) -> Result<PathBuf> {
    let path = match given {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .context("the runner has no directory")?
            .join("relaycache-server"),
    };
    if !path.is_file() {
        bail!(
            "{} not found: build it first (`cargo build -p relaycache-server`, or run the whole \
             workspace's tests: `cargo nextest run --workspace` builds it), or pass --server PATH",
            path.display()
        );
    }
    Ok(path)
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&raw) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os(netns::IN_NAMESPACE_ENV).is_none() {
        return match netns::reexec_in_namespace(&raw) {
            Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(2)),
            Err(e) => {
                eprintln!("relaycache-fault: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    match run(&args) {
        Ok(report) => {
            println!("{}", report.render());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("relaycache-fault {}: harness failure: {e:#}", args.scenario);
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<Report> {
    netns::enter()?;
    let server = server_binary(args.server.clone())?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("relaycache-fault-{}-", args.scenario))
        .tempdir()
        .context("cannot create a temporary directory")?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut ctx = Ctx {
        server,
        dir: dir.path().to_path_buf(),
        recorder: Recorder::new(),
        report: Report::new(&args.scenario),
        seed,
        minutes: args.minutes,
    };
    let limit = if args.scenario == "chaos" {
        Duration::from_secs_f64(args.minutes * 60.0) + Duration::from_secs(300)
    } else {
        GATE_LIMIT
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        match tokio::time::timeout(limit, scenario::run(&args.scenario, &mut ctx)).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "the scenario did not finish within {limit:?}"
            )),
        }
    });
    let elapsed = ctx.recorder.now();
    ctx.report.measure("scenario wall time", elapsed);
    let failed = outcome.is_err() || !ctx.report.passed();
    if failed || args.keep {
        let history: Vec<String> = ctx
            .recorder
            .history()
            .ops
            .iter()
            .map(|op| op.describe())
            .collect();
        let path = dir.path().join("history.txt");
        if let Err(e) = std::fs::write(&path, history.join("\n")) {
            eprintln!("relaycache-fault: cannot write {}: {e}", path.display());
        }
        let kept = dir.keep();
        eprintln!(
            "relaycache-fault: node configurations and logs kept in {}",
            kept.display()
        );
    }
    outcome?;
    Ok(ctx.report)
}
