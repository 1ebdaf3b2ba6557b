//! Messages deleted for everyone: content and files go at once, the marker row goes with the
//! purge once `privacy.message_purge_after_days` (30) have passed since the deletion.

use image::ImageFormat;

use super::{privacy_app, rows_holding};
use crate::helpers::phone;
use crate::media::{file, picture, stored_files, upload};

#[actix_web::test]
async fn content_deleted_for_everyone_goes_at_once_and_its_marker_within_thirty_days() {
    let snap = picture(200, 200, ImageFormat::Jpeg);
    let app = privacy_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let chat = app.private_chat(&ana, &bob).await;
    let first = app.send_text(&ana, chat, "hello").await;
    let form = file("file", "snap.jpg", snap)
        .text("message_type", "image")
        .text("caption", "gone-caption");
    let (status, body) = upload(&app, &format!("/api/chats/{chat}/messages"), &ana, form).await;
    assert_eq!(status, 201, "{body}");
    let photo = body["message"]["id"].as_i64().unwrap();
    let text = app.send_text(&ana, chat, "gone-text").await;
    assert!(stored_files(&app) > 0);

    // Deleted for everyone: text and files are gone from storage at once.
    let r = app
        .delete(&format!("/api/messages/{photo}"), &ana.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(stored_files(&app), 0);
    assert_eq!(rows_holding(&app, "gone-caption").await, 0);
    app.advance(86400);
    let r = app
        .delete(&format!("/api/messages/{}", text["id"]), &ana.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(rows_holding(&app, "gone-text").await, 0);
    // A message hidden "for me" only is not the purge's business.
    let r = app
        .delete(&format!("/api/messages/{}?for=me", first["id"]), &bob.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // The markers stay for devices to show "deleted", until their window has passed.
    let ids = |h: &[serde_json::Value]| {
        h.iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    app.advance(29 * 86400 - 60);
    assert_eq!(app.engine.purge_privacy().await.unwrap().messages, 0);
    assert_eq!(ids(&app.history(&ana, chat).await).len(), 3);
    app.advance(120);
    assert_eq!(app.engine.purge_privacy().await.unwrap().messages, 1);
    let history = app.history(&ana, chat).await;
    assert_eq!(
        ids(&history),
        vec![first["id"].as_i64().unwrap(), text["id"].as_i64().unwrap()]
    );
    app.advance(86400);
    assert_eq!(app.engine.purge_privacy().await.unwrap().messages, 1);
    assert_eq!(
        ids(&app.history(&ana, chat).await),
        vec![first["id"].as_i64().unwrap()]
    );
    assert_eq!(
        app.history(&bob, chat).await.len(),
        0,
        "Bob hid the one left"
    );

    // The chat list shows the newest message that is left.
    let r = app.get("/api/chats", &ana.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["chats"][0]["last_message"]["id"], first["id"]);
    assert_eq!(app.engine.purge_privacy().await.unwrap().messages, 0);
}
