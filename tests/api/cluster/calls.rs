//! Calls with the caller and the callees on different nodes: ringing, answering, signalling,
//! busy marks, hanging up, the disconnect grace, and the node that runs a call dying.

use reqwest::Method;
use serde_json::json;

use super::Nodes;
use crate::helpers::{phone, Resp, TestUser};
use crate::ws::WsClient;

/// `PUT /api/calls/{call}/{action}` through node `i`.
async fn put(c: &Nodes, i: usize, user: &TestUser, call: i64, action: &str) -> Resp {
    let path = format!("/api/calls/{call}/{action}");
    c.request(i, Method::PUT, &path, Some(&user.token), None)
        .await
}

/// Starts a call in `chat` over REST through node `i`; answers its id.
async fn start(c: &Nodes, i: usize, user: &TestUser, chat: i64) -> i64 {
    let body = json!({ "chat_id": chat, "call_type": "audio" });
    let r = c.post(i, "/api/calls", &user.token, body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["call"]["id"]
        .as_i64()
        .or_else(|| r.body["id"].as_i64())
        .unwrap()
}

/// The next `name` event about call `call` on `ws`.
async fn event_of(ws: &mut WsClient, name: &str, call: i64) -> serde_json::Value {
    loop {
        let e = ws.next_of(name).await;
        if e["data"]["call"]["id"] == call {
            return e;
        }
    }
}

#[actix_web::test]
async fn a_call_across_nodes_rings_is_answered_relays_signals_marks_busy_and_ends() {
    let Some(c) = Nodes::start(2).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let cy = c.signup(1, &phone(3), "Cy").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let other = c.private_chat(1, &cy, &bo).await;
    let mut a = WsClient::connect_to(&c.address(0), &ana.token).await;
    let mut b = WsClient::connect_to(&c.address(1), &bo.token).await;

    // Node 1 runs the call; Bo's device on node 2 rings, says so, and answers.
    let ack = a
        .request(json!({"type": "call-initiate", "chat_id": chat, "call_type": "video"}))
        .await;
    let call = ack["call"]["id"].as_i64().expect("call started");
    let rung = event_of(&mut b, "call-initiated", call).await;
    assert_eq!(rung["data"]["call"]["busy"], false);
    let ack = b
        .request(json!({"type": "call-ringing", "call_id": call}))
        .await;
    assert_eq!(ack["call"]["status"], "ringing", "{ack}");
    event_of(&mut a, "call-ringing", call).await;
    let ack = b
        .request(json!({"type": "call-answer", "call_id": call}))
        .await;
    assert_eq!(
        (ack["type"].as_str(), ack["call"]["status"].as_str()),
        (Some("ack"), Some("answered")),
        "{ack}"
    );
    let answered = event_of(&mut a, "call-answered", call).await;
    assert_eq!(answered["data"]["answered_by"]["id"], bo.id);

    // Refusals made on node 1 come back through node 2 with their codes.
    let r = put(&c, 1, &bo, call, "answer").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "already_answered"),
        "{:?}",
        r.body
    );
    let r = put(&c, 1, &cy, call, "end").await;
    assert_eq!(r.status, 404, "{:?}", r.body);

    // Signals both ways, each to the device in the call.
    b.request(
        json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {"sdp": "b"}}),
    )
    .await;
    assert_eq!(
        a.next_of("call-signal").await["data"]["payload"]["sdp"],
        "b"
    );
    a.request(
        json!({"type": "call-signal", "call_id": call, "kind": "answer", "payload": {"sdp": "a"}}),
    )
    .await;
    assert_eq!(
        b.next_of("call-signal").await["data"]["payload"]["sdp"],
        "a"
    );

    // Bo is in a call that node 1 runs: Cy's call, started on node 2, reaches him busy.
    let second = start(&c, 1, &cy, other).await;
    let rung = event_of(&mut b, "call-initiated", second).await;
    assert_eq!(rung["data"]["call"]["busy"], true, "{rung}");
    let r = put(&c, 0, &bo, second, "decline").await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Bo hangs up over REST through node 2: both hear it, and the call is over everywhere.
    let r = put(&c, 1, &bo, call, "end").await;
    assert_eq!(
        (r.status.as_u16(), r.body["call"]["status"].as_str()),
        (200, Some("ended")),
        "{:?}",
        r.body
    );
    let ended = event_of(&mut a, "call-ended", call).await;
    assert_eq!(ended["data"]["ended_by"]["id"], bo.id);
    event_of(&mut b, "call-ended", call).await;
    for node in [0, 1] {
        let r = put(&c, node, &ana, call, "end").await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "call_ended"),
            "{:?}",
            r.body
        );
    }

    // Once over, Bo is no longer busy anywhere.
    let third = start(&c, 1, &cy, other).await;
    let rung = event_of(&mut b, "call-initiated", third).await;
    assert_eq!(rung["data"]["call"]["busy"], false, "{rung}");
}

#[actix_web::test]
async fn a_device_dropped_on_another_node_ends_the_call_after_the_grace() {
    let grace = [("COURIER__CALLS__DISCONNECT_GRACE_SECS", "1")];
    let Some(c) = Nodes::start_with(2, &grace).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let mut a = WsClient::connect_to(&c.address(0), &ana.token).await;
    let mut b = WsClient::connect_to(&c.address(1), &bo.token).await;

    let ack = a
        .request(json!({"type": "call-initiate", "chat_id": chat, "call_type": "audio"}))
        .await;
    let call = ack["call"]["id"].as_i64().expect("call started");
    let ack = b
        .request(json!({"type": "call-answer", "call_id": call}))
        .await;
    assert_eq!(ack["call"]["status"], "answered", "{ack}");
    event_of(&mut a, "call-answered", call).await;

    // Bo's only device, on node 2, goes; node 1's call hangs up for him after the grace.
    b.close().await;
    let ended = event_of(&mut a, "call-ended", call).await;
    assert_eq!(ended["data"]["ended_by"]["id"], bo.id, "{ended}");
}

#[actix_web::test]
async fn the_calls_of_a_node_killed_with_sigkill_are_closed_and_announced() {
    let Some(mut c) = Nodes::start(3).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let cy = c.signup(1, &phone(3), "Cy").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let other = c.private_chat(1, &cy, &bo).await;
    let mut b = WsClient::connect_to(&c.address(1), &bo.token).await;

    // Node 3 runs two calls: one answered, one still ringing.
    let answered = start(&c, 2, &ana, chat).await;
    let r = put(&c, 1, &bo, answered, "answer").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    event_of(&mut b, "call-answered", answered).await;
    let ringing = start(&c, 2, &cy, other).await;
    let rung = event_of(&mut b, "call-initiated", ringing).await;
    assert_eq!(rung["data"]["call"]["busy"], true, "{rung}");

    // Node 3 dies: once its lease runs out (1 s here), a survivor closes both calls and
    // tells their members.
    c.nodes[2].child.kill().unwrap();
    let ended = event_of(&mut b, "call-ended", answered).await;
    assert_eq!(ended["data"]["call"]["status"], "ended", "{ended}");
    let missed = event_of(&mut b, "call-missed", ringing).await;
    assert_eq!(missed["data"]["call"]["status"], "missed", "{missed}");
    for node in [0, 1] {
        let r = put(&c, node, &bo, answered, "end").await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "call_ended"),
            "{:?}",
            r.body
        );
    }
    let r = c.get(1, "/api/calls", Some(&bo.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let text = r.body.to_string();
    assert!(
        !text.contains("\"ringing\"") && !text.contains("\"answered\""),
        "{text}"
    );

    // Bo is free again: a new call on a survivor reaches him not busy.
    let again = start(&c, 1, &ana, chat).await;
    let rung = event_of(&mut b, "call-initiated", again).await;
    assert_eq!(rung["data"]["call"]["busy"], false, "{rung}");
    c.nodes.truncate(2);
}

#[actix_web::test]
async fn an_unanswered_call_across_nodes_is_missed_at_the_ring_timeout() {
    let ring = [("COURIER__CALLS__RING_TIMEOUT_SECS", "1")];
    let Some(c) = Nodes::start_with(2, &ring).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let mut b = WsClient::connect_to(&c.address(1), &bo.token).await;

    // Node 1 runs the call; Bo's device on node 2 rings, and hears it missed.
    let call = start(&c, 0, &ana, chat).await;
    event_of(&mut b, "call-initiated", call).await;
    let missed = event_of(&mut b, "call-missed", call).await;
    assert_eq!(missed["data"]["call"]["status"], "missed", "{missed}");
    let ack = b
        .request(json!({"type": "call-answer", "call_id": call}))
        .await;
    assert_eq!(ack["code"], "call_ended", "{ack}");
}
