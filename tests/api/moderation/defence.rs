//! Automatic defence: the content filter (refuse or flag), and automatic suspension of a user
//! reported by too many people or writing to too many strangers, within windows driven by the
//! manual clock.

use std::io::Write;

use courier::config::FilterActionSetting;
use serde_json::json;

use super::{admin_user, all_reports, audit, group, mod_app, report};
use crate::helpers::{phone, TestApp, TestUser};
use crate::ws::WsClient;

fn patterns() -> Vec<String> {
    vec!["casino".into(), r"fr[e3]{2}\s+money".into()]
}

#[actix_web::test]
async fn blocked_content_is_refused_over_rest_and_websocket_and_nothing_is_stored() {
    let app = mod_app(|s| s.moderation.blocked_patterns = patterns()).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let chat = app.private_chat(&ana, &bob).await;
    for text in ["Best CASINO in town", "get FR33  money now"] {
        let r = app
            .post(
                &format!("/api/chats/{chat}/messages"),
                Some(&ana.token),
                json!({"content": text}),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "content_blocked"),
            "{text}"
        );
    }
    let mut ws = WsClient::connect(&app, &ana.token).await;
    let answer = ws.send_text(chat, "casino night", "c1").await;
    assert_eq!(
        (answer["type"].as_str(), answer["code"].as_str()),
        (Some("error"), Some("content_blocked")),
        "{answer}"
    );
    assert!(app.history(&bob, chat).await.is_empty());
    // A word matches as a whole word only.
    app.send_text(&ana, chat, "the casinos of Macau").await;
    assert_eq!(app.history(&bob, chat).await.len(), 1);
    assert!(all_reports(&app, &admin).await.is_empty());
}

#[actix_web::test]
async fn flagged_content_is_delivered_and_reported_by_the_system() {
    let app = mod_app(|s| {
        s.moderation.blocked_patterns = patterns();
        s.moderation.filter_action = FilterActionSetting::Flag;
    })
    .await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let chat = app.private_chat(&ana, &bob).await;
    let mut ws = WsClient::connect(&app, &bob.token).await;
    let m = app.send_text(&ana, chat, "casino tonight").await;
    assert_eq!(
        ws.next_of("new-message").await["data"]["message"]["id"],
        m["id"]
    );
    // Reported in the transaction that stored it: there as soon as the message is.
    let reports = all_reports(&app, &admin).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert_eq!(
        (r["reason"].as_str(), r["reporter_id"].is_null()),
        (Some("content_filter"), true)
    );
    assert_eq!(r["target"], json!({"type": "message", "id": m["id"]}));
    assert_eq!(r["message"]["content"], "casino tonight");
    assert_eq!(r["reported_user_id"], ana.id);
}

#[actix_web::test]
async fn an_invalid_pattern_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "[moderation]\nblocked_patterns = [\"(unclosed\"]").unwrap();
    let err = courier::Settings::load_from(Some(&path), Default::default()).unwrap_err();
    assert!(err.0.contains("moderation.blocked_patterns"), "{err}");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "[moderation]\nadmins = [\"12345\"]").unwrap();
    let err = courier::Settings::load_from(Some(&path), Default::default()).unwrap_err();
    assert!(err.0.contains("moderation.admins"), "{err}");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "[moderation]\nfilter_action = \"shout\"").unwrap();
    assert!(courier::Settings::load_from(Some(&path), Default::default()).is_err());
}

async fn users(app: &TestApp, from: u32, n: u32) -> Vec<TestUser> {
    let mut out = Vec::new();
    for i in from..from + n {
        out.push(app.signup(&phone(i), &format!("U{i}")).await);
    }
    out
}

/// Signs an existing account in again; answers the status and error code.
async fn sign_in(app: &TestApp, who: &TestUser) -> (u16, String) {
    app.post(
        "/api/auth/send-otp",
        None,
        json!({ "phone_number": who.phone }),
    )
    .await;
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({ "phone_number": who.phone, "otp": crate::helpers::OTP }),
        )
        .await;
    (r.status.as_u16(), r.code().to_string())
}

#[actix_web::test]
async fn a_user_reported_by_enough_distinct_users_within_the_window_is_suspended() {
    let app = mod_app(|s| {
        s.moderation.auto_suspend_reports = 3;
        s.moderation.auto_suspend_reports_window_secs = 3600;
    })
    .await;
    let admin = admin_user(&app).await;
    let spammer = app.signup(&phone(1), "Spam").await;
    let r = users(&app, 10, 4).await;
    let refs: Vec<&TestUser> = r.iter().collect();
    let g = group(&app, &spammer, &refs).await;
    let m = app.send_text(&spammer, g, "buy buy buy").await;
    let mut ws = WsClient::connect(&app, &spammer.token).await;

    // The same reporter twice (message and user) counts once.
    report(
        &app,
        &r[0],
        json!({"message_id": m["id"], "reason": "spam"}),
    )
    .await;
    report(
        &app,
        &r[0],
        json!({"user_id": spammer.id, "reason": "spam"}),
    )
    .await;
    report(
        &app,
        &r[1],
        json!({"user_id": spammer.id, "reason": "spam"}),
    )
    .await;
    // The first two leave the window; two within it are not enough.
    app.advance(3601);
    report(
        &app,
        &r[2],
        json!({"user_id": spammer.id, "reason": "spam"}),
    )
    .await;
    assert_eq!(sign_in(&app, &spammer).await.0, 200);
    let third = report(
        &app,
        &r[3],
        json!({"message_id": m["id"], "reason": "spam"}),
    )
    .await;
    assert_eq!(third.status, 201);
    // Still two distinct reporters in the window: r[2] and r[3].
    assert_eq!(sign_in(&app, &spammer).await.0, 200);
    app.advance(60);
    let fourth = report(
        &app,
        &r[1],
        json!({"message_id": m["id"], "reason": "spam"}),
    )
    .await;
    assert_eq!(fourth.status, 201, "{:?}", fourth.body);
    assert_eq!(ws.closed().await, 4001);
    assert_eq!(
        sign_in(&app, &spammer).await,
        (403, "account_suspended".to_string())
    );
    let e = &audit(&app, &admin).await[0];
    assert_eq!(
        (e["action"].as_str(), e["admin_id"].is_null()),
        (Some("auto_suspend"), true)
    );
    assert_eq!(e["target"], json!({"type": "user", "id": spammer.id}));
    assert_eq!(e["note"], "reported by 3 users");
}

#[actix_web::test]
async fn a_user_writing_first_to_too_many_strangers_is_suspended() {
    let app = mod_app(|s| {
        s.moderation.auto_suspend_strangers = 3;
        s.moderation.auto_suspend_strangers_window_secs = 600;
    })
    .await;
    let admin = admin_user(&app).await;
    let spammer = app.signup(&phone(1), "Spam").await;
    let friend = app.signup(&phone(2), "Friend").await;
    let replier = app.signup(&phone(3), "Replier").await;
    let s = users(&app, 10, 5).await;
    let mut ws = WsClient::connect(&app, &spammer.token).await;

    // Someone who has the sender in their contacts, and someone who answered, are no strangers.
    app.save_contact(&friend, &spammer).await;
    let c = app.private_chat(&spammer, &friend).await;
    app.send_text(&spammer, c, "hi friend").await;
    let c = app.private_chat(&spammer, &replier).await;
    app.send_text(&spammer, c, "hi there").await;
    app.send_text(&replier, c, "hello back").await;
    // Two strangers, then the window passes.
    for u in &s[..2] {
        let c = app.private_chat(&spammer, u).await;
        app.send_text(&spammer, c, "cheap watches").await;
    }
    app.advance(601);
    for u in &s[2..4] {
        let c = app.private_chat(&spammer, u).await;
        app.send_text(&spammer, c, "cheap watches").await;
    }
    let c = app.private_chat(&spammer, &s[4]).await;
    app.send_text(&spammer, c, "cheap watches").await;
    assert_eq!(ws.closed().await, 4001);
    assert_eq!(
        sign_in(&app, &spammer).await,
        (403, "account_suspended".to_string())
    );
    let e = &audit(&app, &admin).await[0];
    assert_eq!(
        (e["action"].as_str(), e["note"].as_str()),
        (Some("auto_suspend"), Some("wrote first to 3 strangers"))
    );
}
