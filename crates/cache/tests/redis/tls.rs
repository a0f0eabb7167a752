//! `rediss://`: a TLS-only listener with a private CA and client certificates, made with the `openssl`
//! command for each test.

use std::path::{Path, PathBuf};
use std::process::Command;

use relaycache::{Cache, Error};
use tempfile::TempDir;

use crate::server::{RedisServer, free_port};
use crate::{assert_conformance, builder};

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = Pki { dir };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=relaycache test CA",
        ]);
        for (name, ext) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            std::fs::write(pki.path(&format!("{name}.ext")), ext).expect("write ext");
            pki.openssl(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN=relaycache test {name}"),
            ]);
            pki.openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ]);
        }
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn openssl(&self, args: &[&str]) {
        let output = match Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
        {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("openssl is not installed: run scripts/test.sh, which installs it")
            }
            Err(e) => panic!("cannot run openssl: {e}"),
        };
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A server with a plain port (for the readiness check) and a TLS port that requires client
    /// certificates; returns it and the TLS URL.
    fn server(&self) -> (RedisServer, String) {
        let tls_port = free_port().to_string();
        let file = |name: &str| path_arg(&self.path(name));
        let server = RedisServer::start_with(&[
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            &file("server.pem"),
            "--tls-key-file",
            &file("server.key"),
            "--tls-ca-cert-file",
            &file("ca.pem"),
            "--tls-auth-clients",
            "yes",
        ]);
        (server, format!("rediss://127.0.0.1:{tls_port}"))
    }
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("utf-8 temp path").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_tls_with_a_private_ca_and_client_certificate() {
    let pki = Pki::new();
    let (_server, url) = pki.server();
    assert_conformance(|| {
        builder(&url)
            .prefix("tls:")
            .tls_ca_file(pki.path("ca.pem"))
            .tls_client_cert(pki.path("client.pem"), pki.path("client.key"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_server_or_missing_client_certificate_is_a_connection_error() {
    let pki = Pki::new();
    let (_server, url) = pki.server();
    // The system roots do not know our private CA.
    match builder(&url).connect().await {
        Err(Error::Connection { reason, .. }) => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}");
        }
        other => panic!("untrusted server certificate: want Connection, got {other:?}"),
    }
    // The server requires a client certificate.
    let result = builder(&url)
        .tls_ca_file(pki.path("ca.pem"))
        .connect()
        .await;
    assert!(
        matches!(result, Err(Error::Connection { .. })),
        "no client certificate: want Connection, got {result:?}"
    );
    // A CA file on a plain URL is a configuration mistake, reported as such.
    let plain = builder("redis://127.0.0.1:1")
        .tls_ca_file(pki.path("ca.pem"))
        .connect()
        .await;
    assert!(matches!(plain, Err(Error::Config(_))), "{plain:?}");
    // And with everything given it works.
    let cache = builder(&url)
        .tls_ca_file(pki.path("ca.pem"))
        .tls_client_cert(pki.path("client.pem"), pki.path("client.key"))
        .connect()
        .await
        .expect("connect");
    cache.set(b"k", b"v").await.expect("set");
}
