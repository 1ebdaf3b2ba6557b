//! Redis stopped and started again under a running cluster: REST goes on, `/api/health`
//! says realtime across nodes is paused, and the nodes reconnect by themselves and record
//! their users' sockets again.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::phone;
use crate::ws::WsClient;

use super::Nodes;

/// A Redis server of the test's own, keeping nothing on disk; killed when dropped.
struct RedisServer(Child);

impl RedisServer {
    fn start(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        RedisServer(child)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until node `i`'s health reports `status`.
async fn health_becomes(c: &Nodes, i: usize, status: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let h = c.get(i, "/api/health", None).await;
        if h.body["status"] == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {i} never became {status}: {:?}",
            h.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn with_redis_away_rest_goes_on_and_realtime_resumes_when_it_is_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = RedisServer::start(port);
    let url = format!("redis://127.0.0.1:{port}");
    redis_answers(&url).await;
    let extra = [
        ("COURIER__REALTIME__MAX_SOCKETS_PER_USER", "2"),
        ("COURIER__REALTIME__CONNECTS_PER_MINUTE", "6000"),
    ];
    let Some(c) = Nodes::start_on_with(2, &url, &extra).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let mut bo_socket = WsClient::connect_to(&c.address(1), &bo.token).await;

    drop(redis);
    health_becomes(&c, 0, "degraded").await;
    health_becomes(&c, 1, "degraded").await;
    // REST works on every node: sent through node 1, read through node 2.
    let r = c.send_text(0, &ana, chat, "while Redis is away").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = c
        .get(1, &format!("/api/chats/{chat}/messages"), Some(&bo.token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.to_string().contains("while Redis is away"));
    // A socket opened meanwhile counts on its node.
    let _bo_on_1 = WsClient::connect_to(&c.address(0), &bo.token).await;

    // Back (empty, as after a restart): both nodes reconnect by themselves, and messages
    // cross nodes live again.
    let _redis = RedisServer::start(port);
    health_becomes(&c, 0, "ok").await;
    health_becomes(&c, 1, "ok").await;
    c.wait_for_all().await;
    let r = c.send_text(0, &ana, chat, "Redis is back").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let frames = bo_socket
        .collect_until(|f| {
            f["type"] == "new-message" && f["data"]["message"]["content"] == "Redis is back"
        })
        .await;
    assert!(!frames.is_empty());
    // Redis came back empty, and each node recorded Bo's socket again: a third is refused.
    cap_is_full(&c, 0, &bo.token).await;
}

/// Waits until node `i` refuses `token` one more socket (a socket it lets open meanwhile is
/// closed again).
async fn cap_is_full(c: &Nodes, i: usize, token: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match WsClient::try_connect_to(&c.address(i), token).await {
            Err((429, body)) if body["error"]["code"] == "too_many_sockets" => return,
            Err(other) => panic!("unexpected refusal: {other:?}"),
            Ok(ws) => ws.close().await,
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {i} never counted the other node's sockets"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the Redis at `url` answers a PING.
async fn redis_answers(url: &str) {
    let addr = url.trim_start_matches("redis://").to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 7];
            if s.write_all(b"PING\r\n").await.is_ok() && s.read_exact(&mut buf).await.is_ok() {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "redis-server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
