//! Who is pushed and when: not a device with a live socket, not a muted chat, not from a
//! blocked sender; one notification per chat; calls urgent and short-lived; dead tokens
//! forgotten, failures retried with backoff, pending pushes kept across a restart; bad
//! registrations refused.

use reqwest::Method;
use serde_json::json;

use super::PushRig;
use crate::helpers::phone;
use crate::ws::WsClient;

#[actix_web::test]
async fn muted_blocked_and_connected_devices_get_nothing_and_a_chat_collapses() {
    let rig = PushRig::start(false).await;
    let app = &rig.app;
    let ana = app.signup(&phone(1), "Ana").await;
    app.open_to_groups(&ana).await;
    let bo = rig.user_on(2, "Bo", "fcm", "fcm-bo").await;
    let cy = rig.user_on(3, "Cy", "webhook", "cy-1").await;
    let ab = app.private_chat(&ana, &bo).await;

    // Three messages in one chat: one notification, for the newest.
    let mut last = 0;
    for text in ["one", "two", "three"] {
        last = app.send_text(&ana, ab, text).await["id"].as_i64().unwrap();
    }
    let round = rig.dispatch().await;
    assert_eq!((round.sent, round.skipped), (1, 2));
    let pushes = rig.fcm.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(
        pushes[0].json()["message"]["data"]["message_id"],
        last.to_string()
    );

    // Bo mutes the chat: nothing is queued.
    let r = app
        .put(
            &format!("/api/chats/{ab}/settings"),
            &bo.token,
            json!({"muted_until": "9999-12-31T23:59:59Z"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.send_text(&ana, ab, "muted").await;
    assert_eq!(rig.pending().await, 0);

    // In a group, Cy blocked Ana: Ana's messages wake nobody there; Bo's still do.
    let r = app
        .post(
            "/api/groups",
            Some(&ana.token),
            json!({"name": "G", "participants": [bo.id, cy.id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let group = r.body["group"]["id"].as_i64().unwrap();
    assert_eq!(
        rig.dispatch().await.sent,
        2,
        "Bo and Cy were added to a group"
    );
    assert_eq!(rig.webhook.pushes()[0].json()["type"], "group_added");
    let r = app
        .request(
            Method::PUT,
            &format!("/api/contacts/{}/block", ana.id),
            Some(&cy.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.send_text(&ana, group, "from Ana").await;
    assert_eq!(rig.dispatch().await.sent, 1, "Bo only");
    assert_eq!(rig.webhook.pushes().len(), 1);
    app.send_text(&bo, group, "from Bo").await;
    assert_eq!(rig.dispatch().await.sent, 1, "Cy");
    let hook = rig.webhook.pushes();
    assert_eq!(hook.len(), 2);
    assert_eq!(hook[1].json()["type"], "message");

    // A device with its socket open got the message there: no push.
    let _socket = WsClient::connect(app, &cy.token).await;
    app.send_text(&bo, group, "Cy is online").await;
    let round = rig.dispatch().await;
    assert_eq!(
        (round.sent, round.skipped),
        (0, 1),
        "Bo sent it; Cy has a socket"
    );
    assert_eq!(rig.webhook.pushes().len(), 2);
}

#[actix_web::test]
async fn a_call_push_is_urgent_and_expires_with_the_ring_and_a_missed_call_follows() {
    let rig = PushRig::start(false).await;
    let app = &rig.app;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = rig.user_on(2, "Bo", "fcm", "fcm-bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut a = WsClient::connect(app, &ana.token).await;
    let r = app
        .post(
            "/api/calls",
            Some(&ana.token),
            json!({"chat_id": chat, "call_type": "video"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let call = r.body["call"]["id"].as_i64().unwrap();
    assert_eq!(rig.dispatch().await.sent, 1);
    let m = &rig.fcm.pushes()[0].json()["message"];
    assert_eq!(m["data"]["type"], "call");
    assert_eq!(m["data"]["call_id"], call.to_string());
    assert_eq!(m["android"]["priority"], "high");
    let ttl: i64 = m["android"]["ttl"]
        .as_str()
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!((1..=45).contains(&ttl), "expires with the ring: {ttl}");

    app.advance(45);
    a.next_of("call-missed").await;
    assert_eq!(rig.dispatch().await.sent, 1);
    let m = &rig.fcm.pushes()[1].json()["message"];
    assert_eq!(m["data"]["type"], "missed_call");
    assert_eq!(m["android"]["priority"], "normal");
}

#[actix_web::test]
async fn dead_tokens_are_forgotten_and_failures_retried_with_backoff() {
    let rig = PushRig::start(false).await;
    let app = &rig.app;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = rig.user_on(2, "Bo", "fcm", "fcm-bo").await;
    let cy = rig.user_on(3, "Cy", "webhook", "cy-1").await;
    let to_bo = app.private_chat(&ana, &bo).await;
    let to_cy = app.private_chat(&ana, &cy).await;

    // FCM calls Bo's token unregistered: Bo's target goes.
    rig.fcm.answer(
        404,
        r#"{"error":{"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#,
    );
    app.send_text(&ana, to_bo, "hi").await;
    assert_eq!(rig.dispatch().await.dropped, 1);
    let r = app.get("/api/devices", &bo.token).await;
    assert_eq!(r.body["device"], serde_json::Value::Null, "{:?}", r.body);
    app.send_text(&ana, to_bo, "again").await;
    assert_eq!(
        rig.pending().await,
        0,
        "nothing queued for a forgotten device"
    );

    // The webhook fails twice: tried again after 5 s, then 10 s, then it goes through.
    rig.webhook.answer(500, "down");
    rig.webhook.answer(503, "down");
    app.send_text(&ana, to_cy, "hello").await;
    assert_eq!(rig.dispatch().await.failed, 1);
    assert_eq!(
        rig.dispatch().await,
        courier::push::Round::default(),
        "not due yet"
    );
    app.advance(5);
    assert_eq!(rig.dispatch().await.failed, 1);
    app.advance(5);
    assert_eq!(
        rig.dispatch().await,
        courier::push::Round::default(),
        "the wait doubled"
    );
    app.advance(5);
    assert_eq!(rig.dispatch().await.sent, 1);
    assert_eq!(rig.webhook.pushes().len(), 3);
    let metrics = app.engine.metrics.render();
    assert!(
        metrics.contains("courier_pushes_total{platform=\"webhook\",outcome=\"failed\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("courier_pushes_total{platform=\"fcm\",outcome=\"dropped\"} 1"),
        "{metrics}"
    );

    // A provider that never recovers: dropped after push.max_attempts (8) tries.
    for _ in 0..8 {
        rig.webhook.answer(500, "down");
    }
    app.send_text(&ana, to_cy, "lost").await;
    let mut dropped = 0;
    for _ in 0..8 {
        app.advance(3600);
        dropped += rig.dispatch().await.dropped;
    }
    assert_eq!((dropped, rig.pending().await), (1, 0));
}

#[actix_web::test]
async fn pushes_pending_at_a_restart_are_each_delivered_once() {
    let rig = PushRig::start(false).await;
    let ana = rig.app.signup(&phone(1), "Ana").await;
    let bo = rig.user_on(2, "Bo", "webhook", "bo-1").await;
    let cy = rig.user_on(3, "Cy", "webhook", "cy-1").await;
    for user in [&bo, &cy] {
        let chat = rig.app.private_chat(&ana, user).await;
        rig.app.send_text(&ana, chat, "before the restart").await;
    }
    assert_eq!(rig.pending().await, 2);
    let super::PushRig { app, webhook, .. } = rig;
    let app = app.restart().await;
    assert_eq!(app.push.round().await.unwrap().sent, 2);
    assert_eq!(
        app.push.round().await.unwrap(),
        courier::push::Round::default()
    );
    let targets: Vec<String> = webhook
        .pushes()
        .iter()
        .map(|p| p.json()["target"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(targets, ["bo-1", "cy-1"]);
}

#[actix_web::test]
async fn registrations_refuse_bad_input_and_sign_out_removes_the_device() {
    let rig = PushRig::start(false).await;
    let app = &rig.app;
    let bo = app.signup(&phone(2), "Bo").await;
    let r = app.get("/api/devices", &bo.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["platforms"],
        json!(["fcm", "apns", "webpush", "webhook"])
    );
    assert_eq!(r.body["device"], serde_json::Value::Null);
    let good = super::providers::Browser::new(&rig.webpush, "x").subscription();
    let mut bad_keys = good.clone();
    bad_keys["keys"]["p256dh"] = json!("AAAA");
    let mut no_service = good.clone();
    no_service["endpoint"] = json!("file:///etc/passwd");
    for body in [
        json!({}),
        json!({"platform": "sms", "token": "x"}),
        json!({"platform": "fcm"}),
        json!({"platform": "fcm", "token": ""}),
        json!({"platform": "fcm", "token": "has spaces"}),
        json!({"platform": "fcm", "token": "x".repeat(2049)}),
        json!({"platform": "fcm", "token": 42}),
        json!({"platform": "fcm", "token": "x", "extra": 1}),
        json!({"platform": "apns", "token": "not-hex"}),
        json!({"platform": "webpush", "token": "x"}),
        json!({"platform": "webpush", "subscription": bad_keys}),
        json!({"platform": "webpush", "subscription": no_service}),
        json!({"platform": "fcm", "token": "x", "subscription": good}),
    ] {
        let r = app
            .post("/api/devices", Some(&bo.token), body.clone())
            .await;
        assert!(r.status == 400 || r.status == 422, "{body}: {:?}", r.body);
    }
    let r = app
        .post(
            "/api/devices",
            None,
            json!({"platform": "fcm", "token": "t"}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        app.get("/api/devices", &bo.token).await.body["device"],
        serde_json::Value::Null
    );

    // Registered, replaced, removed; a new one goes with the sign-out.
    for token in ["first", "second"] {
        let r = app
            .post(
                "/api/devices",
                Some(&bo.token),
                json!({"platform": "fcm", "token": token}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let r = app.get("/api/devices", &bo.token).await;
    assert_eq!(r.body["device"]["platform"], "fcm");
    let r = app.delete("/api/devices", &bo.token).await;
    assert_eq!(
        (r.status.as_u16(), r.body["removed"].as_bool()),
        (200, Some(true))
    );
    let r = app.delete("/api/devices", &bo.token).await;
    assert_eq!(r.body["removed"], false);
    let r = app
        .post(
            "/api/devices",
            Some(&bo.token),
            json!({"platform": "webhook", "token": "bo-1"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = app
        .request(Method::POST, "/api/auth/logout", Some(&bo.token), None)
        .await;
    assert_eq!(r.status, 200);
    let ana = app.signup(&phone(1), "Ana").await;
    let chat = app.private_chat(&ana, &bo).await;
    app.send_text(&ana, chat, "after sign-out").await;
    assert_eq!(rig.pending().await, 0, "a signed-out device is not woken");
}

#[actix_web::test]
async fn a_platform_the_server_is_not_configured_for_is_refused() {
    let app = crate::helpers::spawn_app().await;
    let bo = app.signup(&phone(2), "Bo").await;
    let r = app.get("/api/devices", &bo.token).await;
    assert_eq!(r.body["platforms"], json!([]));
    assert_eq!(r.body["vapid_public_key"], serde_json::Value::Null);
    let r = app
        .post(
            "/api/devices",
            Some(&bo.token),
            json!({"platform": "fcm", "token": "t"}),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.body["error"]["field"], "platform");
}
