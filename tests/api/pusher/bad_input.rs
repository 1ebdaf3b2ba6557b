//! Bad input on the Pusher socket and at `/broadcasting/auth`: each gets the protocol's
//! error, and the socket (and server) go on.

use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::client::{authorize, data_of, pusher_app, PusherClient, KEY};
use crate::helpers::spawn_app;

/// The socket still answers a ping (nothing broke).
async fn still_alive(c: &mut PusherClient) {
    c.send(json!({ "event": "pusher:ping", "data": {} })).await;
    c.next_event("pusher:pong").await;
}

fn error_message(frame: &Value) -> String {
    assert_eq!(frame["event"], "pusher:error", "{frame}");
    frame["data"]["message"].as_str().unwrap_or("").to_string()
}

#[actix_rt::test]
async fn connection_established_ping_and_pong() {
    let app = pusher_app().await;
    let mut c = PusherClient::connect(&app).await;
    let (a, b) = c.socket_id.split_once('.').expect("socket id is n.n");
    assert!(
        a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok(),
        "{}",
        c.socket_id
    );
    still_alive(&mut c).await;
    let other = PusherClient::connect(&app).await;
    assert_ne!(other.socket_id, c.socket_id);
    let metrics = app.engine.metrics.render();
    assert!(
        metrics.contains("courier_sockets_open{protocol=\"pusher\"} 2"),
        "{metrics}"
    );
}

#[actix_rt::test]
async fn wrong_app_key_and_protocol_are_refused_with_their_codes() {
    let app = pusher_app().await;
    let (mut c, first) = PusherClient::open(&app, "nope", "protocol=7").await;
    assert_eq!(first["data"]["code"], 4001, "{first}");
    assert_eq!(c.closed().await.0, 4001);
    for query in ["protocol=6", "client=js", "protocol=x"] {
        let (mut c, first) = PusherClient::open(&app, KEY, query).await;
        assert_eq!(first["data"]["code"], 4007, "{query}: {first}");
        assert_eq!(c.closed().await.0, 4007);
    }
    // Off unless configured: no socket at all.
    let plain = spawn_app().await;
    let r = plain
        .client
        .get(format!("{}/app/{KEY}?protocol=7", plain.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[actix_rt::test]
async fn malformed_frames_and_unknown_events_get_pusher_errors() {
    let app = pusher_app().await;
    let mut c = PusherClient::connect(&app).await;
    for bad in [
        "{nope",
        "[1,2]",
        "\"text\"",
        r#"{"data":{}}"#,
        r#"{"event":42}"#,
        r#"{"event":"dance","data":{}}"#,
        r#"{"event":"pusher:subscribe","data":{}}"#,
        r#"{"event":"pusher:subscribe","data":{"channel":"bad name!"}}"#,
        r#"{"event":"pusher:subscribe","data":{"channel":"private-chat.1","auth":5}}"#,
        r#"{"event":"client-typing","data":{}}"#,
    ] {
        c.send_raw(Message::text(bad)).await;
        let e = c.next().await;
        assert!(!error_message(&e).is_empty(), "{bad}: {e}");
    }
    c.send_raw(Message::binary(vec![1, 2, 3])).await;
    error_message(&c.next().await);
    still_alive(&mut c).await;
}

#[actix_rt::test]
async fn subscribing_twice_and_unsigned_subscriptions_are_refused() {
    let app = pusher_app().await;
    let alice = app.signup("+14155551001", "Alice").await;
    let mut c = PusherClient::connect(&app).await;
    let channel = format!("private-user.{}", alice.id);
    let ok = c.join(&app, &alice, &channel).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    let again = c.join(&app, &alice, &channel).await;
    assert_eq!(again["event"], "pusher:subscription_error", "{again}");
    assert_eq!(data_of(&again)["status"], 400);
    // No auth at all on a private channel.
    c.send(json!({ "event": "pusher:subscribe", "data": { "channel": "private-chat.9" } }))
        .await;
    let e = c.next_event("pusher:subscription_error").await;
    assert_eq!(data_of(&e)["status"], 401, "{e}");
    // A public channel needs none.
    c.send(json!({ "event": "pusher:subscribe", "data": { "channel": "news" } }))
        .await;
    c.next_event("pusher_internal:subscription_succeeded").await;
    still_alive(&mut c).await;
}

#[actix_rt::test]
async fn forged_and_replayed_signatures_are_refused() {
    let app = pusher_app().await;
    let alice = app.signup("+14155551002", "Alice").await;
    let bob = app.signup("+14155551003", "Bob").await;
    let chat = app.private_chat(&alice, &bob).await;
    let channel = format!("private-chat.{chat}");
    let mut a = PusherClient::connect(&app).await;
    let mut b = PusherClient::connect(&app).await;
    // Alice's authorization for her socket, replayed on another socket.
    let r = authorize(&app, &alice, &a.socket_id, &channel).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let replay = b.subscribe(&channel, &r.body).await;
    assert_eq!(replay["event"], "pusher:subscription_error", "{replay}");
    assert_eq!(data_of(&replay)["status"], 401);
    // A made-up signature.
    let forged = json!({ "auth": format!("{KEY}:{}", "ab".repeat(32)) });
    let e = b.subscribe(&channel, &forged).await;
    assert_eq!(e["event"], "pusher:subscription_error", "{e}");
    // A presence channel_data changed after signing.
    let presence = format!("presence-chat.{chat}");
    let r = authorize(&app, &alice, &a.socket_id, &presence).await;
    let mut tampered = r.body.clone();
    tampered["channel_data"] = json!(r.body["channel_data"]
        .as_str()
        .unwrap()
        .replace("Alice", "Mallory"));
    let e = a.subscribe(&presence, &tampered).await;
    assert_eq!(e["event"], "pusher:subscription_error", "{e}");
    // The genuine one still works on its own socket.
    let ok = a
        .subscribe(&channel, &r_for(&app, &alice, &a.socket_id, &channel).await)
        .await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    // An authorization serves one subscription: replayed after an unsubscribe, it is refused.
    let auth = r_for(&app, &alice, &a.socket_id, &presence).await;
    let ok = a.subscribe(&presence, &auth).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    a.send(json!({ "event": "pusher:unsubscribe", "data": { "channel": presence } }))
        .await;
    let replay = a.subscribe(&presence, &auth).await;
    assert_eq!(replay["event"], "pusher:subscription_error", "{replay}");
    assert_eq!(data_of(&replay)["status"], 403);
    still_alive(&mut b).await;
}

async fn r_for(
    app: &crate::helpers::TestApp,
    u: &crate::helpers::TestUser,
    socket: &str,
    ch: &str,
) -> Value {
    let r = authorize(app, u, socket, ch).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

#[actix_rt::test]
async fn broadcasting_auth_refuses_strangers_and_bad_bodies() {
    let app = pusher_app().await;
    let alice = app.signup("+14155551004", "Alice").await;
    let bob = app.signup("+14155551005", "Bob").await;
    let carol = app.signup("+14155551006", "Carol").await;
    let chat = app.private_chat(&alice, &bob).await;
    let c = PusherClient::connect(&app).await;
    let sid = c.socket_id.clone();
    for channel in [
        format!("private-chat.{chat}"),
        format!("presence-chat.{chat}"),
        format!("private-user.{}", alice.id),
        "private-chat.999999".to_string(),
        "private-other.1".to_string(),
    ] {
        let r = authorize(&app, &carol, &sid, &channel).await;
        assert_eq!(r.status, 403, "{channel}: {:?}", r.body);
    }
    // No token, a malformed socket id, a public channel, malformed JSON.
    let r = app
        .post(
            "/broadcasting/auth",
            None,
            json!({ "socket_id": sid, "channel_name": "private-x" }),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = authorize(&app, &alice, "123", &format!("private-user.{}", alice.id)).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let r = authorize(&app, &alice, &sid, "public").await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let r = app
        .raw(
            reqwest::Method::POST,
            "/broadcasting/auth",
            Some(&alice.token),
            "application/json",
            b"{nope".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // A socket id no live socket has.
    let r = authorize(&app, &alice, "1.1", &format!("private-user.{}", alice.id)).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    // Form bodies, as pusher-js sends them; and a socket bound to Alice refuses Bob.
    let form = format!("socket_id={sid}&channel_name=private-user.{}", alice.id);
    let r = app
        .raw(
            reqwest::Method::POST,
            "/broadcasting/auth",
            Some(&alice.token),
            "application/x-www-form-urlencoded",
            form.into_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let auth = r.body["auth"].as_str().unwrap();
    assert!(
        auth.starts_with(&format!("{KEY}:")) && auth.len() == KEY.len() + 65,
        "{auth}"
    );
    let r = authorize(&app, &bob, &sid, &format!("private-user.{}", bob.id)).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
}

#[actix_rt::test]
async fn client_events_are_checked_sized_and_rate_limited() {
    let app = spawn_app_with_client_limit(8).await;
    let alice = app.signup("+14155551007", "Alice").await;
    let bob = app.signup("+14155551008", "Bob").await;
    let chat = app.private_chat(&alice, &bob).await;
    let private = format!("private-chat.{chat}");
    let mut a = PusherClient::connect(&app).await;
    let mut b = PusherClient::connect(&app).await;
    a.join(&app, &alice, &private).await;
    b.join(&app, &bob, &private).await;
    // On a channel the socket is not subscribed to, and on a public one.
    a.send(
        json!({ "event": "client-x", "channel": format!("private-chat.{}", chat + 1), "data": {} }),
    )
    .await;
    error_message(&a.next().await);
    a.send(json!({ "event": "pusher:subscribe", "data": { "channel": "news" } }))
        .await;
    a.next_event("pusher_internal:subscription_succeeded").await;
    a.send(json!({ "event": "client-x", "channel": "news", "data": {} }))
        .await;
    error_message(&a.next().await);
    // Oversize data.
    let big = "x".repeat(11 * 1024);
    a.send(json!({ "event": "client-x", "channel": private, "data": { "big": big } }))
        .await;
    assert!(error_message(&a.next().await).contains("bytes"));
    // Relayed to the other subscriber, not back to the sender.
    a.send(json!({ "event": "client-hello", "channel": private, "data": { "n": 1 } }))
        .await;
    let got = b.next_event("client-hello").await;
    assert_eq!(got["data"]["n"], 1, "{got}");
    // Over the limit (8 a minute: 2 at once): 4301.
    let mut refused = None;
    for n in 0..10 {
        a.send(json!({ "event": "client-hello", "channel": private, "data": { "n": n } }))
            .await;
        if let Some(f) = a.next_within(Duration::from_millis(300)).await {
            refused = Some(f);
            break;
        }
    }
    let refused = refused.expect("the limit is reached");
    assert_eq!(refused["data"]["code"], 4301, "{refused}");
    still_alive(&mut a).await;
}

async fn spawn_app_with_client_limit(per_minute: u32) -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(|s| {
        s.pusher.app_key = KEY.into();
        s.pusher.app_secret = super::client::SECRET.into();
        s.pusher.client_events_per_minute = per_minute;
    })
    .await
}

#[actix_rt::test]
async fn a_silent_socket_is_pinged_then_closed_4201() {
    let app = pusher_app().await;
    let mut c = PusherClient::connect(&app).await;
    let mut pinged = false;
    for _ in 0..20 {
        app.advance(40);
        if let Some(f) = c.next_within(Duration::from_millis(200)).await {
            assert_eq!(f["event"], "pusher:ping", "{f}");
            pinged = true;
            break;
        }
    }
    assert!(pinged, "a silent socket is pinged");
    let mut frames = Vec::new();
    for _ in 0..10 {
        app.advance(40);
        if let Some(f) = c.next_within(Duration::from_millis(200)).await {
            frames.push(f);
            break;
        }
    }
    assert_eq!(
        frames.first().map(|f| f["data"]["code"].clone()),
        Some(json!(4201)),
        "{frames:?}"
    );
    assert_eq!(c.closed().await.0, 4201);
}
