//! A Pusher protocol test client over a real socket, and the test server's Pusher settings.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{spawn_app_with, Resp, TestApp, TestUser};

/// How long a test waits for a frame before failing (a ceiling, never a sleep).
const WAIT: Duration = Duration::from_secs(10);

pub const KEY: &str = "test-key";
pub const SECRET: &str = "test-secret-0123456789";

/// A server with the Pusher protocol on.
pub async fn pusher_app() -> TestApp {
    spawn_app_with(|s| {
        s.pusher.app_key = KEY.into();
        s.pusher.app_secret = SECRET.into();
    })
    .await
}

pub struct PusherClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    buffered: VecDeque<Value>,
    pub socket_id: String,
}

impl PusherClient {
    /// Opens `/app/{key}?{query}` and answers the first frame with the client.
    pub async fn open(app: &TestApp, key: &str, query: &str) -> (PusherClient, Value) {
        Self::open_at(&app.address, key, query).await
    }

    /// Like [`PusherClient::open`], on the server at `address` (`http://…`).
    pub async fn open_at(address: &str, key: &str, query: &str) -> (PusherClient, Value) {
        let url = format!("{}/app/{key}?{query}", address.replace("http://", "ws://"));
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        let mut c = PusherClient {
            stream,
            buffered: VecDeque::new(),
            socket_id: String::new(),
        };
        let first = c.next().await;
        (c, first)
    }

    /// Connects as pusher-js does and reads `pusher:connection_established`.
    pub async fn connect(app: &TestApp) -> PusherClient {
        Self::connect_to(&app.address).await
    }

    /// Like [`PusherClient::connect`], to the server at `address` (`http://…`).
    pub async fn connect_to(address: &str) -> PusherClient {
        let (mut c, first) =
            Self::open_at(address, KEY, "protocol=7&client=js&version=8.4.0").await;
        assert_eq!(first["event"], "pusher:connection_established", "{first}");
        let data = data_of(&first);
        c.socket_id = data["socket_id"].as_str().unwrap().to_string();
        c
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::text(v.to_string()))
            .await
            .expect("frame sent");
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.stream.send(m).await.expect("frame sent");
    }

    /// The next text frame (buffered ones first).
    pub async fn next(&mut self) -> Value {
        if let Some(v) = self.buffered.pop_front() {
            return v;
        }
        self.read().await
    }

    async fn read(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame arrives in time")
                .expect("socket open")
                .expect("frame readable");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).expect("frames are JSON"),
                Message::Close(c) => panic!("socket closed: {c:?}"),
                _ => continue,
            }
        }
    }

    /// The next frame whose `event` is `name` (others are kept).
    pub async fn next_event(&mut self, name: &str) -> Value {
        if let Some(i) = self.buffered.iter().position(|v| v["event"] == name) {
            return self.buffered.remove(i).unwrap();
        }
        loop {
            let v = self.read().await;
            if v["event"] == name {
                return v;
            }
            self.buffered.push_back(v);
        }
    }

    /// A frame if one arrives within `wait` (a window for what must not happen).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        if let Some(v) = self.buffered.pop_front() {
            return Some(v);
        }
        tokio::time::timeout(wait, self.read()).await.ok()
    }

    /// Reads until the server closes; answers the close code and the frames before it.
    pub async fn closed(&mut self) -> (u16, Vec<Value>) {
        let mut frames: Vec<Value> = self.buffered.drain(..).collect();
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("the server closes in time");
            match msg {
                Some(Ok(Message::Text(t))) => frames.push(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Close(c))) => {
                    return (c.map(|c| u16::from(c.code)).unwrap_or(0), frames)
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return (0, frames),
            }
        }
    }

    /// Asks `/broadcasting/auth` for this socket and subscribes with the answer; answers the
    /// server's reply (`subscription_succeeded` or `subscription_error`).
    pub async fn join(&mut self, app: &TestApp, user: &TestUser, channel: &str) -> Value {
        let r = authorize(app, user, &self.socket_id, channel).await;
        assert_eq!(r.status, 200, "auth for {channel}: {:?}", r.body);
        self.subscribe(channel, &r.body).await
    }

    /// Subscribes with an authorization answer (`auth`, `channel_data`).
    pub async fn subscribe(&mut self, channel: &str, auth: &Value) -> Value {
        let mut data = json!({ "channel": channel, "auth": auth["auth"] });
        if let Some(cd) = auth.get("channel_data") {
            data["channel_data"] = cd.clone();
        }
        self.send(json!({ "event": "pusher:subscribe", "data": data }))
            .await;
        loop {
            let v = self.read().await;
            let name = v["event"].as_str().unwrap_or("");
            if v["channel"] == channel
                && (name == "pusher_internal:subscription_succeeded"
                    || name == "pusher:subscription_error")
            {
                return v;
            }
            self.buffered.push_back(v);
        }
    }
}

/// `data` of a frame, decoded when it is a JSON string (as the protocol sends it).
pub fn data_of(frame: &Value) -> Value {
    match &frame["data"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        other => other.clone(),
    }
}

/// A request to Pusher's HTTP API at `address`, signed with `secret` as Pusher's server
/// libraries sign it, at Unix time `ts`.
pub async fn signed_request(
    client: &reqwest::Client,
    address: &str,
    ts: i64,
    (method, path): (&str, &str),
    body: Option<&Value>,
    secret: &str,
) -> Resp {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut q = format!("auth_key={KEY}&auth_timestamp={ts}&auth_version=1.0");
    if !body.is_empty() {
        q = format!("{q}&body_md5={}", hex::encode(Md5::digest(body.as_bytes())));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{method}\n{path}\n{q}").as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    let url = format!("{address}{path}?{q}&auth_signature={sig}");
    let req = match method {
        "POST" => client
            .post(url)
            .header("content-type", "application/json")
            .body(body),
        _ => client.get(url),
    };
    Resp::of(req.send().await.expect("request sent")).await
}

/// `POST /broadcasting/auth` as JSON.
pub async fn authorize(app: &TestApp, user: &TestUser, socket_id: &str, channel: &str) -> Resp {
    app.post(
        "/broadcasting/auth",
        Some(&user.token),
        json!({ "socket_id": socket_id, "channel_name": channel }),
    )
    .await
}
