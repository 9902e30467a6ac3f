//! HTTPS: the same API over TLS (rustls), when the server is given a certificate and its key
//! (PEM files). ALPN offers HTTP/2 and HTTP/1.1, so clients pick as they do in the clear
//! (`server::listen` serves the connections).

use std::io::{Error, ErrorKind, Result};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{crypto::ring, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A TLS acceptor for the certificate chain in `cert` and the private key in `key`.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    let invalid = |what: &str, path: &Path, e: String| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{what} {}: {e}", path.display()),
        )
    };
    let chain = certificates(cert).map_err(|e| invalid("cannot read the certificate", cert, e))?;
    if chain.is_empty() {
        return Err(invalid("no certificate in", cert, "empty".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| invalid("cannot read the private key", key, e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key_der))
        .map_err(|e| invalid("unusable certificate or key", cert, e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The certificates of a PEM file (a server's chain, or CAs a client trusts).
pub fn certificates(path: &Path) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())
}
