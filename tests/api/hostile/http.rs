//! Deadlines on what a client sends (headers, JSON bodies, uploads) and the per-address cap on
//! connections, against the in-process server.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::{connect_from, health_on, read_to_close, socket_addr, wait_until_admitted};
use crate::helpers::{phone, spawn_app_with};
use crate::media::{picture, stored_files};

/// Headers of a POST whose body never comes in full.
fn slow_post(path: &str, content_type: &str, length: usize, token: Option<&str>) -> String {
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nhost: courier\r\ncontent-type: {content_type}\r\n\
         content-length: {length}\r\n{auth}\r\n"
    )
}

#[actix_web::test]
async fn a_json_body_that_trickles_in_gets_408_and_the_connection_closes() {
    let app = spawn_app_with(|s| s.server.body_timeout_ms = 300).await;
    let mut stream = connect_from("127.0.0.1", socket_addr(&app.address))
        .await
        .unwrap();
    let started = Instant::now();
    stream
        .write_all(slow_post("/api/auth/send-otp", "application/json", 1000, None).as_bytes())
        .await
        .unwrap();
    stream.write_all(b"{").await.unwrap();
    let answer = read_to_close(&mut stream, Duration::from_secs(3))
        .await
        .expect("answered and closed within the deadline");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#""code":"request_timeout""#) && answer.contains(r#""success":false"#),
        "{answer}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    // The same with a chunked body that stops in the middle of a chunk.
    let mut chunked = connect_from("127.0.0.1", socket_addr(&app.address))
        .await
        .unwrap();
    chunked
        .write_all(
            b"POST /api/auth/send-otp HTTP/1.1\r\nhost: courier\r\n\
              content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n40\r\n{\"ph",
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut chunked, Duration::from_secs(3))
        .await
        .expect("answered and closed within the deadline");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Nothing was done with it: no code is pending for any phone, so even the right one fails.
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            serde_json::json!({"phone_number": phone(1), "otp": crate::helpers::OTP}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
}

#[actix_web::test]
async fn an_upload_that_stalls_gets_408_and_stores_nothing() {
    let app = spawn_app_with(|s| s.media.upload_timeout_ms = 400).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let before = stored_files(&app);
    let png = picture(64, 64, image::ImageFormat::Png);
    let head =
        "--b0undary\r\ncontent-disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\
                content-type: image/png\r\n\r\n";
    let mut stream = connect_from("127.0.0.1", socket_addr(&app.address))
        .await
        .unwrap();
    let post = slow_post(
        "/api/user/avatar",
        "multipart/form-data; boundary=b0undary",
        head.len() + png.len() + 100,
        Some(&ana.token),
    );
    stream.write_all(post.as_bytes()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // Most of the file, then nothing more.
    stream.write_all(&png[..png.len() - 10]).await.unwrap();
    let answer = read_to_close(&mut stream, Duration::from_secs(3))
        .await
        .expect("answered and closed within the deadline");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    let me = app.get("/api/user/profile", &ana.token).await;
    assert!(me.body["avatar_url"].is_null(), "{:?}", me.body);
    assert_eq!(stored_files(&app), before, "no file was stored");
}

#[actix_web::test]
async fn silent_and_idle_connections_are_closed_on_their_deadlines() {
    let app = spawn_app_with(|s| {
        s.server.header_timeout_ms = 1000;
        s.server.keep_alive_secs = 1;
    })
    .await;
    let addr = socket_addr(&app.address);
    // Connected, and then not a byte: closed once the head deadline passes.
    let mut silent = connect_from("127.0.0.1", addr).await.unwrap();
    assert!(
        read_to_close(&mut silent, Duration::from_secs(4))
            .await
            .is_some(),
        "a silent connection is closed"
    );
    // Half a request head, never finished.
    let mut slow = connect_from("127.0.0.1", addr).await.unwrap();
    slow.write_all(b"GET /api/health HTTP/1.1\r\nhost: cou")
        .await
        .unwrap();
    let answer = read_to_close(&mut slow, Duration::from_secs(4))
        .await
        .expect("a slow head is cut off");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // A chunked body the route does not read, never finished: answered, then closed (not
    // read on for as long as the client cares to trickle).
    let mut unread = connect_from("127.0.0.1", addr).await.unwrap();
    unread
        .write_all(
            b"POST /api/auth/logout HTTP/1.1\r\nhost: courier\r\n\
              transfer-encoding: chunked\r\n\r\n400\r\nnever ends",
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut unread, Duration::from_secs(4))
        .await
        .expect("closed after the answer");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // One request, then idle: closed after the keep-alive time.
    let mut idle = connect_from("127.0.0.1", addr).await.unwrap();
    assert_eq!(
        health_on(&mut idle).await.as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    assert!(
        read_to_close(&mut idle, Duration::from_secs(4))
            .await
            .is_some(),
        "an idle keep-alive connection is closed"
    );
}

#[actix_web::test]
async fn connections_over_the_per_address_cap_are_refused_at_once() {
    let app = spawn_app_with(|s| {
        s.server.max_connections_per_ip = 4;
        s.server.keep_alive_secs = 60;
    })
    .await;
    let addr = socket_addr(&app.address);
    // Four connections from 127.0.0.2, each proven admitted by an answer, then each left
    // holding a POST whose body never arrives (the slow-body attack).
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = connect_from("127.0.0.2", addr).await.unwrap();
        assert_eq!(health_on(&mut c).await.as_deref(), Some("HTTP/1.1 200 OK"));
        c.write_all(slow_post("/api/auth/send-otp", "application/json", 1000, None).as_bytes())
            .await
            .unwrap();
        c.write_all(b"{").await.unwrap();
        held.push(c);
    }
    // A fifth from that address, HTTP or WebSocket: 429, then closed.
    for request in [
        "GET /api/health HTTP/1.1\r\nhost: courier\r\n\r\n",
        "GET /ws HTTP/1.1\r\nhost: courier\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ] {
        let mut extra = connect_from("127.0.0.2", addr).await.unwrap();
        let _ = extra.write_all(request.as_bytes()).await;
        let answer = read_to_close(&mut extra, Duration::from_secs(2))
            .await
            .expect("refused and closed at once");
        assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
        assert!(
            answer.contains(r#""code":"too_many_connections""#),
            "{answer}"
        );
    }
    // Everyone else is served meanwhile.
    let r = app
        .request(reqwest::Method::GET, "/api/health", None, None)
        .await;
    assert_eq!(r.status, 200);

    // When the address lets go, it may connect again.
    drop(held);
    wait_until_admitted("127.0.0.2", addr).await;
}

#[actix_web::test]
async fn open_websockets_count_under_the_per_address_cap_until_they_close() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = spawn_app_with(|s| s.server.max_connections_per_ip = 2).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let addr = socket_addr(&app.address);
    let url = format!("{}/ws", app.address.replace("http://", "ws://"));
    // Two sockets from 127.0.0.2, each proven open by its `hello`.
    let mut sockets = Vec::new();
    for _ in 0..2 {
        let tcp = connect_from("127.0.0.2", addr).await.unwrap();
        let mut req = url.as_str().into_client_request().unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", ana.token).parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
        let hello = ws.next().await.unwrap().unwrap().into_text().unwrap();
        assert!(hello.contains(r#""type":"hello""#), "{hello}");
        sockets.push(ws);
    }
    // Both hold their places: a third connection from that address is refused.
    let mut third = connect_from("127.0.0.2", addr).await.unwrap();
    third
        .write_all(b"GET /api/health HTTP/1.1\r\nhost: courier\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut third, Duration::from_secs(2))
        .await
        .expect("refused and closed at once");
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");

    // Once one socket has closed, its place is free again.
    let mut first = sockets.remove(0);
    first.close(None).await.unwrap();
    while let Some(Ok(_)) = first.next().await {}
    wait_until_admitted("127.0.0.2", addr).await;
    sockets[0].send("ping".into()).await.unwrap();
}

#[actix_web::test]
async fn an_api_request_is_answered_by_its_deadline_when_what_it_waits_for_stalls() {
    // An SMS provider that accepts connections and never answers.
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", stalled.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = stalled.accept().await {
            open.push(socket);
        }
    });
    let app = spawn_app_with(move |s| {
        s.server.body_timeout_ms = 200;
        s.database.timeout_ms = 200;
        s.server.request_timeout_ms = 500;
        s.sms.provider = courier::config::SmsProvider::Twilio;
        s.sms.twilio_account_sid = "AC0123456789".into();
        s.sms.twilio_auth_token = "secret-token".into();
        s.sms.twilio_from = "+15005550006".into();
        s.sms.twilio_api_base = base;
        s.auth.fixed_otp = String::new();
        s.auth.jwt_secret = "a-test-secret-that-is-long-enough-000".into();
        s.auth.phone_hash_key = "a-test-phone-key".into();
    })
    .await;
    let started = Instant::now();
    let res = app
        .client
        .post(format!("{}/api/auth/send-otp", app.address))
        .json(&serde_json::json!({"phone_number": phone(1)}))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .expect("answered before the client gives up");
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    held.abort();
}
