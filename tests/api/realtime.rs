//! The WebSocket protocol end to end: delivery to every device exactly once and in order,
//! receipts, offline catch-up with sync, typing, presence, and refusals.

use std::collections::HashSet;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{phone, spawn_app, spawn_app_with};
use crate::ws::WsClient;

fn ids_of(frames: &[Value], kind: &str) -> Vec<i64> {
    frames
        .iter()
        .filter(|f| f["type"] == kind)
        .map(|f| f["data"]["message"]["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn every_device_gets_each_message_once_in_id_order_and_receipts_flow_back() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let ana2 = app.signup(&phone(1), "Ana").await; // Ana's second device
    let chat = app.private_chat(&ana, &bo).await;
    let mut a1 = WsClient::connect(&app, &ana.token).await;
    let mut a2 = WsClient::connect(&app, &ana2.token).await;
    let mut b1 = WsClient::connect(&app, &bo.token).await;
    let mut b2 = WsClient::connect(&app, &bo.token).await;

    // Twenty sends pipelined without waiting, then the acks.
    for i in 0..20 {
        a1.send_json(json!({"type": "send-message", "chat_id": chat, "content": format!("m{i}"), "client_msg_id": format!("a-{i}"), "ref": i}))
            .await;
    }
    let mut acked = Vec::new();
    for i in 0..20 {
        let ack = a1.answer_to_number(i).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        assert_eq!(ack["client_msg_id"], format!("a-{i}"));
        acked.push(ack["message"]["id"].as_i64().unwrap());
    }
    let mut sorted = acked.clone();
    sorted.sort();
    assert_eq!(acked, sorted, "ids follow the order of sending");

    // A barrier: a last message; whatever arrived before it is all there is.
    let last = a1.send_text(chat, "barrier", "a-last").await["message"]["id"]
        .as_i64()
        .unwrap();
    let is_barrier = |f: &Value| f["type"] == "new-message" && f["data"]["message"]["id"] == last;
    for (name, client) in [("Bo 1", &mut b1), ("Bo 2", &mut b2), ("Ana 2", &mut a2)] {
        let frames = client.collect_until(is_barrier).await;
        let got = ids_of(&frames, "new-message");
        let mut expected = acked.clone();
        expected.push(last);
        assert_eq!(got, expected, "{name}: each message once, in id order");
        let first = frames.iter().find(|f| f["type"] == "new-message").unwrap();
        assert_eq!(first["channel"], format!("private-chat.{chat}"));
        assert_eq!(first["data"]["message"]["sender"]["name"], "Ana");
        assert!(first["seq"].as_i64().is_some());
    }
    // The sending device got acks, not copies.
    a1.send_json(json!({"type": "ping", "ref": "after"})).await;
    let own = a1.collect_until(|f| f["ref"] == "after").await;
    assert!(ids_of(&own, "new-message").is_empty(), "{own:?}");

    // Bo's first device confirms delivery, his second reads: Ana sees both.
    let all: Vec<i64> = acked.iter().copied().chain([last]).collect();
    let ack = b1
        .request(json!({"type": "delivered", "message_ids": all}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let status = a1.next_of("message-status-updated").await;
    assert_eq!(status["data"]["status"], "delivered");
    assert_eq!(status["data"]["message_id"], last);
    assert_eq!(status["data"]["delivered_to"]["id"], bo.id);
    let ack = b2
        .request(json!({"type": "read", "chat_id": chat, "message_id": last}))
        .await;
    assert!(ack["read_at"].as_str().is_some(), "{ack}");
    let status = a1.next_of("message-status-updated").await;
    assert_eq!(
        (
            status["data"]["status"].as_str(),
            status["data"]["read_by"]["name"].as_str()
        ),
        (Some("read"), Some("Bo"))
    );
    let history = app.history(&ana, chat).await;
    assert!(history.iter().all(|m| m["status"] == "read"));
}

#[actix_web::test]
async fn an_offline_device_catches_up_with_sync_in_order_without_duplicates() {
    let app = spawn_app_with(|s| s.limits.messages_per_minute = 1000).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    app.send_text(&ana, chat, "before").await;
    let mut b = WsClient::connect(&app, &bo.token).await;
    let first = b.request(json!({"type": "sync", "since": 0})).await;
    assert_eq!(first["type"], "sync-result");
    assert_eq!(first["messages"].as_array().unwrap().len(), 1);
    let cursor = first["cursor"].as_i64().unwrap();
    drop(b);

    let mut sent = Vec::new();
    for i in 0..100 {
        sent.push(
            app.send_text(&ana, chat, &format!("while away {i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut b = WsClient::connect(&app, &bo.token).await;
    let (mut got, mut since) = (Vec::new(), cursor);
    loop {
        let page = b
            .request(json!({"type": "sync", "since": since, "limit": 30}))
            .await;
        assert_eq!(page["type"], "sync-result", "{page}");
        got.extend(
            page["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap()),
        );
        since = page["cursor"].as_i64().unwrap();
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(got, sent, "all 100, in order, none twice");
    let page = b.request(json!({"type": "sync", "since": since})).await;
    assert_eq!(page["messages"], json!([]));

    // Edits, deletions and receipts after the cursor come back too.
    app.put(
        &format!("/api/messages/{}", sent[0]),
        &ana.token,
        json!({"content": "edited"}),
    )
    .await;
    app.put(
        &format!("/api/chats/{chat}/read"),
        &bo.token,
        json!({"message_id": sent[99]}),
    )
    .await;
    let page = b.request(json!({"type": "sync", "since": since})).await;
    assert_eq!(page["messages"][0]["content"], "edited");
    assert_eq!(
        page["receipts"].as_array().unwrap().len(),
        2,
        "delivered and read cursors: {page}"
    );
}

#[actix_web::test]
async fn malformed_frames_get_error_frames_and_the_socket_stays_usable() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let eve = app.signup(&phone(3), "Eve").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut ws = WsClient::connect(&app, &ana.token).await;

    ws.send_raw(Message::text("{not json")).await;
    assert_eq!(ws.next_of("error").await["code"], "invalid_json");
    ws.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(ws.next_of("error").await["code"], "unsupported_frame");
    ws.send_raw(Message::text("x".repeat(70_000))).await;
    assert_eq!(ws.next_of("error").await["code"], "frame_too_large");

    let cases = [
        (json!({"type": "dance"}), "unknown_type", None),
        (json!({"no": "type"}), "validation_failed", Some("type")),
        (
            json!({"type": "send-message", "chat_id": chat, "content": "hi"}),
            "validation_failed",
            Some("client_msg_id"),
        ),
        (
            json!({"type": "send-message", "chat_id": "one", "content": "hi", "client_msg_id": "x"}),
            "validation_failed",
            Some("chat_id"),
        ),
        (
            json!({"type": "send-message", "chat_id": chat, "content": "", "client_msg_id": "x"}),
            "validation_failed",
            Some("content"),
        ),
        (
            json!({"type": "send-message", "chat_id": chat, "content": 5, "client_msg_id": "x"}),
            "validation_failed",
            Some("content"),
        ),
        (
            json!({"type": "read", "chat_id": chat, "message_id": 999999}),
            "not_found",
            None,
        ),
        (
            json!({"type": "typing", "chat_id": chat}),
            "validation_failed",
            Some("is_typing"),
        ),
        (
            json!({"type": "read", "chat_id": chat, "message_id": "1"}),
            "validation_failed",
            Some("message_id"),
        ),
        (
            json!({"type": "delivered", "message_ids": []}),
            "validation_failed",
            Some("message_ids"),
        ),
        (
            json!({"type": "sync", "since": -1}),
            "validation_failed",
            Some("since"),
        ),
        (
            json!({"type": "send-message", "chat_id": 999999, "content": "hi", "client_msg_id": "x"}),
            "not_found",
            None,
        ),
        (
            json!({"type": "typing", "chat_id": 999999, "is_typing": true}),
            "not_found",
            None,
        ),
    ];
    for (frame, code, field) in cases {
        let answer = ws.request(frame.clone()).await;
        assert_eq!(
            (answer["type"].as_str(), answer["code"].as_str()),
            (Some("error"), Some(code)),
            "{frame}: {answer}"
        );
        assert_eq!(answer["field"].as_str(), field, "{frame}");
    }
    // A chat Eve is not in is "not found" for her, whatever she sends.
    let mut eve_ws = WsClient::connect(&app, &eve.token).await;
    let answer = eve_ws.send_text(chat, "let me in", "e-1").await;
    assert_eq!(answer["code"], "not_found");
    let answer = eve_ws
        .request(json!({"type": "read", "chat_id": chat, "message_id": 1}))
        .await;
    assert_eq!(answer["code"], "not_found");

    let pong = ws.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");
    let ack = ws.send_text(chat, "still here", "ok-1").await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(
        app.history(&ana, chat).await.len(),
        1,
        "only the valid message was stored"
    );
}

#[actix_web::test]
async fn the_upgrade_needs_a_valid_token() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let url = format!("{}/ws", app.address.replace("http://", "ws://"));
    for target in [
        url.clone(),
        format!("{url}?token=garbage"),
        format!("{url}?token={}", ana.refresh),
    ] {
        match tokio_tungstenite::connect_async(target.as_str()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                assert_eq!(res.status(), 401, "{target}");
                let body: Value =
                    serde_json::from_slice(res.body().as_deref().unwrap_or_default()).unwrap();
                assert_eq!(body["error"]["code"], "unauthorized");
            }
            other => panic!("{target}: expected a 401, got {:?}", other.map(|_| ())),
        }
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?token={}", ana.token))
        .await
        .expect("query token works");
    use futures_util::StreamExt;
    let hello = ws.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("\"hello\""));
}

#[actix_web::test]
async fn typing_reaches_the_other_member_and_stops_by_itself() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut a = WsClient::connect(&app, &ana.token).await;
    let mut b = WsClient::connect(&app, &bo.token).await;
    let ack = a
        .request(json!({"type": "typing", "chat_id": chat, "is_typing": true}))
        .await;
    assert_eq!(ack["type"], "ack");
    let t = b.next_of("user-typing").await;
    assert_eq!(t["channel"], format!("presence-chat.{chat}"));
    assert_eq!(
        (
            t["data"]["user"]["name"].as_str(),
            t["data"]["is_typing"].as_bool()
        ),
        (Some("Ana"), Some(true))
    );
    // No refresh for the typing timeout: it stops on its own.
    app.advance(6);
    let t = b.next_of("user-typing").await;
    assert_eq!(
        (
            t["data"]["user"]["id"].as_i64(),
            t["data"]["is_typing"].as_bool()
        ),
        (Some(ana.id), Some(false))
    );
    // Typing again then sending a message clears it too. (The typist was announced a moment
    // ago: the next announcement waits for the end of `realtime.typing_interval_secs`.)
    a.request(json!({"type": "typing", "chat_id": chat, "is_typing": true}))
        .await;
    app.advance(3);
    assert_eq!(b.next_of("user-typing").await["data"]["is_typing"], true);
    a.send_text(chat, "done typing", "t-1").await;
    assert_eq!(b.next_of("user-typing").await["data"]["is_typing"], false);
}

#[actix_web::test]
async fn presence_reaches_those_watching_as_privacy_allows() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    app.private_chat(&ana, &bo).await;
    let mut b = WsClient::connect(&app, &bo.token).await;
    // Bo opens his chat with Ana: he watches her presence and learns it at once.
    let ack = b.watch(&[ana.id]).await;
    assert_eq!(ack["presence"][0]["user_id"], ana.id);
    assert_eq!(ack["presence"][0]["is_online"], false);
    let a = WsClient::connect(&app, &ana.token).await;
    let online = b.next_of("user-status-updated").await;
    assert_eq!(online["channel"], format!("private-user.{}", bo.id));
    assert_eq!(
        (
            online["data"]["contact_id"].as_i64(),
            online["data"]["is_online"].as_bool()
        ),
        (Some(ana.id), Some(true))
    );
    assert_eq!(b.watch(&[ana.id]).await["presence"][0]["is_online"], true);
    drop(a);
    let offline = b.next_of("user-status-updated").await;
    assert_eq!(offline["data"]["is_online"], false);
    assert!(offline["data"]["last_seen_at"].as_str().is_some());
    let r = app.get(&format!("/api/users/{}", ana.id), &bo.token).await;
    assert_eq!(r.body["is_online"], false);
    assert!(r.body["last_seen_at"].as_str().is_some());

    // With last seen hidden from everyone, Bo is told nothing, and asking shows nothing.
    app.put(
        "/api/user/privacy",
        &ana.token,
        json!({"last_seen": "nobody"}),
    )
    .await;
    let hidden = b.watch(&[ana.id]).await;
    assert_eq!(
        (
            &hidden["presence"][0]["is_online"],
            &hidden["presence"][0]["last_seen_at"]
        ),
        (&json!(false), &Value::Null)
    );
    let a = WsClient::connect(&app, &ana.token).await;
    drop(a);
    // Ana's reconnect and disconnect are announced (or not) before Bo's next presence event:
    // Cy's, whom he watches too. Nothing of Ana's may come before it.
    b.watch(&[cy.id]).await;
    let _c = WsClient::connect(&app, &cy.token).await;
    let next = b.next_of("user-status-updated").await;
    assert_eq!(next["data"]["contact_id"], cy.id, "{next}");

    // Once he stops watching, Bo hears nothing more of Cy.
    let ack = b
        .request(json!({"type": "presence-unsubscribe", "user_ids": [cy.id]}))
        .await;
    assert_eq!(ack["type"], "ack");
    drop(_c);
    app.put(
        "/api/user/privacy",
        &ana.token,
        json!({"last_seen": "everyone"}),
    )
    .await;
    let _a = WsClient::connect(&app, &ana.token).await;
    let next = b.next_of("user-status-updated").await;
    assert_eq!(next["data"]["contact_id"], ana.id, "{next}");
}

/// Connecting every member of a big group announces nothing to anyone who does not watch:
/// presence costs what is looked at, not the square of the group.
#[actix_web::test]
async fn a_group_connecting_tells_only_those_who_watch() {
    let app = spawn_app().await;
    let admin = app.signup(&phone(1), "Admin").await;
    let mut members = Vec::new();
    for n in 2..22 {
        let m = app.signup(&phone(n), &format!("M{n}")).await;
        app.open_to_groups(&m).await;
        members.push(m);
    }
    let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
    let r = app
        .post(
            "/api/groups",
            Some(&admin.token),
            json!({"name": "Big", "participants": ids}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut watcher = WsClient::connect(&app, &admin.token).await;
    watcher.watch(&[members[0].id]).await;
    let mut sockets = Vec::new();
    for m in &members {
        sockets.push(WsClient::connect(&app, &m.token).await);
    }
    // The admin hears of the one member he watches, and of nobody else.
    let first = watcher.next_of("user-status-updated").await;
    assert_eq!(first["data"]["contact_id"], members[0].id);
    watcher
        .send_json(json!({"type": "ping", "ref": "end"}))
        .await;
    let rest = watcher.collect_until(|f| f["ref"] == "end").await;
    assert!(
        rest.iter().all(|f| f["type"] != "user-status-updated"),
        "{rest:?}"
    );
    // And the members, who watch nobody, hear of nobody.
    for ws in sockets.iter_mut() {
        ws.send_json(json!({"type": "ping", "ref": "end"})).await;
        let frames = ws.collect_until(|f| f["ref"] == "end").await;
        assert!(
            frames.iter().all(|f| f["type"] != "user-status-updated"),
            "{frames:?}"
        );
    }
}

#[actix_web::test]
async fn presence_frames_are_checked() {
    let app = spawn_app_with(|s| s.realtime.max_presence_watch = 3).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let mut ws = WsClient::connect(&app, &ana.token).await;
    for (frame, field) in [
        (json!({"type": "presence-subscribe"}), "user_ids"),
        (
            json!({"type": "presence-subscribe", "user_ids": []}),
            "user_ids",
        ),
        (
            json!({"type": "presence-subscribe", "user_ids": ["x"]}),
            "user_ids[0]",
        ),
        (
            json!({"type": "presence-subscribe", "user_ids": (0..101).collect::<Vec<i64>>()}),
            "user_ids",
        ),
        (
            json!({"type": "presence-unsubscribe", "user_ids": 5}),
            "user_ids",
        ),
    ] {
        let answer = ws.request(frame.clone()).await;
        assert_eq!(
            (answer["code"].as_str(), answer["field"].as_str()),
            (Some("validation_failed"), Some(field)),
            "{frame}: {answer}"
        );
    }
    // Unknown ids are watched but show nothing; a fourth user is one too many.
    let ack = ws.watch(&[1, 2, 3]).await;
    assert_eq!(ack["presence"], json!([]));
    let answer = ws
        .request(json!({"type": "presence-subscribe", "user_ids": [4]}))
        .await;
    assert_eq!(answer["code"], "validation_failed", "{answer}");
    // Unsubscribing from everything makes room again.
    ws.request(json!({"type": "presence-unsubscribe"})).await;
    assert_eq!(ws.watch(&[4]).await["type"], "ack");
}

#[actix_web::test]
async fn logging_out_closes_that_sessions_sockets() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let other_device = app.signup(&phone(1), "Ana").await;
    let mut ws = WsClient::connect(&app, &ana.token).await;
    let mut other = WsClient::connect(&app, &other_device.token).await;
    app.request(
        reqwest::Method::POST,
        "/api/auth/logout",
        Some(&ana.token),
        None,
    )
    .await;
    assert_eq!(ws.closed().await, 4001);
    assert_eq!(
        other.request(json!({"type": "ping"})).await["type"],
        "pong",
        "the other device stays"
    );
}

#[actix_web::test]
async fn a_silent_client_is_disconnected_after_the_timeout() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let mut ws = WsClient::connect(&app, &ana.token).await;
    app.advance(61);
    assert_eq!(ws.closed().await, 4000);
}

#[actix_web::test]
async fn edits_deletions_and_reactions_reach_the_other_member() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut b = WsClient::connect(&app, &bo.token).await;
    let mid = app.send_text(&ana, chat, "first").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(b.next_of("new-message").await["data"]["message"]["id"], mid);

    app.put(
        &format!("/api/messages/{mid}"),
        &ana.token,
        json!({"content": "first!"}),
    )
    .await;
    let e = b.next_of("message-updated").await;
    assert_eq!(
        (
            e["data"]["message_id"].as_i64(),
            e["data"]["content"].as_str()
        ),
        (Some(mid), Some("first!"))
    );
    assert!(e["data"]["edited_at"].as_str().is_some());
    app.post(
        &format!("/api/messages/{mid}/reactions"),
        Some(&ana.token),
        json!({"emoji": "🎉"}),
    )
    .await;
    let e = b.next_of("reaction-updated").await;
    assert_eq!(
        e["data"],
        json!({"chat_id": chat, "message_id": mid, "emoji": "🎉", "count": 1, "action": "added", "user": {"id": ana.id, "name": "Ana"}})
    );
    app.delete(&format!("/api/messages/{mid}"), &ana.token)
        .await;
    let e = b.next_of("message-deleted").await;
    assert_eq!(
        (
            e["data"]["message_id"].as_i64(),
            e["data"]["for_everyone"].as_bool()
        ),
        (Some(mid), Some(true))
    );

    // Delete-for-me goes to the user's own devices only.
    let mid2 = app.send_text(&ana, chat, "second").await["id"]
        .as_i64()
        .unwrap();
    let mut b2 = WsClient::connect(&app, &bo.token).await;
    app.delete(&format!("/api/messages/{mid2}?for=me"), &bo.token)
        .await;
    let e = b2.next_of("message-deleted").await;
    assert_eq!(
        (
            e["data"]["message_id"].as_i64(),
            e["data"]["for_everyone"].as_bool()
        ),
        (Some(mid2), Some(false))
    );
    let ids: HashSet<i64> = app
        .history(&bo, chat)
        .await
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(!ids.contains(&mid2));
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_disconnected_not_buffered() {
    let app = spawn_app_with(|s| {
        s.realtime.outbound_queue = 16;
        s.limits.messages_per_minute = 100_000;
    })
    .await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut slow = WsClient::connect_small_buffer(&app, &bo.token).await;
    let mut a = WsClient::connect(&app, &ana.token).await;
    let text = "y".repeat(4096);
    // Bo's socket is not read while Ana sends: sooner or later his queue overflows.
    let mut sent = 0;
    loop {
        for i in sent..sent + 10 {
            a.send_json(json!({"type": "send-message", "chat_id": chat, "content": text, "client_msg_id": format!("s{i}"), "ref": i}))
                .await;
        }
        for i in sent..sent + 10 {
            assert_eq!(a.answer_to_number(i).await["type"], "ack");
        }
        sent += 10;
        if app.live_sockets().await == 1 {
            break;
        }
        assert!(sent < 5_000, "the slow client was never disconnected");
    }
    assert_eq!(slow.closed().await, 4008);
}

/// Someone probing the next chat id (a typing frame for a chat that does not exist yet) does
/// not make that chat unusable once it is created.
#[actix_web::test]
async fn probing_a_future_chat_id_does_not_break_the_chat() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let eve = app.signup(&phone(4), "Eve").await;
    let first = app.private_chat(&ana, &bo).await;
    let mut probe = WsClient::connect(&app, &eve.token).await;
    for chat_id in [first, first + 1, first + 2] {
        let answer = probe
            .request(json!({"type": "typing", "chat_id": chat_id, "is_typing": true}))
            .await;
        assert_eq!(answer["code"], "not_found", "{answer}");
    }
    let next = app.private_chat(&ana, &cy).await;
    assert_eq!(next, first + 1, "the probed id");
    let sent = app.send_text(&ana, next, "hello").await;
    assert_eq!(sent["content"], "hello");
    app.open_to_groups(&bo).await;
    let group = app
        .post(
            "/api/groups",
            Some(&ana.token),
            json!({"name": "Team", "participants": [bo.id]}),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    let group = group.body["group"]["id"].as_i64().unwrap();
    assert_eq!(group, first + 2, "the probed id");
    assert_eq!(
        app.send_text(&bo, group, "hi all").await["content"],
        "hi all"
    );
}
