//! Limits of the Pusher protocol: per-address connects, the user's socket cap once a socket is
//! bound, the per-socket frame budget, and sign-out closing the socket.

use serde_json::json;

use super::client::{PusherClient, KEY, SECRET};
use crate::helpers::{spawn_app_with, TestApp};
use crate::ws::WsClient;

async fn app_with(tweak: impl FnOnce(&mut courier::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.pusher.app_key = KEY.into();
        s.pusher.app_secret = SECRET.into();
        tweak(s);
    })
    .await
}

#[actix_rt::test]
async fn connects_per_address_are_limited_before_the_upgrade() {
    // 6 a minute: one in any ten seconds.
    let app = app_with(|s| s.pusher.connects_per_ip_per_minute = 6).await;
    let _first = PusherClient::connect(&app).await;
    let url = format!(
        "{}/app/{KEY}?protocol=7",
        app.address.replace("http://", "ws://")
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status().as_u16(), 429);
        }
        other => panic!("expected a 429 refusal, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_socket_bound_to_a_user_over_their_cap_is_closed_4100() {
    let app = app_with(|s| s.realtime.max_sockets_per_user = 1).await;
    let alice = app.signup("+14155554001", "Alice").await;
    let _native = WsClient::connect(&app, &alice.token).await;
    let mut p = PusherClient::connect(&app).await;
    let r = super::client::authorize(
        &app,
        &alice,
        &p.socket_id,
        &format!("private-user.{}", alice.id),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let data = json!({ "channel": format!("private-user.{}", alice.id), "auth": r.body["auth"] });
    p.send(json!({ "event": "pusher:subscribe", "data": data }))
        .await;
    let (code, frames) = p.closed().await;
    assert_eq!(code, 4100, "{frames:?}");
    assert!(
        frames.iter().any(|f| f["data"]["code"] == 4100),
        "{frames:?}"
    );
}

#[actix_rt::test]
async fn signing_out_closes_the_device_pusher_socket_4009() {
    let app = app_with(|_| {}).await;
    let alice = app.signup("+14155554002", "Alice").await;
    let mut p = PusherClient::connect(&app).await;
    p.join(&app, &alice, &format!("private-user.{}", alice.id))
        .await;
    let r = app
        .post("/api/auth/logout", Some(&alice.token), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (code, frames) = p.closed().await;
    assert_eq!(code, 4009, "{frames:?}");
}

#[actix_rt::test]
async fn a_socket_over_its_frame_budget_is_closed_4100() {
    // 8 a minute: 2 at once.
    let app = app_with(|s| s.pusher.frames_per_minute = 8).await;
    let mut p = PusherClient::connect(&app).await;
    for _ in 0..4 {
        p.send(json!({ "event": "pusher:ping", "data": {} })).await;
    }
    let (code, frames) = p.closed().await;
    assert_eq!(code, 4100, "{frames:?}");
    assert_eq!(
        frames
            .iter()
            .filter(|f| f["event"] == "pusher:pong")
            .count(),
        2,
        "{frames:?}"
    );
}
