//! HTTPS and WSS served by the binary itself: `server.tls_cert` and `server.tls_key` (PEM
//! files) turn it on, TLS 1.3 only. A certificate or key that cannot be read stops the start
//! with a one-line reason.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The TLS configuration for the certificate chain in `cert` and the private key in `key`.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .with_context(|| format!("server.tls_cert: cannot read {}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("server.tls_cert: no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "server.tls_key: cannot read a private key from {}",
            key.display()
        )
    })?;
    // One provider named here: the dependency tree enables more than one, and rustls would
    // otherwise refuse to choose.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS 1.3")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("server.tls_cert and server.tls_key do not make a certificate and its key")?;
    Ok(config)
}
