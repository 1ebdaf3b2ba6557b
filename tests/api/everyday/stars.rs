//! Starred messages: private to each user, listed newest star first, gone with the message.

use super::{app, ids, users};

#[actix_web::test]
async fn a_star_is_private_listed_newest_first_and_leaves_with_the_message() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo"]).await;
    let chat = app.private_chat(&u[0], &u[1]).await;
    let a = app.send_text(&u[0], chat, "first").await["id"]
        .as_i64()
        .unwrap();
    let b = app.send_text(&u[1], chat, "second").await["id"]
        .as_i64()
        .unwrap();

    let r = app
        .post(
            &format!("/api/messages/{a}/star"),
            Some(&u[0].token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["is_starred"], true);
    app.advance(5);
    let r = app
        .post(
            &format!("/api/messages/{b}/star"),
            Some(&u[0].token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Again: nothing changes, the first time stays.
    let first_at = r.body["starred_at"].clone();
    app.advance(5);
    let r = app
        .post(
            &format!("/api/messages/{b}/star"),
            Some(&u[0].token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.body["starred_at"], first_at);

    let r = app.get("/api/messages/starred", &u[0].token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(ids(&r.body), vec![b, a], "newest star first");
    assert_eq!(r.body["pagination"]["total_items"], 2);
    assert_eq!(r.body["messages"][0]["message"]["content"], "second");
    let r = app
        .get("/api/messages/starred?limit=1&page=2", &u[0].token)
        .await;
    assert_eq!(ids(&r.body), vec![a]);

    // Nobody else sees it: Bo has no stars, and Bo's history shows none of Ana's.
    let r = app.get("/api/messages/starred", &u[1].token).await;
    assert!(ids(&r.body).is_empty());
    let mine = app.history(&u[0], chat).await;
    assert!(mine.iter().all(|m| m["is_starred"] == true));
    let theirs = app.history(&u[1], chat).await;
    assert!(theirs.iter().all(|m| m["is_starred"] == false));

    // Unstarred, and a starred message deleted for everyone, leave the list.
    let r = app
        .delete(&format!("/api/messages/{a}/star"), &u[0].token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["is_starred"], false);
    let r = app.delete(&format!("/api/messages/{b}"), &u[1].token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.get("/api/messages/starred", &u[0].token).await;
    assert!(ids(&r.body).is_empty(), "{:?}", r.body);
}

#[actix_web::test]
async fn stars_refuse_what_the_caller_cannot_see_and_bad_queries() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo", "Cy"]).await;
    let chat = app.private_chat(&u[0], &u[1]).await;
    let m = app.send_text(&u[0], chat, "between us").await["id"]
        .as_i64()
        .unwrap();
    // A stranger to the chat, an unknown id: 404, nothing stored.
    let r = app
        .post(
            &format!("/api/messages/{m}/star"),
            Some(&u[2].token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = app
        .post(
            "/api/messages/999999/star",
            Some(&u[0].token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .post(
            "/api/messages/abc/star",
            Some(&u[0].token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app.get("/api/messages/starred", &u[2].token).await;
    assert!(ids(&r.body).is_empty());
    for bad in ["limit=0", "limit=101", "page=0", "chat_id=x"] {
        let r = app
            .get(&format!("/api/messages/starred?{bad}"), &u[0].token)
            .await;
        assert_eq!(r.status, 422, "{bad}: {:?}", r.body);
    }
    // A message deleted for everyone cannot be starred.
    let r = app.delete(&format!("/api/messages/{m}"), &u[0].token).await;
    assert_eq!(r.status, 200);
    let r = app
        .post(
            &format!("/api/messages/{m}/star"),
            Some(&u[0].token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "message_deleted"));
}
