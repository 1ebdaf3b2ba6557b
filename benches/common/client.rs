//! What the end-to-end benches do as clients: sign up over HTTP, open WebSockets.

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Signs user `n` up (server with `auth.fixed_otp = "123456"`): their id and access token.
pub async fn sign_up(http: &reqwest::Client, base: &str, n: usize) -> (i64, String) {
    let phone = courier_actors::testing::phone(n as u32);
    let r = super::sign_up::sign_up(http, base, &phone, &format!("u{n}"), "123456").await;
    (
        r["user"]["id"].as_i64().unwrap(),
        r["tokens"]["access_token"].as_str().unwrap().to_string(),
    )
}

/// Opens (or finds) the private chat of the user of `token` with `other`: its id.
pub async fn private_chat(http: &reqwest::Client, base: &str, token: &str, other: i64) -> i64 {
    let chat: serde_json::Value = http
        .post(format!("{base}/api/chats/private"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "contact_id": other }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    chat["id"].as_i64().unwrap()
}

/// Opens `/ws` with a bearer token.
pub async fn try_socket(
    base: &str,
    token: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("{}/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// Opens `/ws`; panics if the server refuses.
pub async fn socket(base: &str, token: &str) -> Ws {
    try_socket(base, token).await.unwrap()
}
