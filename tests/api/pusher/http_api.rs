//! Pusher's HTTP events API, signed as Pusher's server libraries sign it: published events
//! reach Pusher subscribers and native `/ws` sessions; unsigned, stale or tampered requests
//! are refused. And `GET /api/sync`, how a Pusher client catches up.

use serde_json::{json, Value};

use super::client::{data_of, pusher_app, signed_request, PusherClient, SECRET};
use crate::helpers::{Resp, TestApp};
use crate::ws::WsClient;

/// A signed HTTP API request, with the server's clock as its time plus `skew` seconds.
async fn signed(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&Value>,
    skew: i64,
    secret: &str,
) -> Resp {
    let ts = app.clock.now_utc().timestamp() + skew;
    signed_request(&app.client, &app.address, ts, (method, path), body, secret).await
}

#[actix_rt::test]
async fn published_events_reach_pusher_and_native_clients() {
    let app = pusher_app().await;
    let alice = app.signup("+14155553001", "Alice").await;
    let bob = app.signup("+14155553002", "Bob").await;
    let chat = app.private_chat(&alice, &bob).await;
    let channel = format!("private-chat.{chat}");
    let mut p = PusherClient::connect(&app).await;
    p.join(&app, &alice, &channel).await;
    let mut native = WsClient::connect(&app, &bob.token).await;
    let path = "/apps/courier/events";
    let body = json!({ "name": "order-shipped", "channel": channel, "data": "{\"id\":7}" });
    let r = signed(&app, "POST", path, Some(&body), 0, SECRET).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let e = p.next_event("order-shipped").await;
    assert_eq!(data_of(&e)["id"], 7, "{e}");
    let n = native.next_of("order-shipped").await;
    assert_eq!(
        (n["channel"].as_str(), &n["data"]["id"]),
        (Some(channel.as_str()), &json!(7))
    );
    // Leaving out the socket that caused it, as Pusher's `socket_id` does.
    let body =
        json!({ "name": "again", "channel": channel, "data": "x", "socket_id": p.socket_id });
    assert_eq!(
        signed(&app, "POST", path, Some(&body), 0, SECRET)
            .await
            .status,
        200
    );
    native.next_of("again").await;
    assert!(p
        .next_within(std::time::Duration::from_millis(300))
        .await
        .is_none());
}

#[actix_rt::test]
async fn unsigned_stale_and_tampered_requests_are_refused() {
    let app = pusher_app().await;
    let body = json!({ "name": "x", "channel": "news", "data": "{}" });
    let path = "/apps/courier/events";
    assert_eq!(
        signed(&app, "POST", path, Some(&body), 0, "wrong-secret-000000")
            .await
            .status,
        401
    );
    assert_eq!(
        signed(&app, "POST", path, Some(&body), -601, SECRET)
            .await
            .status,
        401
    );
    assert_eq!(
        signed(&app, "POST", path, Some(&body), 0, SECRET)
            .await
            .status,
        200
    );
    let r = app
        .client
        .post(format!("{}{path}", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        signed(&app, "POST", "/apps/other/events", Some(&body), 0, SECRET)
            .await
            .status,
        404
    );
    // Signed, but bad: the protocol's own names, too many in a batch, malformed.
    let bad = json!({ "name": "pusher:x", "channel": "news", "data": "{}" });
    assert_eq!(
        signed(&app, "POST", path, Some(&bad), 0, SECRET)
            .await
            .status,
        422
    );
    let batch = json!({ "batch": vec![body.clone(); 11] });
    let r = signed(
        &app,
        "POST",
        "/apps/courier/batch_events",
        Some(&batch),
        0,
        SECRET,
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let r = signed(&app, "POST", path, Some(&json!({ "name": "x" })), 0, SECRET).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let r = signed(
        &app,
        "GET",
        "/apps/courier/channels/news/users",
        None,
        0,
        SECRET,
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = signed(&app, "GET", "/apps/courier/channels", None, 0, SECRET).await;
    assert_eq!(r.body, json!({ "channels": {} }));
}

#[actix_rt::test]
async fn rest_sync_returns_what_a_pusher_client_missed() {
    let app = pusher_app().await;
    let alice = app.signup("+14155553003", "Alice").await;
    let bob = app.signup("+14155553004", "Bob").await;
    let chat = app.private_chat(&alice, &bob).await;
    let first = app.send_text(&bob, chat, "one").await;
    let r = app.get("/api/sync?since=0", &alice.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ids: Vec<&Value> = r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert!(ids.contains(&&first["id"]), "{:?}", r.body);
    let cursor = r.body["cursor"].as_i64().unwrap();
    let second = app.send_text(&bob, chat, "two").await;
    let r = app
        .get(&format!("/api/sync?since={cursor}"), &alice.token)
        .await;
    let ids: Vec<&Value> = r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(ids, vec![&second["id"]], "{:?}", r.body);
    assert_eq!(
        app.get("/api/sync?since=-1", &alice.token).await.status,
        422
    );
    assert_eq!(app.get("/api/sync?limit=0", &alice.token).await.status, 422);
}
