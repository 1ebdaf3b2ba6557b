//! Test harness: a real Courier server on a random port, against a fresh database (a temp
//! SQLite file, or a new PostgreSQL database when `COURIER_TEST_DATABASE_URL` is set), with a
//! manual clock the test moves forward.

use std::time::Duration;

use actix_web::dev::ServerHandle;
use courier::{Application, Settings};
pub use courier_actors::testing::phone;
use courier_actors::testing::ScratchDb;
use courier_actors::{Clock, Engine};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The code every test account signs in with (`auth.fixed_otp`).
pub const OTP: &str = "123456";

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Clock,
    pub settings: Settings,
    pub engine: Engine,
    /// The push dispatcher: tests run its rounds.
    pub push: courier::push::Dispatcher,
    /// `http://127.0.0.1:{port}/metrics`, when the metrics listener is on.
    pub metrics_address: Option<String>,
    handle: ServerHandle,
    _db: TestDb,
}

/// An HTTP answer: status, headers, and the body as JSON (`Value::Null` if not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// Reads an answer whole (a body that is not JSON reads as `null`).
    pub async fn of(res: reqwest::Response) -> Resp {
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body read");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }

    /// The `error.code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A signed-in test user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub phone: String,
    pub token: String,
    pub refresh: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `tweak` adjusts the test settings.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    init_logs();
    let db = TestDb::create("COURIER_TEST_DATABASE_URL").await;
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.metrics.bind = "127.0.0.1:0".into();
    settings.server.data_dir = db.dir.path().to_path_buf();
    settings.server.workers = 2;
    settings.server.shutdown_timeout_secs = 2;
    settings.database.url = db.url.clone();
    settings.database.pool_size = 4;
    settings.auth.fixed_otp = OTP.into();
    // Every test client comes from 127.0.0.1; the per-address limit has its own test.
    settings.limits.otp_per_ip_per_minute = 100_000;
    tweak(&mut settings);
    let clock = Clock::manual(chrono::Utc::now());
    start(settings, clock, db).await
}

async fn start(settings: Settings, clock: Clock, db: TestDb) -> TestApp {
    let app = Application::build(settings.clone(), clock.clone())
        .await
        .expect("server builds");
    let port = app.port();
    let metrics_address = app
        .metrics_port()
        .map(|p| format!("http://127.0.0.1:{p}/metrics"));
    let handle = app.handle();
    let engine = app.engine();
    let push = app.dispatcher();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        clock,
        settings,
        engine,
        push,
        handle,
        metrics_address,
        _db: db,
    }
}

impl TestApp {
    /// Stops the server gracefully and starts a new one on the same database, data folder
    /// and clock (a restart, as an operator would do it).
    pub async fn restart(self) -> TestApp {
        let TestApp {
            handle,
            settings,
            clock,
            _db,
            engine,
            ..
        } = self;
        handle.stop(true).await;
        engine.drain().await;
        start(settings, clock, _db).await
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Resp::of(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// Sends a raw body with a given content type (for malformed-input tests).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Resp::of(req.send().await.expect("request sent")).await
    }

    /// Signs a new user up through send-otp / verify-otp and names them.
    pub async fn signup(&self, phone: &str, name: &str) -> TestUser {
        let body = crate::sign_up::sign_up(&self.client, &self.address, phone, name, OTP).await;
        let token = |kind: &str| body["tokens"][kind].as_str().unwrap().to_string();
        TestUser {
            id: body["user"]["id"].as_i64().unwrap(),
            phone: phone.to_string(),
            token: token("access_token"),
            refresh: token("refresh_token"),
        }
    }

    /// Lets anyone add `user` to groups directly (privacy `groups: everyone`; the default,
    /// `contacts`, turns an add by a stranger into an invite).
    pub async fn open_to_groups(&self, user: &TestUser) {
        let r = self
            .put(
                "/api/user/privacy",
                &user.token,
                json!({ "groups": "everyone" }),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    /// `owner` saves `other` in their contacts (under the name "Saved").
    pub async fn save_contact(&self, owner: &TestUser, other: &TestUser) {
        let r = self
            .post(
                "/api/contacts",
                Some(&owner.token),
                json!({ "phone_number": other.phone, "contact_name": "Saved" }),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{:?}", r.body);
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// The private chat between two users (created if needed).
    pub async fn private_chat(&self, a: &TestUser, b: &TestUser) -> i64 {
        let r = self
            .post(
                "/api/chats/private",
                Some(&a.token),
                json!({ "contact_id": b.id }),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{:?}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    /// Sends a text message over REST and returns the stored message.
    pub async fn send_text(&self, from: &TestUser, chat_id: i64, content: &str) -> Value {
        let r = self
            .post(
                &format!("/api/chats/{chat_id}/messages"),
                Some(&from.token),
                json!({ "content": content }),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["message"].clone()
    }

    /// A chat's messages as `user` sees them (oldest first, up to 100).
    pub async fn history(&self, user: &TestUser, chat_id: i64) -> Vec<Value> {
        let r = self
            .get(
                &format!("/api/chats/{chat_id}/messages?limit=100"),
                &user.token,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["messages"].as_array().unwrap().clone()
    }

    /// Live WebSocket connections on the server.
    pub async fn live_sockets(&self) -> usize {
        self.engine
            .registry
            .send(courier_actors::registry::Counts)
            .await
            .unwrap()
            .0
    }

    /// Chat rooms running on the server.
    pub async fn live_rooms(&self) -> usize {
        self.engine
            .registry
            .send(courier_actors::registry::Counts)
            .await
            .unwrap()
            .1
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

/// A local S3-compatible server (moto) for one test, with a bucket of its own; stopped when
/// dropped. The binary is `COURIER_TEST_MOTO` or `moto_server` on the PATH. Without one, the
/// S3 tests report that they did not run, unless `COURIER_REQUIRE_S3` is set (CI sets it).
pub struct S3Server {
    child: std::process::Child,
    pub endpoint: String,
    pub bucket: String,
}

impl S3Server {
    pub async fn start() -> Option<S3Server> {
        let program = std::env::var("COURIER_TEST_MOTO").unwrap_or_else(|_| "moto_server".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = std::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if std::env::var_os("COURIER_REQUIRE_S3").is_some() => {
                panic!("cannot start {program}: {e}")
            }
            Err(_) => {
                eprintln!("S3 tests need moto_server (pip install 'moto[server]'); not run here");
                return None;
            }
        };
        let mut server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: format!("courier-{}", hex_id()),
        };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client
                .put(format!("{}/{}", server.endpoint, server.bucket))
                .send()
                .await
            {
                if r.status().is_success() {
                    return Some(server);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = server.child.kill();
        panic!("moto_server did not come up on {}", server.endpoint);
    }

    /// Points a server's media settings at this store.
    pub fn configure(&self, s: &mut Settings) {
        s.media.store = courier::config::MediaStore::S3;
        s.media.s3_endpoint = self.endpoint.clone();
        s.media.s3_bucket = self.bucket.clone();
        s.media.s3_access_key_id = "test".into();
        s.media.s3_secret_access_key = "test".into();
        s.media.s3_path_style = true;
    }

    /// How many objects the bucket holds.
    pub async fn objects(&self) -> usize {
        let body = reqwest::get(format!("{}/{}?list-type=2", self.endpoint, self.bucket))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.matches("<Key>").count()
    }

    /// How many multipart uploads the bucket holds unfinished.
    pub async fn unfinished_uploads(&self) -> usize {
        let body = reqwest::get(format!("{}/{}?uploads", self.endpoint, self.bucket))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.matches("<UploadId>").count()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database for one test, removed when the test ends.
pub type TestDb = ScratchDb;

/// Server logs in test output (shown for failing tests); `RUST_LOG` picks the level.
fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

fn hex_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
