//! Who is in a call: only members of the chat when the call started may join it, and only
//! while they are still in the chat; who leaves a group call is out of it (no more actions,
//! no more signals, no longer busy), and the call ends when fewer than two remain.

use serde_json::json;

use super::{put, start};
use crate::helpers::{phone, spawn_app, TestApp, TestUser};
use crate::ws::WsClient;

async fn group(app: &TestApp, admin: &TestUser, members: &[&TestUser]) -> i64 {
    for member in members {
        app.open_to_groups(member).await;
    }
    let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
    let r = app
        .post(
            "/api/groups",
            Some(&admin.token),
            json!({"name": "Team", "participants": ids}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["group"]["id"].as_i64().unwrap()
}

#[actix_web::test]
async fn only_current_members_who_were_in_the_chat_when_the_call_started_may_join() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let di = app.signup(&phone(4), "Di").await;
    let chat = group(&app, &ana, &[&bo, &cy]).await;
    let call = start(&app, &ana, chat).await;

    // Cy leaves the group; Di joins it after the call started.
    let r = app
        .post(
            &format!("/api/groups/{chat}/leave"),
            Some(&cy.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.open_to_groups(&di).await;
    let r = app
        .post(
            &format!("/api/groups/{chat}/members"),
            Some(&ana.token),
            json!({"user_ids": [di.id]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    for (who, name) in [(&cy, "Cy, who left"), (&di, "Di, who joined later")] {
        for action in ["answer", "decline", "end"] {
            let r = put(&app, who, call, action).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (404, "not_found"),
                "{action} by {name}"
            );
        }
        let mut ws = WsClient::connect(&app, &who.token).await;
        for frame in ["call-answer", "call-ringing"] {
            let e = ws.request(json!({"type": frame, "call_id": call})).await;
            assert_eq!(e["code"], "not_found", "{frame} by {name}: {e}");
        }
        let e = ws
            .request(
                json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {}}),
            )
            .await;
        assert_eq!(e["code"], "not_found", "signal by {name}: {e}");
    }

    // Bo, a member all along, still can.
    let r = put(&app, &bo, call, "answer").await;
    assert_eq!(
        (r.status.as_u16(), r.body["call"]["status"].as_str()),
        (200, Some("answered"))
    );
}

#[actix_web::test]
async fn a_member_who_leaves_a_group_call_is_no_longer_busy() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let di = app.signup(&phone(4), "Di").await;
    let chat = group(&app, &ana, &[&bo, &cy]).await;
    let db = app.private_chat(&di, &bo).await;
    let mut b = WsClient::connect(&app, &bo.token).await;

    let call = start(&app, &ana, chat).await;
    assert_eq!(put(&app, &bo, call, "answer").await.status, 200);
    assert_eq!(put(&app, &cy, call, "answer").await.status, 200);
    let r = put(&app, &bo, call, "end").await;
    assert_eq!(
        r.body["call"]["status"], "answered",
        "Bo left, the call goes on"
    );
    b.next_of("call-left").await;

    // Di calls Bo while the group call goes on without him: Bo is free.
    let other = start(&app, &di, db).await;
    let mut rung = b.next_of("call-initiated").await;
    while rung["data"]["call"]["id"] != other {
        rung = b.next_of("call-initiated").await;
    }
    assert_eq!(rung["data"]["call"]["busy"], false, "{rung}");
    assert_eq!(put(&app, &di, other, "end").await.status, 200);

    // And after the group call ends, nobody it involved is busy.
    assert_eq!(
        put(&app, &ana, call, "end").await.body["call"]["status"],
        "ended"
    );
    let ac = app.private_chat(&di, &ana).await;
    let mut a = WsClient::connect(&app, &ana.token).await;
    for callee_chat in [db, ac] {
        let other = start(&app, &di, callee_chat).await;
        let ws = if callee_chat == db { &mut b } else { &mut a };
        let mut rung = ws.next_of("call-initiated").await;
        while rung["data"]["call"]["id"] != other {
            rung = ws.next_of("call-initiated").await;
        }
        assert_eq!(rung["data"]["call"]["busy"], false, "{rung}");
        put(&app, &di, other, "end").await;
    }
}

#[actix_web::test]
async fn a_caller_who_left_is_out_of_the_call_and_it_ends_when_one_participant_remains() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let chat = group(&app, &ana, &[&bo, &cy]).await;
    let mut a = WsClient::connect(&app, &ana.token).await;
    let mut b = WsClient::connect(&app, &bo.token).await;
    let mut c = WsClient::connect(&app, &cy.token).await;

    let ack = a
        .request(json!({"type": "call-initiate", "chat_id": chat, "call_type": "audio"}))
        .await;
    let call = ack["call"]["id"].as_i64().unwrap();
    for ws in [&mut b, &mut c] {
        let ack = ws
            .request(json!({"type": "call-answer", "call_id": call}))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }

    // Ana leaves; Bo and Cy go on.
    let ack = a
        .request(json!({"type": "call-end", "call_id": call}))
        .await;
    assert_eq!(ack["call"]["status"], "answered", "{ack}");
    assert_eq!(c.next_of("call-left").await["data"]["user"]["id"], ana.id);
    let again = a
        .request(json!({"type": "call-end", "call_id": call}))
        .await;
    assert_eq!(again["code"], "not_in_call", "{again}");
    let e = a
        .request(json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(e["code"], "not_in_call", "{e}");

    // Signals no longer go to Ana: without a recipient they are refused, to her they fail.
    let e = c
        .request(
            json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {"n": 1}}),
        )
        .await;
    assert_eq!(e["field"], "to_user_id", "{e}");
    let e = c
        .request(json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {"n": 2}, "to_user_id": ana.id}))
        .await;
    assert_eq!(e["field"], "to_user_id", "{e}");
    let ack = c
        .request(json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {"n": 3}, "to_user_id": bo.id}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(b.next_of("call-signal").await["data"]["payload"]["n"], 3);

    // Bo leaves: Cy would be alone, so the call ends for everyone (not `call-left`).
    let ack = b
        .request(json!({"type": "call-end", "call_id": call}))
        .await;
    assert_eq!(ack["call"]["status"], "ended", "{ack}");
    let ended = c.next_of("call-ended").await;
    assert_eq!(ended["data"]["ended_by"]["id"], bo.id);
    let frames = a.collect_until(|f| f["type"] == "call-ended").await;
    assert!(
        !frames.iter().any(|f| f["type"] == "call-signal"),
        "{frames:?}"
    );
}
