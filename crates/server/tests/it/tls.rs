//! TLS on the RESP `tls_port` and the admin endpoint: certificates made with the `openssl` command for
//! each test (a CA, a server certificate for 127.0.0.1, a client certificate, and a client certificate
//! from another CA), real `redis-cli --tls`, `redis-benchmark --tls`, the `redis` crate over rustls and
//! a tokio-rustls HTTPS client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use relaycache::{AnyCache, Config};
use relaycache_server::{Server, ServerError, ServerHandle};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{config, http_get};

/// PEM files: `ca.pem`, `server.pem`/`server.key` (127.0.0.1), `client.pem`/`client.key` (signed by
/// the CA), `rogue.pem`/`rogue.key` (a client certificate from an unrelated CA).
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Self {
        let pki = Pki {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        for ca in ["ca", "rogue-ca"] {
            pki.openssl(&format!(
                "req -x509 {ec} -keyout {ca}.key -out {ca}.pem -days 2 -subj /CN=relaycache-{ca}"
            ));
        }
        for (name, ca, ext) in [
            (
                "server",
                "ca",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "ca", "extendedKeyUsage=clientAuth\n"),
            ("rogue", "rogue-ca", "extendedKeyUsage=clientAuth\n"),
        ] {
            std::fs::write(pki.path(&format!("{name}.ext")), ext).expect("writes ext");
            pki.openssl(&format!(
                "req {ec} -keyout {name}.key -out {name}.csr -subj /CN=relaycache-test-{name}"
            ));
            pki.openssl(&format!(
                "x509 -req -in {name}.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial \
                 -out {name}.pem -days 2 -extfile {name}.ext"
            ));
        }
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str) -> String {
        path_text(&self.path(name))
    }

    /// Runs `openssl` with these space-separated arguments in the directory of the files.
    fn openssl(&self, args: &str) {
        let args: Vec<&str> = args.split_whitespace().collect();
        let output = Command::new("openssl")
            .args(&args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl is installed (scripts/test.sh installs it)");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The `server:` keys of a TLS-only server (`port: 0` beside `tls_port: 0`) with these files,
    /// plus `extra` (indented two spaces).
    fn yaml(&self, extra: &str) -> String {
        format!(
            "  tls_port: 0\n  tls_cert_file: {}\n  tls_key_file: {}\n{extra}",
            self.file("server.pem"),
            self.file("server.key")
        )
    }

    fn with_ca(&self, extra: &str) -> String {
        self.yaml(&format!(
            "  tls_ca_cert_file: {}\n{extra}",
            self.file("ca.pem")
        ))
    }
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("utf-8 temp path").to_owned()
}

async fn start(server_yaml: &str) -> ServerHandle {
    let config = config(server_yaml);
    let cache = AnyCache::from_config(&config)
        .await
        .expect("backend starts");
    Server::bind(&config, cache).await.expect("binds").spawn()
}

/// Runs `redis-cli` against `addr` over TLS with `tls_args` (certificates) and `command`, off the
/// runtime's threads; returns (stdout and stderr, success).
async fn cli(addr: SocketAddr, tls_args: Vec<String>, command: &[&str]) -> (String, bool) {
    let command: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
            .args(&tls_args)
            .args(&command)
            .output()
            .expect("redis-cli is installed (apt-get install redis-tools)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (text.trim_end().to_owned(), out.status.success())
    })
    .await
    .expect("redis-cli task")
}

/// `--tls --cacert ca.pem`, and the client certificate `name` (`client`, `rogue`) when given.
fn tls_args(pki: &Pki, cert: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "--tls".to_owned(),
        "--cacert".to_owned(),
        pki.file("ca.pem"),
    ];
    if let Some(name) = cert {
        args.extend([
            "--cert".to_owned(),
            pki.file(&format!("{name}.pem")),
            "--key".to_owned(),
            pki.file(&format!("{name}.key")),
        ]);
    }
    args
}

/// A `redis` crate client over rustls that trusts our CA, with the client certificate `cert`.
fn redis_client(pki: &Pki, addr: SocketAddr, cert: Option<&str>) -> redis::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |name: &str| std::fs::read(pki.path(name)).expect("reads PEM");
    let certs = redis::TlsCertificates {
        client_tls: cert.map(|name| redis::ClientTlsConfig {
            client_cert: read(&format!("{name}.pem")),
            client_key: read(&format!("{name}.key")),
        }),
        root_cert: Some(read("ca.pem")),
    };
    redis::Client::build_with_tls(format!("rediss://127.0.0.1:{}/", addr.port()), certs)
        .expect("client builds")
}

/// SET then GET through the `redis` crate.
async fn redis_set_get(client: &redis::Client) -> redis::RedisResult<String> {
    let mut conn = tokio::time::timeout(
        Duration::from_secs(10),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
    let () = redis::cmd("SET")
        .arg("crate")
        .arg("rustls")
        .query_async(&mut conn)
        .await?;
    redis::cmd("GET").arg("crate").query_async(&mut conn).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_set_over_tls_with_redis_cli_and_the_redis_crate() {
    let pki = Pki::new();
    let server = start(&pki.yaml("")).await;
    let tls = server.tls_addr().expect("tls_port bound");
    assert_eq!(server.addr(), tls, "port 0 beside tls_port: TLS only");
    let args = tls_args(&pki, None);
    assert_eq!(
        cli(tls, args.clone(), &["SET", "k", "over tls"]).await,
        ("OK".to_owned(), true)
    );
    assert_eq!(
        cli(tls, args.clone(), &["GET", "k"]).await,
        ("over tls".to_owned(), true)
    );
    // As Redis reports them: no plaintext port, the TLS one bound.
    let (ports, _) = cli(tls, args.clone(), &["CONFIG", "GET", "*port"]).await;
    assert_eq!(ports, format!("port\n0\ntls-port\n{}", tls.port()));
    let client = redis_client(&pki, tls, None);
    assert_eq!(
        redis_set_get(&client).await.expect("redis crate over TLS"),
        "rustls"
    );
    // A large value crosses many TLS records each way.
    let big = "x".repeat(300_000);
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query_async(&mut conn)
        .await
        .unwrap();
    let back: String = redis::cmd("GET")
        .arg("big")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(back.len(), big.len());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_beside_tls_when_port_is_not_zero() {
    let pki = Pki::new();
    // A free plaintext port: bind, read it, release it. Only this test needs two RESP ports at once.
    let plain_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let yaml = format!("  port: {plain_port}\n{}", pki.yaml(""));
    let text = format!("server:\n  admin:\n    port: 0\n{yaml}");
    let config = Config::from_yaml_str_with_env(&text, &[]).unwrap();
    let server = Server::bind(&config, AnyCache::from_config(&config).await.unwrap())
        .await
        .unwrap();
    let plain = server.plaintext_addr().expect("plaintext listener");
    let tls = server.tls_addr().expect("TLS listener");
    let server = server.spawn();
    assert_eq!(
        crate::support::redis_cli(plain, &["SET", "both", "1"]),
        ("OK".to_owned(), true)
    );
    assert_eq!(
        cli(tls, tls_args(&pki, None), &["GET", "both"]).await,
        ("1".to_owned(), true)
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_required_by_default_with_a_ca() {
    let pki = Pki::new();
    let server = start(&pki.with_ca("")).await;
    let tls = server.tls_addr().unwrap();
    let (out, ok) = cli(tls, tls_args(&pki, Some("client")), &["PING"]).await;
    assert_eq!((out.as_str(), ok), ("PONG", true));
    for cert in [None, Some("rogue")] {
        let (out, _) = cli(tls, tls_args(&pki, cert), &["PING"]).await;
        assert!(
            !out.contains("PONG"),
            "client certificate {cert:?} accepted: {out}"
        );
        let refused = redis_set_get(&redis_client(&pki, tls, cert)).await;
        assert!(refused.is_err(), "redis crate with {cert:?}: {refused:?}");
    }
    // The server keeps serving clients with a certificate.
    assert_eq!(
        redis_set_get(&redis_client(&pki, tls, Some("client")))
            .await
            .unwrap(),
        "rustls"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificates_are_verified_when_given() {
    let pki = Pki::new();
    let server = start(&pki.with_ca("  tls_auth_clients: optional\n")).await;
    let tls = server.tls_addr().unwrap();
    for cert in [None, Some("client")] {
        let (out, ok) = cli(tls, tls_args(&pki, cert), &["PING"]).await;
        assert_eq!((out.as_str(), ok), ("PONG", true), "certificate {cert:?}");
    }
    let (out, _) = cli(tls, tls_args(&pki, Some("rogue")), &["PING"]).await;
    assert!(
        !out.contains("PONG"),
        "a certificate from another CA passed: {out}"
    );
    server.shutdown().await.unwrap();
}

/// Sends `request` in plaintext to `addr` and returns what came back before the server closed the
/// connection (which it must do within 10 s).
fn plaintext_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut reply = Vec::new();
    let started = Instant::now();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server did not close the plaintext client: {e}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still open");
    }
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_client_on_the_tls_port_is_refused_and_tls_clients_still_work() {
    let pki = Pki::new();
    let server = start(&pki.yaml("")).await;
    let tls = server.tls_addr().unwrap();
    let admin = server.admin_addr().unwrap();
    for _ in 0..3 {
        let ping = move || plaintext_exchange(tls, b"*1\r\n$4\r\nPING\r\n");
        let reply = tokio::task::spawn_blocking(ping).await.unwrap();
        assert!(
            !reply.windows(5).any(|w| w == b"+PONG"),
            "plaintext got an answer"
        );
        let (out, _) = cli(tls, Vec::new(), &["PING"]).await;
        assert!(!out.contains("PONG"), "redis-cli without --tls: {out}");
        assert_eq!(
            cli(tls, tls_args(&pki, None), &["PING"]).await,
            ("PONG".to_owned(), true)
        );
    }
    // Each refusal is counted (right after the socket is closed, hence the bounded wait).
    let counted = "relaycache_connections_closed_total{reason=\"tls_handshake\"} 6";
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = tokio::task::spawn_blocking(move || http_get(admin, "/metrics").1)
            .await
            .unwrap();
        if metrics.contains(counted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(metrics.contains(counted), "{metrics}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_holds_a_slot_only_until_the_handshake_timeout() {
    let pki = Pki::new();
    let server =
        start(&pki.yaml("  max_clients: 1\n  limits:\n    tls_handshake_timeout: 2s\n")).await;
    let tls = server.tls_addr().unwrap();
    let mut silent = tokio::net::TcpStream::connect(tls).await.unwrap();
    // Accepted in order: the silent client holds the only slot, so this one is refused, over TLS.
    let refused = async {
        let mut tls = tls_connect(&pki, tls, None).await?;
        let mut reply = String::new();
        tls.read_to_string(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(10), refused).await;
    assert!(
        matches!(&reply, Ok(Ok(text)) if text == "-ERR max number of clients reached\r\n"),
        "{reply:?}"
    );
    // The server closes the silent client once its handshake time is up.
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "silent client not closed: {read:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Its slot is free again (the task ends right after closing the socket).
    let mut pong = false;
    for _ in 0..50 {
        if cli(tls, tls_args(&pki, None), &["PING"]).await == ("PONG".to_owned(), true) {
            pong = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pong, "the slot was not given back");
    drop(silent);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_benchmark_over_tls() {
    let pki = Pki::new();
    let server = start(&pki.yaml("")).await;
    let port = server.tls_addr().unwrap().port().to_string();
    let ca = pki.file("ca.pem");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &port, "--tls", "--cacert", &ca])
            .args(["-t", "set,get", "-n", "5000", "-c", "10", "-P", "4", "-q"])
            .output()
            .expect("redis-benchmark is installed (apt-get install redis-tools)")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redis-benchmark --tls failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for test in ["SET", "GET"] {
        assert!(text.contains(test), "no {test} result in {text}");
    }
    server.shutdown().await.unwrap();
}

/// A TLS connection to `addr` by a tokio-rustls client that trusts our CA, with the client
/// certificate `cert` (`client`, `rogue`) when given.
async fn tls_connect(
    pki: &Pki,
    addr: SocketAddr,
    cert: Option<&str>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_file_iter(pki.path("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match cert {
        Some(name) => {
            use rustls::pki_types::pem::PemObject as _;
            let chain =
                rustls::pki_types::CertificateDer::pem_file_iter(pki.path(&format!("{name}.pem")))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
            let key =
                rustls::pki_types::PrivateKeyDer::from_pem_file(pki.path(&format!("{name}.key")))
                    .unwrap();
            config.with_client_auth_cert(chain, key).unwrap()
        }
        None => config.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    connector.connect(name, tcp).await
}

/// `GET path` over HTTPS with [`tls_connect`]: (status, body).
async fn https_get(
    pki: &Pki,
    addr: SocketAddr,
    cert: Option<&str>,
    path: &str,
) -> std::io::Result<(u16, String)> {
    let request = async {
        let mut tls = tls_connect(pki, addr, cert).await?;
        let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        tls.write_all(head.as_bytes()).await?;
        let mut response = String::new();
        tls.read_to_string(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "https request"))??;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoint_over_https() {
    let pki = Pki::new();
    let text = format!(
        "server:\n  port: 0\n  admin:\n    port: 0\n    tls: true\n{}",
        pki.yaml("")
    );
    let config = Config::from_yaml_str_with_env(&text, &[]).unwrap();
    let cache = AnyCache::from_config(&config).await.unwrap();
    let server = Server::bind(&config, cache).await.unwrap().spawn();
    let admin = server.admin_addr().unwrap();
    assert_eq!(
        https_get(&pki, admin, None, "/healthz").await.unwrap(),
        (200, "ok\n".to_owned())
    );
    assert_eq!(
        https_get(&pki, admin, None, "/readyz").await.unwrap().0,
        200
    );
    // Plain HTTP on the HTTPS port gets no answer, and HTTPS keeps working.
    let get = move || plaintext_exchange(admin, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let reply = tokio::task::spawn_blocking(get).await.unwrap();
    assert!(!reply.starts_with(b"HTTP/"), "plain HTTP got an answer");
    assert_eq!(
        https_get(&pki, admin, None, "/healthz").await.unwrap().0,
        200
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_tls_files_stop_the_server_naming_the_key() {
    let pki = Pki::new();
    std::fs::write(pki.path("garbage.pem"), "not a certificate\n").unwrap();
    for (key, yaml) in [
        (
            "server.tls_cert_file",
            pki.yaml("")
                .replace(&pki.file("server.pem"), &pki.file("garbage.pem")),
        ),
        (
            "server.tls_key_file",
            pki.yaml("")
                .replace(&pki.file("server.key"), &pki.file("client.key")),
        ),
        (
            "server.tls_ca_cert_file",
            pki.yaml(&format!(
                "  tls_ca_cert_file: {}\n",
                pki.file("garbage.pem")
            )),
        ),
    ] {
        let config = config(&yaml);
        let cache = AnyCache::from_config(&config).await.unwrap();
        match Server::bind(&config, cache).await {
            Err(e @ ServerError::Tls { .. }) => {
                assert!(e.to_string().contains(key), "{e} does not name {key}");
            }
            other => panic!("{key}: expected a TLS error, got {other:?}"),
        }
    }
}

#[test]
fn the_binary_serves_tls_from_a_flag_and_files_from_the_environment() {
    let pki = Pki::new();
    let (cert, key) = (pki.file("server.pem"), pki.file("server.key"));
    // `--port 0` (added by spawn_binary) beside `--tls-port`: TLS only, so the banner's address is TLS.
    let (_server, addr) = crate::support::spawn_binary(
        &["--tls-port", "0"],
        &[
            ("RELAYCACHE_SERVER__TLS_CERT_FILE", cert.as_str()),
            ("RELAYCACHE_SERVER__TLS_KEY_FILE", key.as_str()),
        ],
    );
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
        .args(tls_args(&pki, None))
        .arg("PING")
        .output()
        .expect("redis-cli runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_https_follows_the_client_certificate_policy() {
    let pki = Pki::new();
    let text = format!(
        "server:\n  port: 0\n  admin:\n    port: 0\n    tls: true\n{}",
        pki.with_ca("")
    );
    let config = Config::from_yaml_str_with_env(&text, &[]).unwrap();
    let cache = AnyCache::from_config(&config).await.unwrap();
    let server = Server::bind(&config, cache).await.unwrap().spawn();
    let admin = server.admin_addr().unwrap();
    assert_eq!(
        https_get(&pki, admin, Some("client"), "/healthz")
            .await
            .unwrap(),
        (200, "ok\n".to_owned())
    );
    for cert in [None, Some("rogue")] {
        let refused = https_get(&pki, admin, cert, "/healthz").await;
        assert!(
            !matches!(refused, Ok((200, _))),
            "certificate {cert:?}: {refused:?}"
        );
    }
    assert_eq!(
        https_get(&pki, admin, Some("client"), "/healthz")
            .await
            .unwrap()
            .0,
        200
    );
    server.shutdown().await.unwrap();
}
