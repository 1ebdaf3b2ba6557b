//! TLS to PostgreSQL, as `sslmode` and `sslrootcert` in the database URL ask for it. The
//! test database sits behind a proxy that speaks PostgreSQL's TLS opening (an `SSLRequest`,
//! then a TLS handshake with a certificate made here) and forwards the decrypted stream to
//! the real server; a plain connection to the proxy is dropped, as a server that allows only
//! TLS would. Runs on PostgreSQL (`COURIER_TEST_DATABASE_URL`); on SQLite there is nothing to
//! encrypt.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use courier::{Application, Settings};
use courier_actors::Clock;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::helpers::{phone, spawn_app_with};

/// PostgreSQL's `SSLRequest`: length 8, then the code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

/// A certificate authority made for the test, and a server certificate it signed.
struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn pki(server_names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = server_names.iter().map(|n| n.to_string()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// Terminates PostgreSQL TLS in front of `upstream` (or, without a certificate, answers that
/// it speaks no TLS and forwards in the clear); counts encrypted and plain connections.
struct TlsProxy {
    addr: SocketAddr,
    encrypted: Arc<AtomicUsize>,
    plain: Arc<AtomicUsize>,
}

impl TlsProxy {
    async fn start(upstream: String, pki: Option<&Pki>) -> TlsProxy {
        let acceptor = pki.map(|pki| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![pki.cert.clone()], pki.key.clone_key())
                .unwrap();
            TlsAcceptor::from(Arc::new(config))
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (encrypted, plain): (Arc<AtomicUsize>, Arc<AtomicUsize>) = Default::default();
        let counts = (Arc::clone(&encrypted), Arc::clone(&plain));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                let (encrypted, plain) = (counts.0.clone(), counts.1.clone());
                tokio::spawn(async move {
                    let mut opening = [0u8; 8];
                    if client.read_exact(&mut opening).await.is_err() {
                        return;
                    }
                    if opening != SSL_REQUEST {
                        plain.fetch_add(1, Ordering::SeqCst);
                        return; // dropped: TLS only
                    }
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let Some(acceptor) = acceptor else {
                        // No TLS here: the client may go on in the clear.
                        if client.write_all(b"N").await.is_ok() {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                        return;
                    };
                    if client.write_all(b"S").await.is_err() {
                        return;
                    }
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    encrypted.fetch_add(1, Ordering::SeqCst);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        });
        TlsProxy {
            addr,
            encrypted,
            plain,
        }
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// `url` pointed at `via`, with `query` added.
fn through(url: &str, via: &str, query: &str) -> String {
    let url = url.replacen(&host_port(url), via, 1);
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

/// What the server says when it cannot start on `url` (the settings otherwise those of a
/// test server).
async fn refusal(settings: &Settings, url: String) -> String {
    let mut settings = settings.clone();
    settings.database.url = url;
    match Application::build(settings, Clock::system()).await {
        Ok(_) => panic!("the server started"),
        Err(e) => format!("{e:#}"),
    }
}

#[actix_web::test]
async fn the_database_url_asks_for_tls_and_the_server_checks_whom_it_talks_to() {
    let Some(admin) = std::env::var("COURIER_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("TLS to PostgreSQL is tested on PostgreSQL: set COURIER_TEST_DATABASE_URL");
        return;
    };
    let upstream = host_port(&admin);
    let good = pki(&["localhost", "127.0.0.1"]);
    let proxy = TlsProxy::start(upstream.clone(), Some(&good)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &good.ca_pem).unwrap();
    let full = format!("sslmode=verify-full&sslrootcert={}", ca.display());

    // verify-full, against the right root and name: everything works, over TLS only.
    let via = proxy.addr.to_string();
    let app = spawn_app_with(|s| s.database.url = through(&s.database.url, &via, &full)).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    app.send_text(&ana, chat, "over TLS").await;
    let history = app.history(&bo, chat).await;
    assert_eq!(history[0]["content"], "over TLS");
    assert!(proxy.encrypted.load(Ordering::SeqCst) > 0);
    assert_eq!(proxy.plain.load(Ordering::SeqCst), 0, "a plain connection");

    let direct = app.settings.database.url.replacen(&via, &upstream, 1);
    let plain_url = direct.split('?').next().unwrap().to_string();

    // A certificate from a root the server does not trust.
    let stranger = pki(&["localhost", "127.0.0.1"]);
    let stranger_proxy = TlsProxy::start(upstream.clone(), Some(&stranger)).await;
    let e = refusal(
        &app.settings,
        through(&plain_url, &stranger_proxy.addr.to_string(), &full),
    )
    .await;
    assert!(e.contains("certificate"), "{e}");
    // A trusted root, but a certificate issued for another host: verify-full refuses it,
    // verify-ca takes it, require (with no root) encrypts without asking.
    let elsewhere = pki(&["db.example.com"]);
    std::fs::write(&ca, &elsewhere.ca_pem).unwrap();
    let other_host = TlsProxy::start(upstream.clone(), Some(&elsewhere)).await;
    let other = other_host.addr.to_string();
    let e = refusal(&app.settings, through(&plain_url, &other, &full)).await;
    assert!(e.contains("certificate"), "{e}");
    let ca_only = format!("sslmode=verify-ca&sslrootcert={}", ca.display());
    courier_actors::store::migrate(&through(&plain_url, &other, &ca_only))
        .await
        .expect("verify-ca does not check the name");
    courier_actors::store::migrate(&through(&plain_url, &other, "sslmode=require"))
        .await
        .expect("require encrypts without checking");
    assert_eq!(other_host.plain.load(Ordering::SeqCst), 0);
    assert_eq!(other_host.encrypted.load(Ordering::SeqCst), 2);

    // A server that speaks no TLS: `require` refuses to go on in the clear.
    let no_tls = TlsProxy::start(upstream.clone(), None).await;
    let e = refusal(
        &app.settings,
        through(&plain_url, &no_tls.addr.to_string(), "sslmode=require"),
    )
    .await;
    assert!(e.contains("TLS"), "{e}");
    // A mode libpq does not know is a configuration error, not a silent plain connection.
    let e = refusal(&app.settings, through(&plain_url, &via, "sslmode=always")).await;
    assert!(e.contains("sslmode=always"), "{e}");
}
