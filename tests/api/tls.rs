//! HTTPS and WSS served by the binary itself, TLS 1.3 only, with a certificate made here.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{phone, spawn_app_with, TestApp, OTP};

/// A certificate for `localhost` and the settings that serve it.
struct Cert {
    der: CertificateDer<'static>,
    _dir: tempfile::TempDir,
}

async fn tls_app() -> (TestApp, Cert) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let app = spawn_app_with(|s| {
        s.server.tls_cert = cert.display().to_string();
        s.server.tls_key = key.display().to_string();
    })
    .await;
    let der = made.cert.der().clone();
    (app, Cert { der, _dir: dir })
}

fn client_config(
    cert: &Cert,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

fn https(app: &TestApp) -> String {
    let port = app.address.rsplit(':').next().unwrap();
    format!("https://localhost:{port}")
}

#[actix_web::test]
async fn https_and_wss_work_and_only_tls_1_3_is_spoken() {
    let (app, cert) = tls_app().await;
    let base = https(&app);
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(client_config(&cert, &[&rustls::version::TLS13]))
        .build()
        .unwrap();
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // Sign in over HTTPS, then open the socket over WSS.
    let number = phone(1);
    let sent = client
        .post(format!("{base}/api/auth/send-otp"))
        .json(&json!({"phone_number": number}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let signed: serde_json::Value = client
        .post(format!("{base}/api/auth/verify-otp"))
        .json(&json!({"phone_number": number, "otp": OTP, "name": "Ana"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed["tokens"]["access_token"].as_str().unwrap();
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(client_config(
        &cert,
        &[&rustls::version::TLS13],
    )))
    .connect(ServerName::try_from("localhost").unwrap(), tcp)
    .await
    .unwrap();
    let url = format!("wss://localhost:{port}/ws?token={token}");
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
    let hello = ws.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("\"hello\""), "{hello}");
    ws.send(Message::text(json!({"type": "ping", "ref": 1}).to_string()))
        .await
        .unwrap();
    let pong = ws.next().await.unwrap().unwrap();
    assert!(pong.to_text().unwrap().contains("\"pong\""), "{pong}");

    // A TLS 1.2 client is refused at the handshake, and plain HTTP gets no answer.
    let old = reqwest::Client::builder()
        .tls_backend_preconfigured(client_config(&cert, &[&rustls::version::TLS12]))
        .build()
        .unwrap();
    assert!(old.get(format!("{base}/healthz")).send().await.is_err());
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[actix_web::test]
async fn a_missing_or_mismatched_certificate_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem").display().to_string();
    let mut settings = courier::Settings::default();
    settings.server.tls_cert = missing.clone();
    settings.server.tls_key = missing;
    let err = courier::tls::server_config(
        settings.server.tls_cert.as_ref(),
        settings.server.tls_key.as_ref(),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("server.tls_cert"), "{err:#}");

    // A key that is not the certificate's.
    let a = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let b = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("a.pem"), dir.path().join("b.key"));
    std::fs::write(&cert, a.cert.pem()).unwrap();
    std::fs::write(&key, b.signing_key.serialize_pem()).unwrap();
    let err = courier::tls::server_config(&cert, &key).unwrap_err();
    assert!(
        format!("{err:#}").contains("do not make a certificate"),
        "{err:#}"
    );

    // Only one of the two is a configuration error.
    settings.server.tls_key = String::new();
    let err = settings.validate().unwrap_err();
    assert!(err.0.contains("go together"), "{err}");
}
