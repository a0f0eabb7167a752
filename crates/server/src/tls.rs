//! TLS for the RESP `tls_port` and the admin endpoint: the rustls configuration built from the
//! `server.tls_*` keys (ring provider), and the handshake of one accepted connection under
//! `server.limits.tls_handshake_timeout`.

use std::sync::Arc;
use std::time::Duration;

use relaycache::config::{ServerConfig, TlsAuthClients};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::server::ServerError;

/// Builds the TLS configuration shared by the RESP `tls_port` and the admin endpoint, or `None` when nothing
/// is served with TLS. Every file is read and checked here, so a bad certificate stops the server
/// before it listens.
///
/// # Errors
/// [`ServerError::Tls`] naming the key whose file is unreadable, holds no usable PEM item, or (for the
/// key) does not match the certificate.
pub(crate) fn acceptor(
    config: &ServerConfig,
) -> Result<Option<Arc<rustls::ServerConfig>>, ServerError> {
    if !config.uses_tls() {
        return Ok(None);
    }
    let cert_file = required(&config.tls_cert_file, "tls_cert_file")?;
    let key_file = required(&config.tls_key_file, "tls_key_file")?;
    let certs = read_certs(cert_file, "tls_cert_file")?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        tls_error(
            "tls_key_file",
            format!("no private key in {key_file:?}: {e}"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("tls_cert_file", e.to_string()))?;
    let auth = config.client_auth();
    let builder = match auth {
        TlsAuthClients::No => builder.with_no_client_auth(),
        TlsAuthClients::Yes | TlsAuthClients::Optional => {
            let ca_file = required(&config.tls_ca_cert_file, "tls_ca_cert_file")?;
            let verifier = client_verifier(ca_file, auth, provider)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let server = builder.with_single_cert(certs, key).map_err(|e| {
        tls_error(
            "tls_key_file",
            format!("unusable with tls_cert_file (does the key match the certificate?): {e}"),
        )
    })?;
    Ok(Some(Arc::new(server)))
}

/// The verifier of client certificates against the CAs in `ca_file`.
fn client_verifier(
    ca_file: &str,
    auth: TlsAuthClients,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, ServerError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca_file, "tls_ca_cert_file")? {
        roots
            .add(cert)
            .map_err(|e| tls_error("tls_ca_cert_file", format!("{ca_file:?}: {e}")))?;
    }
    let mut verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if auth == TlsAuthClients::Optional {
        verifier = verifier.allow_unauthenticated();
    }
    verifier
        .build()
        .map_err(|e| tls_error("tls_ca_cert_file", format!("{ca_file:?}: {e}")))
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, ServerError> {
    value
        .as_deref()
        .ok_or_else(|| tls_error(field, "is required to serve TLS".to_owned()))
}

/// Every certificate in a PEM file; none is an error.
fn read_certs(path: &str, field: &str) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_error(field, format!("cannot read {path:?}: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(field, format!("{path:?} is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls_error(field, format!("no certificate in {path:?}")));
    }
    Ok(certs)
}

fn tls_error(field: &str, reason: String) -> ServerError {
    ServerError::Tls {
        field: format!("server.{field}"),
        reason,
    }
}

/// Why a TLS handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    /// Not TLS (a plaintext client), a refused or missing client certificate, or the peer left.
    #[error("TLS handshake failed: {0}")]
    Failed(std::io::Error),
    /// The client did not finish within `tls_handshake_timeout`.
    #[error("TLS handshake not finished within {0:?}")]
    Timeout(Duration),
}

/// Runs the server side of the handshake on `stream`, bounded by `timeout`.
pub(crate) async fn handshake(
    config: &Arc<rustls::ServerConfig>,
    stream: TcpStream,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, HandshakeError> {
    let acceptor = TlsAcceptor::from(config.clone());
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(HandshakeError::Failed(e)),
        Err(_) => Err(HandshakeError::Timeout(timeout)),
    }
}
