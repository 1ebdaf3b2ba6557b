//! TLS to PostgreSQL, as the URL asks for it with libpq's `sslmode` and `sslrootcert`.
//!
//! | `sslmode` | encrypted | the server's certificate |
//! |---|---|---|
//! | absent, `disable`, `prefer` | no | not asked for |
//! | `require` | yes | not checked, unless `sslrootcert` is given (then as `verify-ca`) |
//! | `verify-ca` | yes | signed by a trusted root |
//! | `verify-full` | yes | signed by a trusted root, and issued for the host in the URL |
//!
//! Trusted roots are those of the PEM file `sslrootcert` names, or the system's (also with
//! `sslrootcert=system`). `prefer` stays plain: a TLS attempt that fails on an unknown
//! certificate must not stop a server that asked for nothing. rustls does the TLS (TLS 1.2 or
//! 1.3, as the server offers), with the same provider as the HTTPS listener.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use diesel::{ConnectionError, ConnectionResult};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::StoreError;

/// What a PostgreSQL URL asks for: the URL to hand to the driver (with `sslmode` in a form
/// it knows and `sslrootcert` taken out), and the TLS settings if it wants TLS.
pub struct PgTarget {
    pub url: String,
    pub tls: Option<Arc<ClientConfig>>,
}

/// Opens a connection to `url` (as [`target`] gives it), over TLS if `tls` is given.
pub async fn connect(
    url: String,
    tls: Option<Arc<ClientConfig>>,
) -> ConnectionResult<AsyncPgConnection> {
    let Some(tls) = tls else {
        return AsyncPgConnection::establish(&url).await;
    };
    let connector = tokio_postgres_rustls::MakeRustlsConnect::new((*tls).clone());
    let (client, conn) = tokio_postgres::connect(&url, connector)
        .await
        .map_err(|e| ConnectionError::BadConnection(with_causes(&e)))?;
    AsyncPgConnection::try_from_client_and_connection(client, conn).await
}

/// `e` and what caused it, on one line: the driver's own message ("error performing TLS
/// handshake") says nothing of why (an unknown issuer, a name that does not match).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Check {
    Nothing,
    Chain,
    ChainAndHost,
}

/// Reads `sslmode` and `sslrootcert` from `url`; fails on a mode libpq does not know, or a
/// root file that cannot be read or holds no certificate.
pub fn target(url: &str) -> Result<PgTarget, StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = None;
    let mut root = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("sslmode", v) => mode = Some(v.to_string()),
            ("sslrootcert", v) => root = Some(decode(v)),
            _ => kept.push(pair.to_string()),
        }
    }
    let check = match mode.as_deref() {
        None | Some("disable" | "allow" | "prefer") => None,
        Some("require") if root.is_some() => Some(Check::Chain),
        Some("require") => Some(Check::Nothing),
        Some("verify-ca") => Some(Check::Chain),
        Some("verify-full") => Some(Check::ChainAndHost),
        Some(other) => {
            return Err(StoreError::Url(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )))
        }
    };
    let tls = match check {
        None => None,
        Some(check) => Some(Arc::new(client_config(check, root.as_deref())?)),
    };
    // The driver knows disable, prefer and require; the checks beyond are ours.
    kept.push(format!(
        "sslmode={}",
        if tls.is_some() { "require" } else { "disable" }
    ));
    Ok(PgTarget {
        url: format!("{base}?{}", kept.join("&")),
        tls,
    })
}

/// A URL query value with its `%XX` escapes undone (a root file's path may hold any byte).
fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn client_config(check: Check, root: Option<&str>) -> Result<ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Url(format!("TLS to PostgreSQL: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(AnyCertificate(provider)),
        Check::Chain | Check::ChainAndHost => {
            let roots = Arc::new(roots(root)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| StoreError::Url(format!("TLS to PostgreSQL: {e}")))?;
            match check {
                Check::Chain => Arc::new(AnyHost(webpki)),
                _ => webpki,
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The roots of the PEM file `path`, or the system's.
fn roots(path: Option<&str>) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = match path.filter(|p| *p != "system") {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| StoreError::Url(format!("sslrootcert {path}: {e}")))?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(StoreError::Url(format!(
            "sslrootcert {}: no certificate in it",
            path.unwrap_or("system")
        )));
    }
    Ok(store)
}

/// `sslmode=require` without a root: encrypted, the certificate taken as it comes (libpq's
/// meaning of `require`). Handshake signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name it was issued for does not
/// matter.
#[derive(Debug)]
struct AnyHost(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHost {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_modes_stay_plain_and_say_so_to_the_driver() {
        for url in [
            "postgres://u@h/db",
            "postgres://u@h/db?sslmode=prefer",
            "postgres://u@h/db?sslmode=disable&application_name=x",
        ] {
            let t = target(url).unwrap();
            assert!(t.tls.is_none(), "{url}");
            assert!(t.url.ends_with("sslmode=disable"), "{}", t.url);
        }
    }

    #[test]
    fn tls_modes_hand_the_driver_require_and_keep_other_settings() {
        let t = target("postgres://u@h/db?application_name=x&sslmode=require").unwrap();
        assert!(t.tls.is_some());
        assert_eq!(
            t.url,
            "postgres://u@h/db?application_name=x&sslmode=require"
        );
    }

    #[test]
    fn unknown_modes_and_unreadable_roots_are_refused() {
        let e = target("postgres://u@h/db?sslmode=always").err().unwrap();
        assert!(e.to_string().contains("sslmode=always"), "{e}");
        let e = target("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fno%2Fsuch.pem")
            .err()
            .unwrap();
        assert!(e.to_string().contains("/no/such.pem"), "{e}");
    }
}
