//! What the end-to-end benches do as clients: sign up over HTTP, open WebSockets.

use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Signs user `n` up (server with `auth.fixed_otp = "123456"`): their id and access token.
pub async fn sign_up(http: &reqwest::Client, base: &str, n: usize) -> (i64, String) {
    let phone = format!("+1415{:07}", 2_000_000 + n);
    http.post(format!("{base}/api/auth/send-otp"))
        .json(&json!({"phone_number": phone}))
        .send()
        .await
        .unwrap();
    let r: Value = http
        .post(format!("{base}/api/auth/verify-otp"))
        .json(&json!({"phone_number": phone, "otp": "123456", "name": format!("u{n}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        r["user"]["id"].as_i64().unwrap(),
        r["tokens"]["access_token"].as_str().unwrap().to_string(),
    )
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
