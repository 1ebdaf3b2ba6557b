//! Disappearing messages: a chat's timer, announced as a system message; messages sent under
//! it go with their files when it runs out (the purge, on the manual clock).

use image::ImageFormat;
use serde_json::json;

use super::{app, group, users};
use crate::media::{file, picture, stored_files, upload};
use crate::ws::WsClient;

const DAY: u64 = 86_400;

#[actix_web::test]
async fn messages_sent_under_the_timer_go_with_their_files_when_it_runs_out() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo"]).await;
    let chat = app.private_chat(&u[0], &u[1]).await;
    let kept = app.send_text(&u[0], chat, "before the timer").await;
    assert_eq!(kept["expires_at"], serde_json::Value::Null);
    let mut ana = WsClient::connect(&app, &u[0].token).await;

    // Any member of a private chat sets it; every member is told by a system message.
    let r = app
        .put(
            &format!("/api/chats/{chat}/disappearing"),
            &u[1].token,
            json!({"seconds": DAY}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["disappearing_secs"], DAY);
    assert_eq!(r.body["message"]["message_type"], "system");
    let e = ana.next_of("new-message").await;
    assert_eq!(
        e["data"]["message"]["system"]["action"],
        "disappearing_timer"
    );
    assert_eq!(e["data"]["message"]["system"]["seconds"], DAY);
    let r = app.get(&format!("/api/chats/{chat}"), &u[0].token).await;
    assert_eq!(r.body["disappearing_secs"], DAY, "{:?}", r.body);
    // The same value again: nothing new.
    let r = app
        .put(
            &format!("/api/chats/{chat}/disappearing"),
            &u[0].token,
            json!({"seconds": DAY}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message"], serde_json::Value::Null);

    let text = app.send_text(&u[0], chat, "gone tomorrow").await;
    let sent = chrono::DateTime::parse_from_rfc3339(text["sent_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(text["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - sent).num_seconds(), DAY as i64);
    let form =
        file("file", "snap.jpg", picture(64, 64, ImageFormat::Jpeg)).text("message_type", "image");
    let (status, body) = upload(&app, &format!("/api/chats/{chat}/messages"), &u[1], form).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["message"]["expires_at"].is_string());
    assert!(stored_files(&app) > 0);
    let history = app.history(&u[1], chat).await;
    assert_eq!(history.len(), 4, "kept, the notice, text and photo");

    // Not yet: a minute before the day is over, nothing goes.
    app.advance(DAY - 60);
    assert_eq!(app.engine.purge_disappeared().await.unwrap().messages, 0);
    assert_eq!(app.history(&u[0], chat).await.len(), 4);
    app.advance(120);
    let purged = app.engine.purge_disappeared().await.unwrap();
    assert_eq!((purged.messages, purged.files > 0), (2, true));
    assert_eq!(stored_files(&app), 0);
    for who in &u {
        let left: Vec<_> = app
            .history(who, chat)
            .await
            .iter()
            .map(|m| m["message_type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            left,
            vec!["text", "system"],
            "the earlier message and the notice stay"
        );
    }

    // Off again: later messages stay.
    let r = app
        .put(
            &format!("/api/chats/{chat}/disappearing"),
            &u[0].token,
            json!({"seconds": 0}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["disappearing_secs"], 0);
    let later = app.send_text(&u[0], chat, "here to stay").await;
    assert_eq!(later["expires_at"], serde_json::Value::Null);
    app.advance(100 * DAY);
    assert_eq!(app.engine.purge_disappeared().await.unwrap().messages, 0);
}

#[actix_web::test]
async fn in_a_group_only_admins_set_the_timer_and_bad_values_are_refused() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo", "Cy"]).await;
    let team = group(&app, &u[0], &[&u[1]]).await;
    let put = |who: usize, body: serde_json::Value| {
        let (app, token) = (&app, u[who].token.clone());
        async move {
            app.put(&format!("/api/chats/{team}/disappearing"), &token, body)
                .await
        }
    };
    let r = put(1, json!({"seconds": 7 * DAY})).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "not_admin"),
        "{:?}",
        r.body
    );
    let r = put(2, json!({"seconds": 7 * DAY})).await;
    assert_eq!(r.status, 404, "not a member: {:?}", r.body);
    for bad in [
        json!({"seconds": 3600}),
        json!({"seconds": -1}),
        json!({"seconds": "86400"}),
        json!({}),
        json!({"seconds": DAY, "other": true}),
    ] {
        let r = put(0, bad.clone()).await;
        assert!(r.status == 400 || r.status == 422, "{bad}: {:?}", r.body);
    }
    assert_eq!(
        app.history(&u[0], team).await.len(),
        1,
        "only the creation notice"
    );
    let r = put(0, json!({"seconds": 90 * DAY})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let m = app.send_text(&u[1], team, "for a season").await;
    assert!(m["expires_at"].is_string());
}
