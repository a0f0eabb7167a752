//! The client subcommands of `relaycache`: `get set del ttl stats ping scan cluster` against a running
//! server.
//!
//! Exit codes: 0 success (the key was found, set, deleted); 1 the key was not found (or, for `set --nx`
//! / `--xx`, the condition did not hold); 2 an error (cannot connect, authentication refused, the server
//! replied with an error, bad usage).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use relaycache_resp::Frame;

use super::{ClientCommand, Connection};
use crate::client::Client;

/// Exit code: the key (or condition) was not found.
pub const NOT_FOUND: u8 = 1;
/// Exit code: an error.
pub const FAILED: u8 = 2;

/// Runs a client subcommand on a fresh runtime.
pub(crate) fn run(conn: &Connection, command: &ClientCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(FAILED);
        }
    };
    match runtime.block_on(execute(conn, command)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(FAILED)
        }
    }
}

pub(super) async fn connect(conn: &Connection) -> Result<Client, String> {
    let addr = format!("{}:{}", conn.host, conn.port);
    let mut client = Client::connect(&addr, Duration::from_secs(conn.timeout_secs.max(1)))
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    if let Some(password) = &conn.password {
        let reply = call(&mut client, &[b"AUTH".as_slice(), password.as_bytes()]).await?;
        if let Frame::Error(e) = reply {
            return Err(format!(
                "authentication failed: {}",
                String::from_utf8_lossy(&e)
            ));
        }
    }
    Ok(client)
}

pub(super) async fn call(client: &mut Client, args: &[&[u8]]) -> Result<Frame, String> {
    let reply = client.call(args).await.map_err(|e| e.to_string())?;
    match reply {
        Frame::Error(e) | Frame::BulkError(e) => {
            Err(format!("server: {}", String::from_utf8_lossy(&e)))
        }
        other => Ok(other),
    }
}

fn print_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.write_all(b"\n");
}

async fn execute(conn: &Connection, command: &ClientCommand) -> Result<ExitCode, String> {
    let mut client = connect(conn).await?;
    match command {
        ClientCommand::Get { key } => match call(&mut client, &[b"GET", key.as_bytes()]).await? {
            Frame::Bulk(v) => {
                print_bytes(&v);
                Ok(ExitCode::SUCCESS)
            }
            _ => {
                eprintln!("(not found) {key}");
                Ok(ExitCode::from(NOT_FOUND))
            }
        },
        ClientCommand::Set {
            key,
            value,
            ttl,
            nx,
            xx,
        } => set(&mut client, key, value, *ttl, *nx, *xx).await,
        ClientCommand::Del { keys } => {
            let mut args: Vec<&[u8]> = vec![b"DEL"];
            args.extend(keys.iter().map(String::as_bytes));
            match call(&mut client, &args).await? {
                Frame::Integer(n) => {
                    println!("deleted {n}");
                    Ok(if n > 0 {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(NOT_FOUND)
                    })
                }
                other => Err(format!("unexpected reply {other:?}")),
            }
        }
        ClientCommand::Ttl { key } => match call(&mut client, &[b"PTTL", key.as_bytes()]).await? {
            Frame::Integer(-2) => {
                eprintln!("(not found) {key}");
                Ok(ExitCode::from(NOT_FOUND))
            }
            Frame::Integer(-1) => {
                println!("no expiry");
                Ok(ExitCode::SUCCESS)
            }
            Frame::Integer(ms) => {
                let left = Duration::from_millis(ms.unsigned_abs());
                println!("{}", humantime::format_duration(left));
                Ok(ExitCode::SUCCESS)
            }
            other => Err(format!("unexpected reply {other:?}")),
        },
        ClientCommand::Ping => {
            let start = Instant::now();
            let reply = call(&mut client, &[b"PING"]).await?;
            let took = start.elapsed();
            let text = reply
                .as_bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            println!("{text} ({:.3} ms)", took.as_secs_f64() * 1e3);
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Stats => {
            let reply = call(&mut client, &[b"INFO"]).await?;
            let text = reply
                .as_bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            print!("{}", readable_stats(&text));
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Scan {
            prefix,
            count,
            limit,
        } => scan(&mut client, prefix, *count, *limit).await,
        ClientCommand::Cluster(command) => super::cluster_cmd::run(&mut client, command).await,
    }
}

async fn set(
    client: &mut Client,
    key: &str,
    value: &str,
    ttl: Option<Duration>,
    nx: bool,
    xx: bool,
) -> Result<ExitCode, String> {
    let mut args: Vec<Vec<u8>> = vec![
        b"SET".to_vec(),
        key.as_bytes().to_vec(),
        value.as_bytes().to_vec(),
    ];
    if let Some(ttl) = ttl {
        args.push(b"PX".to_vec());
        args.push(ttl.as_millis().max(1).to_string().into_bytes());
    }
    if nx {
        args.push(b"NX".to_vec());
    }
    if xx {
        args.push(b"XX".to_vec());
    }
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    match call(client, &refs).await? {
        Frame::Simple(_) => {
            println!("OK");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("not set: the NX/XX condition did not hold");
            Ok(ExitCode::from(NOT_FOUND))
        }
    }
}

/// Escapes glob special characters so a prefix matches literally.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

async fn scan(
    client: &mut Client,
    prefix: &str,
    count: u32,
    limit: Option<u64>,
) -> Result<ExitCode, String> {
    let pattern = glob_escape(prefix);
    let count = count.max(1).to_string();
    let mut cursor = b"0".to_vec();
    let mut printed = 0u64;
    // Bounded: a scan visits each key about once; 10 million pages is far beyond any cache.
    for _ in 0..10_000_000u64 {
        let reply = call(
            client,
            &[
                b"SCAN",
                &cursor,
                b"MATCH",
                pattern.as_bytes(),
                b"COUNT",
                count.as_bytes(),
            ],
        )
        .await?;
        let Frame::Array(mut parts) = reply else {
            return Err("unexpected SCAN reply".to_owned());
        };
        let (Some(Frame::Array(keys)), Some(Frame::Bulk(next))) = (parts.pop(), parts.pop()) else {
            return Err("unexpected SCAN reply".to_owned());
        };
        for key in keys {
            if let Some(k) = key.as_bytes() {
                print_bytes(k);
                printed += 1;
                if limit.is_some_and(|l| printed >= l) {
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
        if &next[..] == b"0" {
            break;
        }
        cursor = next.to_vec();
    }
    Ok(if printed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_FOUND)
    })
}

/// The INFO fields people look at, one per line, aligned.
fn readable_stats(info: &str) -> String {
    const FIELDS: [(&str, &str); 12] = [
        ("relaycache_version", "version"),
        ("mode", "mode"),
        ("uptime_in_seconds", "uptime (s)"),
        ("connected_clients", "clients"),
        ("total_commands_processed", "commands"),
        ("keyspace_hits", "hits"),
        ("keyspace_misses", "misses"),
        ("used_memory_human", "cache memory"),
        ("used_memory_rss_human", "process memory"),
        ("maxmemory", "max bytes"),
        ("evicted_keys", "evictions"),
        ("expired_keys", "expirations"),
    ];
    let value = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .map(str::trim)
    };
    let keys = info
        .lines()
        .find_map(|l| l.strip_prefix("db0:keys="))
        .and_then(|r| r.split(',').next())
        .unwrap_or("0");
    let mut out = format!("{:<16}{keys}\n", "keys");
    for (field, label) in FIELDS {
        if let Some(v) = value(field) {
            out.push_str(&format!("{label:<16}{v}\n"));
        }
    }
    let hits: f64 = value("keyspace_hits")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let misses: f64 = value("keyspace_misses")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    if hits + misses > 0.0 {
        out.push_str(&format!(
            "{:<16}{:.1}%\n",
            "hit ratio",
            100.0 * hits / (hits + misses)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_stats() {
        assert_eq!(glob_escape("a*b["), "a\\*b\\[*");
        let text =
            readable_stats("keyspace_hits:3\r\nkeyspace_misses:1\r\ndb0:keys=7,expires=0\r\n");
        assert!(text.contains("keys            7"), "{text}");
        assert!(text.contains("75.0%"), "{text}");
    }
}
