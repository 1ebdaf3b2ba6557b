//! Forwarding: up to five chats at once, marked as forwarded, files shared and not copied;
//! every target checked before anything is stored.

use image::ImageFormat;
use serde_json::json;

use super::{app, group, ids, users};
use crate::media::{fetch, file, picture, stored_files, upload};
use crate::ws::WsClient;

#[actix_web::test]
async fn a_message_goes_to_several_chats_marked_as_forwarded_and_announced() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo", "Cy"]).await;
    let ab = app.private_chat(&u[0], &u[1]).await;
    let ac = app.private_chat(&u[0], &u[2]).await;
    let team = group(&app, &u[0], &[&u[1], &u[2]]).await;
    let original = app.send_text(&u[1], ab, "worth sharing").await;
    assert_eq!(original["is_forwarded"], false);
    let mut cy = WsClient::connect(&app, &u[2].token).await;

    let r = app
        .post(
            &format!("/api/messages/{}/forward", original["id"]),
            Some(&u[0].token),
            json!({ "chat_ids": [ac, team] }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let copies = r.body["messages"].as_array().unwrap();
    assert_eq!(copies.len(), 2);
    for (copy, chat) in copies.iter().zip([ac, team]) {
        assert_eq!(copy["chat_id"], chat);
        assert_eq!(copy["sender_id"], u[0].id, "the forwarder sends the copy");
        assert_eq!(copy["content"], "worth sharing");
        assert_eq!(copy["is_forwarded"], true);
        assert_eq!(copy["is_forwarded_many_times"], false);
    }
    // Cy is in both chats: two new messages, each as its chat's history shows it.
    for _ in 0..2 {
        let e = cy.next_of("new-message").await;
        assert_eq!(e["data"]["message"]["is_forwarded"], true);
    }
    assert_eq!(app.history(&u[2], ac).await.len(), 1);

    // Forwarded on and on: from the fifth forward in the chain, "forwarded many times".
    let mut last = copies[0]["id"].as_i64().unwrap();
    for hop in 2..=5 {
        let (from, to) = if hop % 2 == 0 {
            (&u[2], ac)
        } else {
            (&u[0], ac)
        };
        let r = app
            .post(
                &format!("/api/messages/{last}/forward"),
                Some(&from.token),
                json!({ "chat_ids": [to] }),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let copy = &r.body["messages"][0];
        assert_eq!(copy["is_forwarded_many_times"], hop >= 5, "hop {hop}");
        last = copy["id"].as_i64().unwrap();
    }

    // Over the WebSocket: one ack with the copies; Bo's other sockets would get the events.
    let mut bo = WsClient::connect(&app, &u[1].token).await;
    let ack = bo
        .request(
            json!({"type": "forward-message", "message_id": original["id"], "chat_ids": [team]}),
        )
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["messages"][0]["chat_id"], team);
    assert_eq!(ack["messages"][0]["is_forwarded"], true);
    let e = bo
        .request(json!({"type": "forward-message", "message_id": original["id"], "chat_ids": []}))
        .await;
    assert_eq!(
        (e["type"].as_str(), e["field"].as_str()),
        (Some("error"), Some("chat_ids")),
        "{e}"
    );
}

#[actix_web::test]
async fn a_forwarded_file_is_shared_and_stays_while_a_copy_holds_it() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo", "Cy"]).await;
    let ab = app.private_chat(&u[0], &u[1]).await;
    let ac = app.private_chat(&u[0], &u[2]).await;
    let form = file("file", "snap.jpg", picture(120, 80, ImageFormat::Jpeg))
        .text("message_type", "image")
        .text("caption", "look");
    let (status, body) = upload(&app, &format!("/api/chats/{ab}/messages"), &u[0], form).await;
    assert_eq!(status, 201, "{body}");
    let photo = body["message"]["id"].as_i64().unwrap();
    let files = stored_files(&app);
    assert!(files > 0);

    let r = app
        .post(
            &format!("/api/messages/{photo}/forward"),
            Some(&u[0].token),
            json!({ "chat_ids": [ac] }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let copy = r.body["messages"][0].clone();
    assert_eq!(copy["message_type"], "image");
    assert_eq!(copy["content"], "look");
    assert_eq!(stored_files(&app), files, "referenced, not copied");

    // The original deleted for everyone: the copy still shows its picture.
    let r = app
        .delete(&format!("/api/messages/{photo}"), &u[0].token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(stored_files(&app), files);
    let shown = app.history(&u[2], ac).await;
    let link = shown[0]["media_url"].as_str().unwrap().to_string();
    assert_eq!(fetch(&app, &link).await.status(), 200);
    // The last copy deleted: the file goes.
    let r = app
        .delete(&format!("/api/messages/{}", copy["id"]), &u[0].token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(stored_files(&app), 0);
}

#[actix_web::test]
async fn a_refused_forward_stores_nothing_anywhere() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo", "Cy", "Di"]).await;
    let ab = app.private_chat(&u[0], &u[1]).await;
    let ac = app.private_chat(&u[0], &u[2]).await;
    let ad = app.private_chat(&u[0], &u[3]).await;
    let bc = app.private_chat(&u[1], &u[2]).await;
    let m = app.send_text(&u[0], ab, "hello").await["id"]
        .as_i64()
        .unwrap();
    let forward = |body: serde_json::Value| {
        let app = &app;
        let token = u[0].token.clone();
        async move {
            app.post(&format!("/api/messages/{m}/forward"), Some(&token), body)
                .await
        }
    };
    for bad in [
        json!({}),
        json!({ "chat_ids": [] }),
        json!({ "chat_ids": "1" }),
        json!({ "chat_ids": [ac, ac] }),
        json!({ "chat_ids": [ac, ad, ab, ac + 100, ac + 101, ac + 102] }),
        json!({ "chat_ids": [0] }),
        json!({ "chat_ids": [ac], "extra": 1 }),
    ] {
        let r = forward(bad.clone()).await;
        assert!(r.status == 400 || r.status == 422, "{bad}: {:?}", r.body);
    }
    // A chat Ana is not in (Bo and Cy's), and one that does not exist, among good ones.
    let r = forward(json!({ "chat_ids": [ac, bc] })).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = forward(json!({ "chat_ids": [ac, 999_999] })).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    // Di blocked Ana: refused before anything went to Cy.
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/contacts/{}/block", u[0].id),
            Some(&u[3].token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = forward(json!({ "chat_ids": [ac, ad] })).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "blocked"),
        "{:?}",
        r.body
    );
    assert!(
        app.history(&u[2], ac).await.is_empty(),
        "nothing reached Cy"
    );
    // A message Cy cannot see cannot be forwarded by Cy.
    let r = app
        .post(
            &format!("/api/messages/{m}/forward"),
            Some(&u[2].token),
            json!({ "chat_ids": [ac] }),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert!(ids(&json!({ "messages": app.history(&u[2], ac).await })).is_empty());
}
