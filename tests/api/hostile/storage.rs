//! A stalled database: health and sends answer 503 `unavailable` within the configured bound
//! (the request completes; the client does not time out), and everything works again once the
//! database is back, with nothing acknowledged lost. On PostgreSQL the server is never touched
//! (other tests share it): a TCP proxy between Courier and PostgreSQL stops forwarding bytes,
//! keeping its connections open, as a frozen server would. On SQLite another connection holds
//! the database's write lock, as another process would.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{phone, spawn_app_with, TestApp};
use crate::ws::WsClient;

/// The database deadline these tests configure.
const BOUND: Duration = Duration::from_millis(500);
/// A client gives up a little after the bound: an answer must come before.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(2500);

/// Forwards TCP between clients and one upstream address until frozen: then it holds every
/// byte (and every end of stream) until thawed, connections open.
struct FreezeProxy {
    addr: SocketAddr,
    frozen: watch::Sender<bool>,
}

impl FreezeProxy {
    async fn start(upstream: String) -> FreezeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (frozen, watch) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (watch, upstream) = (watch.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, watch.clone()), pump(sr, cw, watch));
                });
            }
        });
        FreezeProxy { addr, frozen }
    }
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut frozen: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        if frozen.wait_for(|f| !f).await.is_err() {
            return;
        }
        if n == 0 {
            let _ = to.shutdown().await;
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Whatever stalls the test's database.
enum Stall {
    Proxy(FreezeProxy),
    Sqlite {
        path: String,
        lock: Option<SqliteConnection>,
    },
}

impl Stall {
    fn freeze(&mut self) {
        match self {
            Stall::Proxy(p) => {
                p.frozen.send_replace(true);
            }
            Stall::Sqlite { path, lock } => {
                let mut conn = SqliteConnection::establish(path).unwrap();
                conn.batch_execute("PRAGMA busy_timeout = 5000; BEGIN EXCLUSIVE;")
                    .unwrap();
                *lock = Some(conn);
            }
        }
    }

    fn thaw(&mut self) {
        match self {
            Stall::Proxy(p) => {
                p.frozen.send_replace(false);
            }
            Stall::Sqlite { lock, .. } => {
                if let Some(mut conn) = lock.take() {
                    conn.batch_execute("ROLLBACK;").unwrap();
                }
            }
        }
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// A server on a database that can be stalled.
async fn stallable_app() -> (TestApp, Stall) {
    let pg = std::env::var("COURIER_TEST_DATABASE_URL").ok();
    let proxy = match pg.as_deref().filter(|u| !u.is_empty()) {
        Some(admin) => Some(FreezeProxy::start(host_port(admin)).await),
        None => None,
    };
    let via = proxy.as_ref().map(|p| p.addr.to_string());
    let app = spawn_app_with(|s| {
        s.database.timeout_ms = BOUND.as_millis() as u64;
        s.limits.messages_per_minute = 1000;
        if let Some(via) = via {
            let direct = host_port(&s.database.url);
            s.database.url = s.database.url.replacen(&direct, &via, 1);
        }
    })
    .await;
    let stall = match proxy {
        Some(p) => Stall::Proxy(p),
        None => Stall::Sqlite {
            path: app.settings.database.url["sqlite://".len()..].to_string(),
            lock: None,
        },
    };
    (app, stall)
}

/// A request with a client timeout a little above the bound: (status, body, time taken).
async fn timed(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, Duration) {
    let mut req = app
        .client
        .request(method, format!("{}{}", app.address, path))
        .timeout(CLIENT_TIMEOUT);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let started = Instant::now();
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path} answered within {CLIENT_TIMEOUT:?}: {e}"));
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

#[actix_web::test]
async fn a_stalled_database_answers_503_in_bounded_time_and_recovers() {
    let (app, mut stall) = stallable_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut acked: Vec<i64> = Vec::new();
    for i in 0..3 {
        let m = app.send_text(&ana, chat, &format!("before {i}")).await;
        acked.push(m["id"].as_i64().unwrap());
    }
    let mut ws = WsClient::connect(&app, &ana.token).await;
    let send = format!("/api/chats/{chat}/messages");
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    assert_eq!(
        timed(&app, get.clone(), "/api/health", None, None).await.0,
        200
    );

    assert_eq!(timed(&app, get.clone(), "/readyz", None, None).await.0, 200);

    stall.freeze();
    // The process answers without touching the database; readiness does not.
    let (status, body, took) = timed(&app, get.clone(), "/healthz", None, None).await;
    assert_eq!((status, &body["status"]), (200, &json!("ok")), "{body}");
    assert!(took < BOUND, "healthz waited for something: {took:?}");
    let (status, body, took) = timed(&app, get.clone(), "/readyz", None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    assert!(
        took >= BOUND / 2,
        "readyz waited for the database: {took:?}"
    );
    let (status, body, took) = timed(&app, get.clone(), "/api/health", None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    assert!(
        took >= BOUND / 2,
        "health waited for the database: {took:?}"
    );
    let refused = json!({"content": "while stalled"});
    let (status, body, _) = timed(&app, post.clone(), &send, Some(&ana.token), Some(refused)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    let started = Instant::now();
    let answer = ws
        .request(json!({"type": "send-message", "chat_id": chat, "content": "ws while stalled", "client_msg_id": "stalled-1"}))
        .await;
    assert_eq!(
        (answer["type"].as_str(), answer["code"].as_str()),
        (Some("error"), Some("unavailable")),
        "{answer}"
    );
    assert!(
        started.elapsed() < CLIENT_TIMEOUT,
        "{:?}",
        started.elapsed()
    );

    stall.thaw();
    // Back by itself: the first requests after the database returns may still find a
    // connection that was waiting on it, never more than a few.
    let deadline = Instant::now() + Duration::from_secs(5);
    while timed(&app, get.clone(), "/api/health", None, None).await.0 != 200 {
        assert!(Instant::now() < deadline, "health did not recover");
    }
    while timed(&app, get.clone(), "/readyz", None, None).await.0 != 200 {
        assert!(Instant::now() < deadline, "readyz did not recover");
    }
    let after = json!({"content": "after"});
    let (status, body, _) = timed(&app, post, &send, Some(&ana.token), Some(after)).await;
    assert_eq!(status, 201, "{body}");
    acked.push(body["message"]["id"].as_i64().unwrap());
    let again = ws.send_text(chat, "ws after", "after-1").await;
    assert_eq!(again["type"], "ack", "{again}");
    acked.push(again["message"]["id"].as_i64().unwrap());

    // Everything acknowledged is there, in order; nothing refused was stored.
    let stored: Vec<i64> = app
        .history(&bo, chat)
        .await
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(stored, acked);
}
