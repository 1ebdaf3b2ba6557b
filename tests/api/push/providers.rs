//! Local HTTP servers standing in for the push providers: each records every request it gets
//! (HTTP version, path, headers, body) and answers with the statuses a test scripts, 200 once
//! the script runs out. The APNs one speaks HTTP/2 over cleartext, as Courier's client does to
//! an `http://` base URL.

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub http2: bool,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Seen>>,
    /// Answers to give, in order: (status, body).
    script: Mutex<VecDeque<(u16, String)>>,
}

/// A running stand-in.
pub struct Provider {
    pub url: String,
    shared: Arc<Shared>,
}

async fn record(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    shared.seen.lock().unwrap().push(Seen {
        http2: req.version() == actix_web::http::Version::HTTP_2,
        path: req.path().to_string(),
        headers,
        body: body.to_vec(),
    });
    if req.path() == "/token" {
        let n = shared.seen.lock().unwrap().len();
        return HttpResponse::Ok().json(serde_json::json!({
            "access_token": format!("access-{n}"),
            "expires_in": 3600,
            "token_type": "Bearer",
        }));
    }
    let (status, body) = shared
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, "{}".into()));
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(body)
}

impl Provider {
    /// Starts one on a free port of 127.0.0.1; `http2`: cleartext HTTP/2 too.
    pub fn start(http2: bool) -> Provider {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(record))
        })
        .workers(1)
        .disable_signals();
        #[allow(deprecated)]
        let server = if http2 {
            server.listen_auto_h2c(listener).unwrap()
        } else {
            server.listen(listener).unwrap()
        }
        .run();
        // It ends with the test's runtime.
        actix_web::rt::spawn(server);
        Provider {
            url: format!("http://127.0.0.1:{port}"),
            shared,
        }
    }

    /// The next answers (status, body), before the default 200.
    pub fn answer(&self, status: u16, body: &str) {
        self.shared
            .script
            .lock()
            .unwrap()
            .push_back((status, body.to_string()));
    }

    /// Every request so far (the token endpoint's too).
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Requests so far except those to the token endpoint.
    pub fn pushes(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path != "/token")
            .collect()
    }
}

/// A browser's push subscription: its key pair and auth secret, and the endpoint on `service`.
pub struct Browser {
    pub secret: p256::SecretKey,
    pub auth: [u8; 16],
    pub endpoint: String,
}

impl Browser {
    pub fn new(service: &Provider, id: &str) -> Browser {
        Browser {
            secret: p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng),
            auth: rand::random(),
            endpoint: format!("{}/push/{id}", service.url),
        }
    }

    /// The subscription JSON as `PushSubscription.toJSON()` gives it.
    pub fn subscription(&self) -> serde_json::Value {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let public = self.secret.public_key().to_encoded_point(false);
        serde_json::json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    /// Decrypts an `aes128gcm` body (RFC 8291) as the browser would.
    pub fn decrypt(&self, body: &[u8]) -> serde_json::Value {
        use aes_gcm::aead::{Aead, KeyInit};
        use hkdf::Hkdf;
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        use sha2::Sha256;
        let (salt, rest) = body.split_at(16);
        let rs = u32::from_be_bytes(rest[..4].try_into().unwrap());
        assert_eq!(rs, 4096);
        let idlen = rest[4] as usize;
        let as_public = &rest[5..5 + idlen];
        let sealed = &rest[5 + idlen..];
        let server_key = p256::PublicKey::from_sec1_bytes(as_public).unwrap();
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), server_key.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(self.secret.public_key().to_encoded_point(false).as_bytes());
        info.extend_from_slice(as_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes())
            .expand(&info, &mut ikm)
            .unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let cipher = aes_gcm::Aes128Gcm::new_from_slice(&cek).unwrap();
        let mut plain = cipher
            .decrypt(&aes_gcm::Nonce::from(nonce), sealed)
            .expect("the payload decrypts with the subscription's keys");
        assert_eq!(plain.pop(), Some(2), "one record, the last");
        serde_json::from_slice(&plain).unwrap()
    }
}
