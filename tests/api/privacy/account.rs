//! `DELETE /api/user`: confirmed with a fresh one-time code; sessions and sockets end at
//! once, the profile turns into "Deleted account" everywhere, the number signs up anew, and
//! after the window the purge leaves nothing of the account in any table or in the store.

use image::ImageFormat;
use reqwest::Method;
use serde_json::json;

use super::{privacy_app, rows_holding, rows_naming};
use crate::helpers::{phone, TestApp, TestUser, OTP};
use crate::media::{file, picture, stored_files, upload};
use crate::ws::WsClient;

async fn delete_account(app: &TestApp, user: &TestUser, otp: &str) -> crate::helpers::Resp {
    app.request(
        Method::DELETE,
        "/api/user",
        Some(&user.token),
        Some(json!({ "otp": otp })),
    )
    .await
}

async fn send_code(app: &TestApp, user: &TestUser) {
    let r = app
        .post(
            "/api/auth/send-otp",
            None,
            json!({ "phone_number": user.phone }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[actix_web::test]
async fn a_deleted_account_vanishes_at_once_and_the_purge_leaves_nothing_of_it() {
    let photo = picture(300, 300, ImageFormat::Png);
    let snap = picture(200, 200, ImageFormat::Jpeg);
    let app = privacy_app().await;
    let ana = app.signup(&phone(1), "Anastasia").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let carol = app.signup(&phone(3), "Carol").await;
    let (status, body) = upload(
        &app,
        "/api/user/avatar",
        &ana,
        file("avatar", "me.png", photo),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    app.save_contact(&ana, &bob).await;
    app.save_contact(&bob, &ana).await;

    // A private chat: Ana's text and photo, Bob's answer quoting her, his reaction.
    let private = app.private_chat(&ana, &bob).await;
    let secret = app.send_text(&ana, private, "ana-secret-one").await;
    let path = format!("/api/chats/{private}/messages");
    let form = file("file", "snap.jpg", snap.clone()).text("message_type", "image");
    let (status, body) = upload(&app, &path, &ana, form).await;
    assert_eq!(status, 201, "{body}");
    let form = file("file", "bobs.jpg", snap).text("message_type", "image");
    let (status, body) = upload(&app, &path, &bob, form).await;
    assert_eq!(status, 201, "{body}");
    let r = app
        .post(
            &path,
            Some(&bob.token),
            json!({"content": "nice", "reply_to_message_id": secret["id"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .post(
            &format!("/api/messages/{}/reactions", secret["id"]),
            Some(&bob.token),
            json!({"emoji": "👍"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // A group Ana made (she is its only admin), a status, a report she filed.
    app.open_to_groups(&bob).await;
    app.open_to_groups(&carol).await;
    let r = app
        .post(
            "/api/groups",
            Some(&ana.token),
            json!({"name": "Club", "participants": [bob.id, carol.id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let group = r.body["group"]["id"].as_i64().unwrap();
    app.send_text(&ana, group, "ana-secret-two").await;
    app.send_text(&carol, group, "hi all").await;
    let r = app
        .post(
            "/api/status",
            Some(&ana.token),
            json!({"content_type": "text", "content": "ana-secret-three"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .post(
            "/api/reports",
            Some(&bob.token),
            json!({"message_id": secret["id"], "reason": "spam"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let bobs_files = 2; // his photo and its thumbnail
    assert!(stored_files(&app) > bobs_files);

    let mut socket = WsClient::connect(&app, &ana.token).await;
    send_code(&app, &ana).await;
    let r = delete_account(&app, &ana, OTP).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success"], true);
    assert!(r.body["purge_by"].as_str().is_some(), "{:?}", r.body);

    // At once: the socket closes, the tokens stop working, the code is spent.
    assert_eq!(socket.closed().await, 4001);
    assert_eq!(app.get("/api/user/profile", &ana.token).await.status, 401);
    match WsClient::try_connect(&app, &ana.token).await {
        Err((status, _)) => assert_eq!(status, 401),
        Ok(_) => panic!("a deleted account's token opened a socket"),
    }
    let r = app
        .post("/api/auth/refresh", Some(&ana.refresh), json!({}))
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);

    // Others see "Deleted account" where she was, and can no longer find her.
    let r = app.get("/api/chats", &bob.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let chat = r.body["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == private)
        .unwrap()
        .clone();
    assert_eq!(chat["participant"]["name"], "Deleted account", "{chat}");
    assert_eq!(chat["participant"]["avatar_url"], serde_json::Value::Null);
    let r = app.get(&format!("/api/groups/{group}"), &carol.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let members = r.body["participants"].as_array().unwrap();
    let gone = members.iter().find(|m| m["id"] == ana.id).unwrap();
    assert_eq!(gone["name"], "Deleted account");
    assert!(
        members
            .iter()
            .any(|m| m["id"] != ana.id && m["role"] == "admin"),
        "another member took over the group: {members:?}"
    );
    assert_eq!(
        app.get(&format!("/api/users/{}", ana.id), &bob.token)
            .await
            .status,
        404
    );
    let r = app.get("/api/contacts", &bob.token).await;
    assert!(
        r.body["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != ana.id),
        "{:?}",
        r.body
    );
    let r = app
        .post(
            "/api/contacts",
            Some(&carol.token),
            json!({"phone_number": ana.phone, "contact_name": "Ana"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "user_not_found"));
    let r = app
        .post(
            "/api/chats/private",
            Some(&carol.token),
            json!({"contact_id": ana.id}),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(rows_holding(&app, "Anastasia").await, 0);
    // The group keeps working for everyone else.
    app.send_text(&carol, group, "still here").await;

    // The number signs up again, as a new account.
    let again = app.signup(&ana.phone, "Ana again").await;
    assert_ne!(again.id, ana.id);

    // The purge waits for the window (30 days), then removes everything of the account.
    app.advance(30 * 86400 - 60);
    let p = app.engine.purge_privacy().await.unwrap();
    assert_eq!(p.accounts, 0);
    assert!(!rows_naming(&app, ana.id).await.is_empty());
    app.advance(120);
    let p = app.engine.purge_privacy().await.unwrap();
    assert_eq!(p.accounts, 1, "{p:?}");
    app.engine.purge_auth().await.unwrap();
    assert_eq!(rows_naming(&app, ana.id).await, vec![]);
    assert_eq!(rows_holding(&app, "ana-secret").await, 0);
    assert_eq!(
        stored_files(&app),
        bobs_files,
        "only Bob's photo is left in the store"
    );

    // Bob's side of the private chat, and the group, still work.
    let history = app.history(&bob, private).await;
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history.iter().all(|m| m["sender_id"] == bob.id));
    let r = app.get("/api/chats", &bob.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let history = app.history(&carol, group).await;
    assert!(
        history.iter().all(|m| m["sender_id"] != ana.id),
        "{history:?}"
    );
    app.send_text(&bob, group, "after the purge").await;
    assert_eq!(app.get("/api/user/profile", &again.token).await.status, 200);
}

#[actix_web::test]
async fn account_deletion_refuses_bad_input_and_wrong_codes_without_writing() {
    let app = privacy_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let r = app
        .request(Method::DELETE, "/api/user", None, Some(json!({"otp": OTP})))
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    for body in [
        Some(json!({})),
        Some(json!({"otp": 123456})),
        Some(json!({"otp": null})),
        Some(json!({"otp": "12ab56"})),
        Some(json!({"otp": "1234567"})),
        Some(json!(["otp"])),
        None,
    ] {
        let r = app
            .request(Method::DELETE, "/api/user", Some(&ana.token), body.clone())
            .await;
        assert!(r.status.is_client_error(), "{body:?}: {:?}", r.body);
        assert_eq!(r.body["success"], false, "{body:?}: {:?}", r.body);
        assert!(!r.code().is_empty(), "{:?}", r.body);
    }
    let r = app
        .raw(
            Method::DELETE,
            "/api/user",
            Some(&ana.token),
            "application/json",
            b"{otp".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // No code pending (the sign-in used it).
    let r = delete_account(&app, &ana, OTP).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "otp_invalid"));
    // A wrong code, then an expired one, then one burned by wrong tries.
    send_code(&app, &ana).await;
    let r = delete_account(&app, &ana, "000000").await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "otp_invalid"));
    app.advance(app.settings.auth.otp_ttl_secs + 1);
    let r = delete_account(&app, &ana, OTP).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "otp_expired"));
    send_code(&app, &ana).await;
    let mut last = None;
    for _ in 0..app.settings.auth.otp_max_attempts {
        last = Some(delete_account(&app, &ana, "000000").await);
    }
    let r = last.unwrap();
    assert_eq!((r.status.as_u16(), r.code()), (400, "otp_locked"));
    let r = delete_account(&app, &ana, OTP).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "otp_invalid"));
    // Nothing happened to the account.
    let r = app.get("/api/user/profile", &ana.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["name"], "Ana");
    assert_eq!(app.engine.purge_privacy().await.unwrap().accounts, 0);
}
