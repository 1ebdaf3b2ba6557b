//! A WebSocket test client speaking Courier's native protocol over a real socket.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::TestApp;

/// How long a test waits for a frame before failing (never slept; only a ceiling).
const WAIT: Duration = Duration::from_secs(10);

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames read while waiting for another one.
    buffered: VecDeque<Value>,
    next_ref: u64,
}

impl WsClient {
    /// Connects with `Authorization: Bearer` and reads the `hello` frame.
    pub async fn connect(app: &TestApp, token: &str) -> WsClient {
        WsClient::connect_to(&app.address, token).await
    }

    /// Connects to the server at `address` (`http://host:port`) and reads the `hello` frame.
    pub async fn connect_to(address: &str, token: &str) -> WsClient {
        let url = format!("{}/ws", address.replace("http://", "ws://"));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (stream, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("websocket connects");
        let mut client = WsClient {
            stream,
            buffered: VecDeque::new(),
            next_ref: 1,
        };
        let hello = client.next().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        client
    }

    /// Tries to connect; answers the HTTP status and JSON body of a refused upgrade.
    pub async fn try_connect(app: &TestApp, token: &str) -> Result<WsClient, (u16, Value)> {
        WsClient::try_connect_to(&app.address, token).await
    }

    /// Like [`WsClient::try_connect`], to the server at `address` (`http://host:port`).
    pub async fn try_connect_to(address: &str, token: &str) -> Result<WsClient, (u16, Value)> {
        let url = format!("{}/ws", address.replace("http://", "ws://"));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok((stream, _)) => {
                let mut client = WsClient {
                    stream,
                    buffered: VecDeque::new(),
                    next_ref: 1,
                };
                assert_eq!(client.next().await["type"], "hello");
                Ok(client)
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                let body = res
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Err((res.status().as_u16(), body))
            }
            Err(e) => panic!("websocket connect failed: {e}"),
        }
    }

    /// Closes the socket from the client side and waits for the server's close.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.stream.next()).await {}
    }

    /// Connects over a socket with a 4 KiB receive buffer (a slow, small client).
    pub async fn connect_small_buffer(app: &TestApp, token: &str) -> WsClient {
        let url = format!(
            "{}/ws?token={token}",
            app.address.replace("http://", "ws://")
        );
        let addr: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(addr).await.unwrap();
        let (stream, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .expect("websocket connects");
        let mut client = WsClient {
            stream,
            buffered: VecDeque::new(),
            next_ref: 1,
        };
        assert_eq!(client.next().await["type"], "hello");
        client
    }

    /// The answer to a frame sent with a numeric `ref`.
    pub async fn answer_to_number(&mut self, reference: i64) -> Value {
        if let Some(i) = self.buffered.iter().position(|v| v["ref"] == reference) {
            return self.buffered.remove(i).unwrap();
        }
        loop {
            let v = self.read().await;
            if v["ref"] == reference {
                return v;
            }
            if v["type"] != "new-message" {
                self.buffered.push_back(v);
            }
        }
    }

    pub async fn send_json(&mut self, v: Value) {
        self.stream
            .send(Message::text(v.to_string()))
            .await
            .expect("frame sent");
    }

    /// Sends a frame; `false` if the socket is already closed.
    pub async fn try_send_json(&mut self, v: Value) -> bool {
        self.stream.send(Message::text(v.to_string())).await.is_ok()
    }

    /// The next text frame if one arrives within `wait` (a window for something that must not
    /// happen; never a wait for something that must).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        if let Some(v) = self.buffered.pop_front() {
            return Some(v);
        }
        tokio::time::timeout(wait, self.read()).await.ok()
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

    /// The next frame of type `kind` (others are kept for later `next` calls).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        if let Some(i) = self.buffered.iter().position(|v| v["type"] == kind) {
            return self.buffered.remove(i).unwrap();
        }
        loop {
            let v = self.read().await;
            if v["type"] == kind {
                return v;
            }
            self.buffered.push_back(v);
        }
    }

    /// Sends `frame` with a fresh `ref` and returns its `ack` or `error`.
    pub async fn request(&mut self, mut frame: Value) -> Value {
        let r = format!("r{}", self.next_ref);
        self.next_ref += 1;
        frame["ref"] = json!(r);
        self.send_json(frame).await;
        self.answer_to(&r).await
    }

    /// The `ack` / `error` / result frame answering `reference`.
    pub async fn answer_to(&mut self, reference: &str) -> Value {
        if let Some(i) = self.buffered.iter().position(|v| v["ref"] == reference) {
            return self.buffered.remove(i).unwrap();
        }
        loop {
            let v = self.read().await;
            if v["ref"] == reference {
                return v;
            }
            self.buffered.push_back(v);
        }
    }

    /// Watches these users' presence; returns the ack (with their current presence).
    pub async fn watch(&mut self, user_ids: &[i64]) -> Value {
        let ack = self
            .request(json!({"type": "presence-subscribe", "user_ids": user_ids}))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        ack
    }

    /// Sends a text message and returns the ack.
    pub async fn send_text(&mut self, chat_id: i64, content: &str, client_msg_id: &str) -> Value {
        self.request(json!({"type": "send-message", "chat_id": chat_id, "content": content, "client_msg_id": client_msg_id}))
            .await
    }

    /// Reads until the socket closes; returns the close code.
    pub async fn closed(&mut self) -> u16 {
        loop {
            match tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("closes in time")
            {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) | None => return u16::from(CloseCode::Status),
                Some(Ok(_)) => continue,
                Some(Err(_)) => return 0,
            }
        }
    }

    /// Frames already received and not yet consumed, plus any that arrive until `until`
    /// returns true for one of them (a barrier: a later event of the same chat).
    pub async fn collect_until(&mut self, until: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out: Vec<Value> = self.buffered.drain(..).collect();
        if out.iter().any(&until) {
            return out;
        }
        loop {
            let v = self.read().await;
            let done = until(&v);
            out.push(v);
            if done {
                return out;
            }
        }
    }
}
