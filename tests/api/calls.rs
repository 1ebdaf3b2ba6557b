//! Calls: ringing, answering on one of two devices, signalling relayed only within the call,
//! ending with a duration, missed and declined calls on the manual clock, refusals, and TURN
//! credentials. Who may act on a call and the call's membership are in `calls/members.rs`;
//! devices and failed writes in `calls/devices.rs`; restarts in `calls/restart.rs`.

mod devices;
mod members;
mod restart;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha1::Sha1;

use crate::helpers::{phone, spawn_app, spawn_app_with, TestApp, TestUser};
use crate::ws::WsClient;

pub(crate) async fn start(app: &TestApp, caller: &TestUser, chat: i64) -> i64 {
    let r = app
        .post(
            "/api/calls",
            Some(&caller.token),
            json!({"chat_id": chat, "call_type": "video"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["call"]["id"].as_i64().unwrap()
}

pub(crate) async fn put(
    app: &TestApp,
    user: &TestUser,
    call: i64,
    action: &str,
) -> crate::helpers::Resp {
    app.request(
        Method::PUT,
        &format!("/api/calls/{call}/{action}"),
        Some(&user.token),
        None,
    )
    .await
}

#[actix_web::test]
async fn a_call_rings_is_answered_on_one_device_relays_signals_and_ends_with_its_duration() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut a = WsClient::connect(&app, &ana.token).await;
    let mut b1 = WsClient::connect(&app, &bo.token).await;
    let mut b2 = WsClient::connect(&app, &bo.token).await;

    let ack = a
        .request(json!({"type": "call-initiate", "chat_id": chat, "call_type": "audio"}))
        .await;
    assert_eq!(
        (ack["type"].as_str(), ack["call"]["status"].as_str()),
        (Some("ack"), Some("initiated")),
        "{ack}"
    );
    let call = ack["call"]["id"].as_i64().unwrap();
    for b in [&mut b1, &mut b2] {
        let e = b.next_of("call-initiated").await;
        assert_eq!(e["data"]["call"]["caller"]["name"], "Ana");
        assert_eq!(
            (
                e["data"]["call"]["id"].as_i64(),
                e["data"]["call"]["busy"].as_bool()
            ),
            (Some(call), Some(false))
        );
    }
    b1.request(json!({"type": "call-ringing", "call_id": call}))
        .await;
    assert_eq!(
        a.next_of("call-ringing").await["data"]["call"]["status"],
        "ringing"
    );

    // The offer reaches both of Bo's devices while it rings.
    a.request(json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {"sdp": "v=0 offer"}})).await;
    for b in [&mut b1, &mut b2] {
        let s = b.next_of("call-signal").await;
        assert_eq!(
            (
                s["data"]["kind"].as_str(),
                s["data"]["payload"]["sdp"].as_str()
            ),
            (Some("offer"), Some("v=0 offer"))
        );
        assert_eq!(s["data"]["from"]["id"], ana.id);
    }

    // Bo answers on his second device; his first device and Ana hear of it.
    let ack = b2
        .request(json!({"type": "call-answer", "call_id": call}))
        .await;
    assert_eq!(ack["call"]["status"], "answered", "{ack}");
    assert_eq!(
        a.next_of("call-answered").await["data"]["answered_by"]["id"],
        bo.id
    );
    let elsewhere = b1.next_of("call-answered").await;
    assert_eq!(
        elsewhere["data"]["answered_by"]["id"], bo.id,
        "answered elsewhere"
    );
    let again = b1
        .request(json!({"type": "call-answer", "call_id": call}))
        .await;
    assert_eq!(again["code"], "already_answered");

    // Signals now go between Ana and the answering device only.
    b2.request(json!({"type": "call-signal", "call_id": call, "kind": "answer", "payload": {"sdp": "v=0 answer"}})).await;
    assert_eq!(
        a.next_of("call-signal").await["data"]["payload"]["sdp"],
        "v=0 answer"
    );
    a.request(json!({"type": "call-signal", "call_id": call, "kind": "ice-candidate", "payload": {"candidate": "c1"}})).await;
    assert_eq!(
        b2.next_of("call-signal").await["data"]["payload"]["candidate"],
        "c1"
    );
    b1.send_json(json!({"type": "ping", "ref": "barrier"}))
        .await;
    let frames = b1.collect_until(|f| f["ref"] == "barrier").await;
    assert!(
        !frames
            .iter()
            .any(|f| f["type"] == "call-signal" && f["data"]["kind"] == "ice-candidate"),
        "{frames:?}"
    );

    // 65 s of talking; the sockets speak in between, or the heartbeat would time them out.
    app.advance(30);
    a.request(json!({"type": "ping"})).await;
    b2.request(json!({"type": "ping"})).await;
    app.advance(35);
    let r = put(&app, &ana, call, "end").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            r.body["call"]["status"].as_str(),
            r.body["call"]["duration"].as_i64()
        ),
        (Some("ended"), Some(65))
    );
    assert_eq!(
        b2.next_of("call-ended").await["data"]["call"]["duration"],
        65
    );

    for (user, direction) in [(&ana, "outgoing"), (&bo, "incoming")] {
        let h = app.get("/api/calls", &user.token).await;
        let c = &h.body["calls"][0];
        assert_eq!(
            (
                c["id"].as_i64(),
                c["status"].as_str(),
                c["duration"].as_i64()
            ),
            (Some(call), Some("ended"), Some(65))
        );
        assert_eq!(c["direction"], direction);
        assert_eq!(h.body["pagination"]["total_items"], 1);
    }
    let h = app.get("/api/calls", &ana.token).await;
    assert_eq!(h.body["calls"][0]["chat"]["participant"]["name"], "Bo");
    let r = put(&app, &bo, call, "answer").await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "call_ended"));
}

#[actix_web::test]
async fn unanswered_calls_are_missed_after_the_ring_timeout_and_can_be_declined() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut a = WsClient::connect(&app, &ana.token).await;

    let call = start(&app, &ana, chat).await;
    app.advance(44);
    assert_eq!(a.request(json!({"type": "ping"})).await["type"], "pong");
    app.advance(1);
    let missed = a.next_of("call-missed").await;
    assert_eq!(
        (
            missed["data"]["call"]["id"].as_i64(),
            missed["data"]["call"]["status"].as_str()
        ),
        (Some(call), Some("missed"))
    );
    let r = put(&app, &bo, call, "answer").await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "call_ended"));

    let call = start(&app, &ana, chat).await;
    let r = put(&app, &bo, call, "decline").await;
    assert_eq!(
        (r.status.as_u16(), r.body["call"]["status"].as_str()),
        (200, Some("declined"))
    );
    assert_eq!(
        a.next_of("call-declined").await["data"]["declined_by"]["id"],
        bo.id
    );

    // The caller giving up before an answer is a missed call too.
    let call = start(&app, &ana, chat).await;
    let r = put(&app, &ana, call, "end").await;
    assert_eq!(r.body["call"]["status"], "missed");
    let statuses: Vec<String> = app.get("/api/calls", &bo.token).await.body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["missed", "declined", "missed"]);
}

#[actix_web::test]
async fn illegal_calls_and_transitions_are_refused() {
    let app = spawn_app_with(|s| s.calls.max_signal_bytes = 1024).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let chat = app.private_chat(&ana, &bo).await;

    let r = app
        .post(
            "/api/calls",
            Some(&cy.token),
            json!({"chat_id": chat, "call_type": "audio"}),
        )
        .await;
    assert_eq!(r.status, 404, "not a member");
    let r = app
        .post(
            "/api/calls",
            Some(&ana.token),
            json!({"chat_id": chat, "call_type": "hologram"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("call_type"))
    );
    let r = app
        .post("/api/calls", Some(&ana.token), json!({"chat_id": "x"}))
        .await;
    assert_eq!(r.status, 422);

    let call = start(&app, &ana, chat).await;
    let r = put(&app, &ana, call, "answer").await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "own_call"));
    let r = put(&app, &bo, call, "end").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "not_in_call"),
        "Bo has not answered"
    );
    for action in ["answer", "end", "decline"] {
        let r = put(&app, &cy, call, action).await;
        assert_eq!(r.status, 404, "{action} by an outsider");
    }
    assert_eq!(put(&app, &ana, 999_999, "end").await.status, 404);

    let mut cy_ws = WsClient::connect(&app, &cy.token).await;
    let e = cy_ws
        .request(json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(e["code"], "not_found");
    let mut a = WsClient::connect(&app, &ana.token).await;
    let big = "x".repeat(2000);
    let e = a.request(json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {"sdp": big}})).await;
    assert_eq!(e["code"], "payload_too_large");
    let e = a
        .request(json!({"type": "call-signal", "call_id": call, "kind": "hello", "payload": {}}))
        .await;
    assert_eq!(e["field"], "kind");

    // A blocked user cannot call at all.
    put(&app, &bo, call, "decline").await;
    app.request(
        Method::PUT,
        &format!("/api/contacts/{}/block", ana.id),
        Some(&bo.token),
        None,
    )
    .await;
    let r = app
        .post(
            "/api/calls",
            Some(&ana.token),
            json!({"chat_id": chat, "call_type": "audio"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "blocked"));
}

#[actix_web::test]
async fn a_callee_in_another_call_is_busy_and_a_vanished_caller_ends_the_call() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let ab = app.private_chat(&ana, &bo).await;
    let cb = app.private_chat(&cy, &bo).await;
    let a = WsClient::connect(&app, &ana.token).await;
    let mut b = WsClient::connect(&app, &bo.token).await;
    b.watch(&[ana.id]).await;

    let call = start(&app, &ana, ab).await;
    assert_eq!(put(&app, &bo, call, "answer").await.status, 200);
    start(&app, &cy, cb).await;
    let mut second = b.next_of("call-initiated").await;
    while second["data"]["call"]["id"] == call {
        second = b.next_of("call-initiated").await;
    }
    assert_eq!(second["data"]["call"]["busy"], true);

    // Ana's only device goes away: after the grace period the call ends.
    drop(a);
    let mut connected = Value::Null;
    for _ in 0..2 {
        connected = b.next_of("user-status-updated").await;
        if connected["data"]["is_online"] == false {
            break;
        }
    }
    assert_eq!(connected["data"]["contact_id"], ana.id);
    app.advance(10);
    let ended = b.next_of("call-ended").await;
    assert_eq!(
        (
            ended["data"]["call"]["id"].as_i64(),
            ended["data"]["call"]["status"].as_str()
        ),
        (Some(call), Some("ended"))
    );
}

#[actix_web::test]
async fn ice_servers_come_with_turn_credentials_that_verify() {
    let app = spawn_app_with(|s| {
        s.calls.stun_urls = vec!["stun:stun.example.org:3478".into()];
        s.calls.turn_urls = vec!["turn:turn.example.org:3478?transport=udp".into()];
        s.calls.turn_secret = "a-shared-turn-secret".into();
        s.calls.turn_ttl_secs = 600;
    })
    .await;
    let ana = app.signup(&phone(1), "Ana").await;
    let r = app.get("/api/calls/ice-servers", &ana.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["ice_servers"][0]["urls"],
        json!(["stun:stun.example.org:3478"])
    );
    let turn = &r.body["ice_servers"][1];
    let username = turn["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user.parse::<i64>().unwrap(), ana.id);
    let expected_expiry = app.clock.now_utc().timestamp() + 600;
    assert_eq!(expiry.parse::<i64>().unwrap(), expected_expiry);
    let mut mac = Hmac::<Sha1>::new_from_slice(b"a-shared-turn-secret").unwrap();
    mac.update(username.as_bytes());
    assert_eq!(
        turn["credential"].as_str().unwrap(),
        BASE64.encode(mac.finalize().into_bytes())
    );
    assert_eq!(r.body["ttl"], 600);
    assert_eq!(
        app.request(Method::GET, "/api/calls/ice-servers", None, None)
            .await
            .status,
        401
    );
}
