//! Several real `courier` processes as one cluster: one PostgreSQL database, one Redis (a key
//! prefix of the test's own), one S3-compatible store (moto), each node a process of the
//! binary on a port of its own. The parties of each scenario sit on different nodes.
//!
//! Cluster mode needs PostgreSQL: without `COURIER_TEST_DATABASE_URL` these tests say they
//! did not run. Redis is `COURIER_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`).

mod calls;
mod chats;
mod limits;
mod messaging;
mod presence;
mod pusher;
mod pusher_presence;
mod redis_down;
mod sockets;

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::binary::{courier, Process, Starting};
use crate::helpers::{Resp, S3Server, TestDb, TestUser, OTP};

/// Shared by every node: generated secrets would differ per node (and are refused).
const JWT_SECRET: &str = "cluster-test-jwt-secret-0123456789abcdef";
const PHONE_KEY: &str = "cluster-test-phone-hash-key-0123456789";

/// The running nodes of one test's cluster.
pub struct Nodes {
    pub nodes: Vec<Process>,
    pub client: reqwest::Client,
    env: Vec<(String, String)>,
    _s3: S3Server,
    _db: TestDb,
}

impl Nodes {
    /// Starts `n` nodes (`n1`, `n2`, …); `None` (the test did not run) without PostgreSQL or
    /// an S3-compatible server.
    pub async fn start(n: usize) -> Option<Nodes> {
        let redis = std::env::var("COURIER_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        Nodes::start_on(n, &redis).await
    }

    /// Like [`Nodes::start`], each node with the settings `extra` (`COURIER__…` variables) too.
    pub async fn start_with(n: usize, extra: &[(&str, &str)]) -> Option<Nodes> {
        let redis = std::env::var("COURIER_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        Nodes::start_on_with(n, &redis, extra).await
    }

    /// Like [`Nodes::start`], on the Redis at `redis`.
    pub async fn start_on(n: usize, redis: &str) -> Option<Nodes> {
        Nodes::start_on_with(n, redis, &[]).await
    }

    async fn start_on_with(n: usize, redis: &str, extra: &[(&str, &str)]) -> Option<Nodes> {
        if std::env::var("COURIER_TEST_DATABASE_URL").map_or(true, |u| u.is_empty()) {
            eprintln!("cluster tests need PostgreSQL (COURIER_TEST_DATABASE_URL); not run");
            return None;
        }
        let db = TestDb::create("COURIER_TEST_DATABASE_URL").await;
        let s3 = S3Server::start().await?;
        let prefix = format!("test-{:016x}", rand::random::<u64>());
        let env = [
            ("COURIER__DATABASE__URL", db.url.as_str()),
            ("COURIER__CLUSTER__REDIS_URL", redis),
            ("COURIER__CLUSTER__KEY_PREFIX", prefix.as_str()),
            ("COURIER__CLUSTER__NODE_TTL_MS", "1000"),
            ("COURIER__AUTH__JWT_SECRET", JWT_SECRET),
            ("COURIER__AUTH__PHONE_HASH_KEY", PHONE_KEY),
            ("COURIER__MEDIA__STORE", "s3"),
            ("COURIER__MEDIA__S3_ENDPOINT", s3.endpoint.as_str()),
            ("COURIER__MEDIA__S3_BUCKET", s3.bucket.as_str()),
            ("COURIER__MEDIA__S3_ACCESS_KEY_ID", "test"),
            ("COURIER__MEDIA__S3_SECRET_ACCESS_KEY", "test"),
            ("COURIER__MEDIA__S3_PATH_STYLE", "true"),
            ("COURIER__PUSHER__APP_KEY", crate::pusher::client::KEY),
            ("COURIER__PUSHER__APP_SECRET", crate::pusher::client::SECRET),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut nodes = Nodes {
            nodes: Vec::new(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            env,
            _s3: s3,
            _db: db,
        };
        // Started together, as behind a load balancer: one migrates, the others wait.
        let starting: Vec<_> = (0..n)
            .map(|i| nodes.launch(&format!("n{}", i + 1)))
            .collect();
        nodes.nodes = starting.into_iter().map(|s| s.ready()).collect();
        nodes.wait_for_all().await;
        Some(nodes)
    }

    /// Starts a node named `id`; [`Starting::ready`] waits for it.
    fn launch(&self, id: &str) -> Starting {
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.push(("COURIER__CLUSTER__NODE_ID", id));
        let cmd = courier(dir.path(), &["serve"], &env);
        Process::launch(cmd, dir)
    }

    /// Waits until every node sees every other one live (their health lists them all).
    pub async fn wait_for_all(&self) {
        let want = self.nodes.len();
        for i in 0..want {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let health = self.get(i, "/api/health", None).await;
                let seen = health.body["cluster"]["nodes"]
                    .as_array()
                    .map_or(0, Vec::len);
                if seen >= want {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "node {i} never saw {want} nodes: {:?}",
                    health.body
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// `http://127.0.0.1:{port}` of node `i`.
    pub fn address(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].port)
    }

    pub async fn request(
        &self,
        i: usize,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address(i), path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Resp::of(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, i: usize, path: &str, token: Option<&str>) -> Resp {
        self.request(i, Method::GET, path, token, None).await
    }

    pub async fn post(&self, i: usize, path: &str, token: &str, body: Value) -> Resp {
        self.request(i, Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Signs a new user up through node `i`.
    pub async fn signup(&self, i: usize, phone: &str, name: &str) -> TestUser {
        let r = self
            .request(
                i,
                Method::POST,
                "/api/auth/send-otp",
                None,
                Some(json!({ "phone_number": phone })),
            )
            .await;
        assert_eq!(r.status, 200, "send-otp: {:?}", r.body);
        let r = self
            .request(
                i,
                Method::POST,
                "/api/auth/verify-otp",
                None,
                Some(json!({ "phone_number": phone, "otp": OTP, "name": name })),
            )
            .await;
        assert_eq!(r.status, 200, "verify-otp: {:?}", r.body);
        TestUser {
            id: r.body["user"]["id"].as_i64().unwrap(),
            phone: phone.to_string(),
            token: r.body["tokens"]["access_token"].as_str().unwrap().into(),
            refresh: r.body["tokens"]["refresh_token"].as_str().unwrap().into(),
        }
    }

    /// The private chat of `a` and `b`, opened through node `i`.
    pub async fn private_chat(&self, i: usize, a: &TestUser, b: &TestUser) -> i64 {
        let r = self
            .post(
                i,
                "/api/chats/private",
                &a.token,
                json!({ "contact_id": b.id }),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{:?}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    /// Sends a text through node `i`; answers the HTTP answer.
    pub async fn send_text(&self, i: usize, from: &TestUser, chat_id: i64, text: &str) -> Resp {
        self.post(
            i,
            &format!("/api/chats/{chat_id}/messages"),
            &from.token,
            json!({ "message_type": "text", "content": text }),
        )
        .await
    }
}
