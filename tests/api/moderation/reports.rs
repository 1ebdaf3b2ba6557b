//! `POST /api/reports`: what may be reported by whom, what a report keeps, report and block,
//! duplicates, the rate limit, and bad input.

use reqwest::Method;
use serde_json::json;

use super::{admin_user, all_reports, group, mod_app, report};
use crate::helpers::phone;

#[actix_web::test]
async fn a_reported_message_is_kept_with_the_report_after_it_is_deleted() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let chat = app.private_chat(&bob, &ana).await;
    let m = app
        .send_text(&bob, chat, "Win a prize, send your PIN")
        .await;
    let id = m["id"].as_i64().unwrap();

    let r = report(
        &app,
        &ana,
        json!({"message_id": id, "reason": "scam", "note": "  asks for my PIN \u{200B} "}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let rep = &r.body["report"];
    assert_eq!(rep["status"], "open");
    assert_eq!(rep["reason"], "scam");
    assert_eq!(rep["note"], "asks for my PIN");
    assert_eq!(rep["target"], json!({"type": "message", "id": id}));
    assert_eq!(rep["reported_user_id"], bob.id);
    assert_eq!(rep["chat_id"], chat);
    assert_eq!(r.body["duplicate"], false);

    let del = app.delete(&format!("/api/messages/{id}"), &bob.token).await;
    assert_eq!(del.status, 200, "{:?}", del.body);
    let listed = all_reports(&app, &admin).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["message"]["content"], "Win a prize, send your PIN",
        "the copy outlives the message"
    );
    assert_eq!(listed[0]["message"]["message_type"], "text");
}

#[actix_web::test]
async fn reporting_the_same_target_twice_answers_the_first_report() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    app.private_chat(&ana, &bob).await;
    let first = report(&app, &ana, json!({"user_id": bob.id, "reason": "spam"})).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = report(&app, &ana, json!({"user_id": bob.id, "reason": "other"})).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["report"]["id"], first.body["report"]["id"]);
    assert_eq!(again.body["report"]["reason"], "spam");
    assert_eq!(all_reports(&app, &admin).await.len(), 1);
}

#[actix_web::test]
async fn report_and_block_blocks_the_user_in_the_same_request() {
    let app = mod_app(|_| {}).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let chat = app.private_chat(&bob, &ana).await;
    let m = app.send_text(&bob, chat, "hello?").await;
    let r = report(
        &app,
        &ana,
        json!({"message_id": m["id"], "reason": "harassment", "block": true}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["blocked"], true);
    let contacts = app.get("/api/contacts", &ana.token).await;
    let row = &contacts.body["contacts"][0];
    assert_eq!(
        (row["id"].as_i64(), row["is_blocked"].as_bool()),
        (Some(bob.id), Some(true))
    );
    // Bob can no longer write to Ana.
    let sent = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.token),
            json!({"content": "hello??"}),
        )
        .await;
    assert_eq!(sent.status, 403, "{:?}", sent.body);
    // Reporting again with block keeps the block (it does not toggle it off).
    let again = report(
        &app,
        &ana,
        json!({"user_id": bob.id, "reason": "harassment", "block": true}),
    )
    .await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    let contacts = app.get("/api/contacts", &ana.token).await;
    assert_eq!(contacts.body["contacts"][0]["is_blocked"], true);
}

#[actix_web::test]
async fn groups_can_be_reported_by_members_and_former_members() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let carl = app.signup(&phone(3), "Carl").await;
    let g = group(&app, &ana, &[&bob]).await;
    let left = app
        .post(
            &format!("/api/groups/{g}/leave"),
            Some(&bob.token),
            json!({}),
        )
        .await;
    assert_eq!(left.status, 200, "{:?}", left.body);
    let r = report(&app, &bob, json!({"group_id": g, "reason": "violence"})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.body["report"]["target"],
        json!({"type": "group", "id": g})
    );
    assert_eq!(r.body["report"]["reported_user_id"], json!(null));
    let outsider = report(&app, &carl, json!({"group_id": g, "reason": "violence"})).await;
    assert_eq!(outsider.status, 404, "{:?}", outsider.body);
    assert_eq!(all_reports(&app, &admin).await.len(), 1);
}

#[actix_web::test]
async fn what_the_reporter_cannot_see_is_not_found_and_nothing_is_written() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let eve = app.signup(&phone(3), "Eve").await;
    let chat = app.private_chat(&ana, &bob).await;
    let m = app.send_text(&bob, chat, "private words").await;
    let g = group(&app, &ana, &[&bob]).await;
    for body in [
        json!({"message_id": m["id"], "reason": "spam"}),
        json!({"user_id": bob.id, "reason": "spam"}),
        json!({"group_id": g, "reason": "spam"}),
        json!({"message_id": 999_999, "reason": "spam"}),
        json!({"user_id": 999_999, "reason": "spam"}),
        json!({"group_id": 999_999, "reason": "spam"}),
        json!({"group_id": chat, "reason": "spam"}),
    ] {
        let r = report(&app, &eve, body.clone()).await;
        assert_eq!(r.status, 404, "{body}: {:?}", r.body);
        assert_eq!(r.code(), "not_found");
    }
    // A contact may be reported without a shared chat.
    app.save_contact(&eve, &ana).await;
    let r = report(
        &app,
        &eve,
        json!({"user_id": ana.id, "reason": "impersonation"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(all_reports(&app, &admin).await.len(), 1);
}

#[actix_web::test]
async fn bad_reports_get_a_clear_4xx_and_nothing_is_written() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let chat = app.private_chat(&ana, &bob).await;
    let mine = app.send_text(&ana, chat, "my own").await;
    let g = group(&app, &ana, &[&bob]).await;
    let long = "x".repeat(1001);
    let cases = [
        (json!({"user_id": bob.id}), "reason"),
        (json!({"user_id": "bob", "reason": "spam"}), "user_id"),
        (json!({"user_id": bob.id, "reason": 3}), "reason"),
        (json!({"user_id": bob.id, "reason": "boring"}), "reason"),
        (
            json!({"user_id": bob.id, "reason": "spam", "note": long}),
            "note",
        ),
        (
            json!({"user_id": bob.id, "reason": "spam", "note": "a\u{7}b"}),
            "note",
        ),
        (
            json!({"user_id": bob.id, "reason": "spam", "block": "yes"}),
            "block",
        ),
        (json!({"reason": "spam"}), "message_id"),
        (
            json!({"user_id": bob.id, "group_id": g, "reason": "spam"}),
            "message_id",
        ),
        (json!({"user_id": ana.id, "reason": "spam"}), "user_id"),
        (
            json!({"message_id": mine["id"], "reason": "spam"}),
            "message_id",
        ),
        (
            json!({"group_id": g, "reason": "spam", "block": true}),
            "block",
        ),
    ];
    for (body, field) in cases {
        let r = report(&app, &ana, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{body}: {:?}", r.body);
    }
    let r = app
        .raw(
            Method::POST,
            "/api/reports",
            Some(&ana.token),
            "application/json",
            b"{\"user_id\":".to_vec(),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_json"));
    let r = app
        .raw(
            Method::POST,
            "/api/reports",
            Some(&ana.token),
            "text/plain",
            b"hi".to_vec(),
        )
        .await;
    assert_eq!(r.status, 415);
    let r = app
        .post(
            "/api/reports",
            None,
            json!({"user_id": bob.id, "reason": "spam"}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(all_reports(&app, &admin).await.is_empty());
}

#[actix_web::test]
async fn reports_are_rate_limited_per_user() {
    let app = mod_app(|s| s.moderation.reports_per_hour = 2).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let others = [
        app.signup(&phone(2), "B").await,
        app.signup(&phone(3), "C").await,
        app.signup(&phone(4), "D").await,
    ];
    for o in &others {
        app.private_chat(&ana, o).await;
    }
    for o in &others[..2] {
        let r = report(&app, &ana, json!({"user_id": o.id, "reason": "spam"})).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let r = report(
        &app,
        &ana,
        json!({"user_id": others[2].id, "reason": "spam"}),
    )
    .await;
    assert_eq!((r.status.as_u16(), r.code()), (429, "rate_limited"));
    assert!(r.headers.get("retry-after").is_some());
    app.advance(3601);
    let r = report(
        &app,
        &ana,
        json!({"user_id": others[2].id, "reason": "spam"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[actix_web::test]
async fn a_reported_file_stays_for_the_moderators_when_its_message_is_deleted() {
    use crate::media::{fetch, file, picture, upload};
    let photo = picture(64, 48, image::ImageFormat::Png);
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let chat = app.private_chat(&ana, &bob).await;
    let form = file("file", "p.png", photo).text("message_type", "image");
    let (status, body) = upload(&app, &format!("/api/chats/{chat}/messages"), &bob, form).await;
    assert_eq!(status, 201, "{body}");
    let id = body["message"]["id"].as_i64().unwrap();
    let r = report(
        &app,
        &ana,
        json!({"message_id": id, "reason": "sexual_content"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let del = app.delete(&format!("/api/messages/{id}"), &bob.token).await;
    assert_eq!(del.status, 200);
    // Not removed as an orphan either, however old it gets.
    app.advance(2 * 86400);
    app.engine.sweep_orphans().await.unwrap();
    let listed = all_reports(&app, &admin).await;
    let link = listed[0]["message"]["media_url"]
        .as_str()
        .unwrap()
        .to_string();
    let res = fetch(&app, &link).await;
    assert_eq!(res.status(), 200, "{link}");
    assert_eq!(listed[0]["message"]["message_type"], "image");
}
