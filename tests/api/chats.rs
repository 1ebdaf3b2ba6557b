//! Chats and messages over REST: private chats, sending, history, the chat list, read
//! receipts, edits, deletions, reactions, message info, and who may do what.

use serde_json::json;

use crate::helpers::{phone, spawn_app, spawn_app_with};

#[actix_web::test]
async fn a_private_chat_is_created_once_even_when_asked_concurrently() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let (r1, r2) = futures_util::join!(
        app.post(
            "/api/chats/private",
            Some(&ana.token),
            json!({"contact_id": bo.id})
        ),
        app.post(
            "/api/chats/private",
            Some(&bo.token),
            json!({"contact_id": ana.id})
        ),
    );
    assert_eq!(r1.body["id"], r2.body["id"]);
    let mut statuses = [r1.status.as_u16(), r2.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 201], "one created, one found");
    assert_eq!(r1.body["type"], "private");
    assert_eq!(r1.body["participant"]["id"], bo.id, "Ana sees Bo");
    assert_eq!(r2.body["participant"]["name"], "Ana", "Bo sees Ana");

    let r = app
        .post(
            "/api/chats/private",
            Some(&ana.token),
            json!({"contact_id": ana.id}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("contact_id"))
    );
    let r = app
        .post(
            "/api/chats/private",
            Some(&ana.token),
            json!({"contact_id": 987654}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .post(
            "/api/chats/private",
            Some(&ana.token),
            json!({"contact_id": "2"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("contact_id"))
    );
}

#[actix_web::test]
async fn messages_of_each_type_are_stored_and_bad_ones_refused_without_a_trace() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let path = format!("/api/chats/{chat}/messages");

    let hello = app.send_text(&ana, chat, "Hello!").await;
    assert_eq!(
        (hello["chat_id"].as_i64(), hello["sender_id"].as_i64()),
        (Some(chat), Some(ana.id))
    );
    assert_eq!(
        (hello["status"].as_str(), hello["message_type"].as_str()),
        (Some("sent"), Some("text"))
    );
    assert_eq!(hello["sender"]["name"], "Ana");

    let r = app
        .post(&path, Some(&bo.token), json!({"message_type": "location", "latitude": 38.7, "longitude": -9.1, "location_name": "Lisboa", "reply_to_message_id": hello["id"]}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        (
            r.body["message"]["latitude"].as_f64(),
            r.body["message"]["reply_to"]["id"].clone()
        ),
        (Some(38.7), hello["id"].clone())
    );
    let r = app
        .post(&path, Some(&bo.token), json!({"message_type": "contact", "contact_data": {"name": "Cy", "phone_number": "+14155550100"}}))
        .await;
    assert_eq!(
        (
            r.status.as_u16(),
            r.body["message"]["contact_data"]["name"].as_str()
        ),
        (201, Some("Cy"))
    );

    // Another chat's message cannot be quoted.
    let cy = app.signup(&phone(3), "Cy").await;
    let other_chat = app.private_chat(&ana, &cy).await;
    let foreign = app.send_text(&ana, other_chat, "elsewhere").await;

    let bad = [
        (json!({}), "content"),
        (json!({"content": "   "}), "content"),
        (json!({"content": "x".repeat(4097)}), "content"),
        (json!({"content": 5}), "content"),
        (
            json!({"message_type": "sticker", "content": "x"}),
            "message_type",
        ),
        (json!({"message_type": "image"}), "message_type"),
        (
            json!({"message_type": "location", "latitude": 91.0, "longitude": 0.0}),
            "latitude",
        ),
        (
            json!({"message_type": "location", "latitude": 0.0, "longitude": -180.5}),
            "longitude",
        ),
        (
            json!({"message_type": "location", "latitude": 1.0}),
            "longitude",
        ),
        (
            json!({"message_type": "contact", "contact_data": "Cy"}),
            "contact_data",
        ),
        (
            json!({"message_type": "contact", "contact_data": {"name": "Cy"}}),
            "contact_data",
        ),
        (
            json!({"content": "hi", "reply_to_message_id": foreign["id"]}),
            "reply_to_message_id",
        ),
        (
            json!({"content": "hi", "reply_to_message_id": 999999}),
            "reply_to_message_id",
        ),
        (
            json!({"content": "hi", "client_msg_id": "has spaces"}),
            "client_msg_id",
        ),
        (
            json!({"content": "hi", "client_msg_id": "x".repeat(65)}),
            "client_msg_id",
        ),
    ];
    for (body, field) in bad {
        let r = app.post(&path, Some(&ana.token), body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"].as_str(), Some(field), "{body}");
    }
    assert_eq!(
        app.history(&ana, chat).await.len(),
        3,
        "no refused message was stored"
    );
}

#[actix_web::test]
async fn resending_a_client_msg_id_returns_the_original() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let path = format!("/api/chats/{chat}/messages");
    let body = json!({"content": "once", "client_msg_id": "c-1"});
    let first = app.post(&path, Some(&ana.token), body.clone()).await;
    assert_eq!(
        (first.status.as_u16(), first.body["duplicate"].as_bool()),
        (201, Some(false))
    );
    let again = app.post(&path, Some(&ana.token), body).await;
    assert_eq!(
        (again.status.as_u16(), again.body["duplicate"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(again.body["message"]["id"], first.body["message"]["id"]);
    // Reused for another chat, it is refused rather than answered with the other chat's message.
    let cy = app.signup(&phone(3), "Cy").await;
    let other = app.private_chat(&ana, &cy).await;
    let r = app
        .post(
            &format!("/api/chats/{other}/messages"),
            Some(&ana.token),
            json!({"content": "x", "client_msg_id": "c-1"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "client_msg_id_reused"));
    assert!(app.history(&ana, other).await.is_empty());
    // The same id from another sender is another message.
    let r = app
        .post(
            &path,
            Some(&bo.token),
            json!({"content": "mine", "client_msg_id": "c-1"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(app.history(&ana, chat).await.len(), 2);
}

#[actix_web::test]
async fn history_pages_backwards_and_the_chat_list_orders_by_activity() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let with_bo = app.private_chat(&ana, &bo).await;
    let with_cy = app.private_chat(&ana, &cy).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.send_text(&bo, with_bo, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let r = app
        .get(
            &format!("/api/chats/{with_bo}/messages?limit=2"),
            &ana.token,
        )
        .await;
    let page: Vec<i64> = r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page, ids[3..5], "the newest two, oldest first");
    assert_eq!(
        r.body["pagination"],
        json!({"has_more": true, "next_before_message_id": ids[3]})
    );
    let r = app
        .get(
            &format!(
                "/api/chats/{with_bo}/messages?limit=10&before_message_id={}",
                ids[3]
            ),
            &ana.token,
        )
        .await;
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["pagination"]["has_more"], false);
    for q in ["limit=0", "limit=101", "limit=x", "before_message_id=-1"] {
        let r = app
            .get(&format!("/api/chats/{with_bo}/messages?{q}"), &ana.token)
            .await;
        assert_eq!(r.status, 422, "{q}");
    }

    app.send_text(&cy, with_cy, "latest").await;
    let r = app.get("/api/chats?limit=10", &ana.token).await;
    let chats = r.body["chats"].as_array().unwrap();
    assert_eq!(chats.len(), 2);
    assert_eq!(
        (chats[0]["id"].as_i64(), chats[1]["id"].as_i64()),
        (Some(with_cy), Some(with_bo))
    );
    assert_eq!(chats[0]["participant"]["name"], "Cy");
    assert_eq!(chats[0]["last_message"]["content"], "latest");
    assert_eq!(
        (
            chats[0]["unread_count"].as_i64(),
            chats[1]["unread_count"].as_i64()
        ),
        (Some(1), Some(5))
    );
    assert_eq!(
        r.body["pagination"],
        json!({"current_page": 1, "per_page": 10, "total_pages": 1, "total_items": 2})
    );
    let r = app.get("/api/chats?limit=1&page=2", &ana.token).await;
    assert_eq!(r.body["chats"][0]["id"].as_i64(), Some(with_bo));
    assert_eq!(r.body["pagination"]["total_pages"], 2);

    // Reading moves the cursor: unread drops, and the sender sees "read".
    let r = app
        .put(
            &format!("/api/chats/{with_bo}/read"),
            &ana.token,
            json!({"message_id": ids[2]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["read_at"].as_str().is_some());
    let r = app.get(&format!("/api/chats/{with_bo}"), &ana.token).await;
    assert_eq!(r.body["unread_count"], 2);

    // A message Ana hid ("delete for me") is neither her chat's last message nor unread.
    let newest = app.history(&ana, with_bo).await.last().unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = app
        .delete(&format!("/api/messages/{newest}?for=me"), &ana.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let shown = app.history(&ana, with_bo).await.last().unwrap()["content"].clone();
    let r = app.get(&format!("/api/chats/{with_bo}"), &ana.token).await;
    assert_eq!(
        (&r.body["unread_count"], &r.body["last_message"]["content"]),
        (&json!(1), &shown)
    );
    let r = app.get("/api/chats?limit=10", &ana.token).await;
    let listed = r.body["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"].as_i64() == Some(with_bo))
        .unwrap()
        .clone();
    assert_eq!(
        (&listed["unread_count"], &listed["last_message"]["content"]),
        (&json!(1), &shown)
    );
    let seen = app.history(&bo, with_bo).await;
    let statuses: Vec<&str> = seen.iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["read", "read", "read", "sent", "sent"]);
    assert!(seen[0]["read_at"].as_str().is_some() && seen[0]["delivered_at"].as_str().is_some());
    let r = app
        .put(
            &format!("/api/chats/{with_bo}/read"),
            &ana.token,
            json!({"message_id": 999999}),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn outsiders_cannot_see_or_touch_a_chat_and_members_only_their_own_messages() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let eve = app.signup(&phone(3), "Eve").await;
    let chat = app.private_chat(&ana, &bo).await;
    let m = app.send_text(&ana, chat, "private").await;
    let mid = m["id"].as_i64().unwrap();

    for r in [
        app.get(&format!("/api/chats/{chat}"), &eve.token).await,
        app.get(&format!("/api/chats/{chat}/messages"), &eve.token)
            .await,
        app.post(
            &format!("/api/chats/{chat}/messages"),
            Some(&eve.token),
            json!({"content": "hi"}),
        )
        .await,
        app.put(
            &format!("/api/chats/{chat}/read"),
            &eve.token,
            json!({"message_id": mid}),
        )
        .await,
        app.put(
            &format!("/api/messages/{mid}"),
            &eve.token,
            json!({"content": "hacked"}),
        )
        .await,
        app.delete(&format!("/api/messages/{mid}"), &eve.token)
            .await,
        app.post(
            &format!("/api/messages/{mid}/reactions"),
            Some(&eve.token),
            json!({"emoji": "👍"}),
        )
        .await,
        app.get(&format!("/api/messages/{mid}/info"), &eve.token)
            .await,
        app.get("/api/chats/999999", &eve.token).await,
    ] {
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "not_found"),
            "{:?}",
            r.body
        );
    }
    assert_eq!(
        app.get("/api/chats", &eve.token).await.body["chats"],
        json!([])
    );

    // Bo is a member: he sees the message but it is not his to edit or delete.
    let r = app
        .put(
            &format!("/api/messages/{mid}"),
            &bo.token,
            json!({"content": "changed"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "not_sender"));
    let r = app.delete(&format!("/api/messages/{mid}"), &bo.token).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "not_sender"));
    let r = app
        .get(&format!("/api/messages/{mid}/info"), &bo.token)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(app.history(&ana, chat).await[0]["content"], "private");
}

#[actix_web::test]
async fn edit_react_delete_and_info() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mid = app.send_text(&ana, chat, "helo").await["id"]
        .as_i64()
        .unwrap();

    let r = app
        .put(
            &format!("/api/messages/{mid}"),
            &ana.token,
            json!({"content": "hello"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["message"]["edited_at"].as_str().is_some());
    let r = app
        .put(
            &format!("/api/messages/{mid}"),
            &ana.token,
            json!({"content": ""}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("content"))
    );

    let path = format!("/api/messages/{mid}/reactions");
    let r = app
        .post(&path, Some(&bo.token), json!({"emoji": "👍"}))
        .await;
    assert_eq!(
        r.body["reaction"],
        json!({"message_id": mid, "emoji": "👍", "count": 1})
    );
    let r = app
        .post(&path, Some(&ana.token), json!({"emoji": "👍"}))
        .await;
    assert_eq!(r.body["reaction"]["count"], 2);
    let r = app
        .post(&path, Some(&ana.token), json!({"emoji": "👍"}))
        .await;
    assert_eq!(r.body["reaction"]["count"], 2, "adding twice counts once");
    for bad in [
        json!({"emoji": "nice"}),
        json!({"emoji": ""}),
        json!({"emoji": 1}),
        json!({}),
    ] {
        let r = app.post(&path, Some(&bo.token), bad.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.body["error"]["field"].as_str()),
            (422, Some("emoji")),
            "{bad}"
        );
    }
    let msg = &app.history(&bo, chat).await[0];
    assert_eq!(msg["content"], "hello");
    assert_eq!(msg["reactions"][0]["count"], 2);
    let r = app
        .request(
            reqwest::Method::DELETE,
            &path,
            Some(&ana.token),
            Some(json!({"emoji": "👍"})),
        )
        .await;
    assert_eq!(r.body["reaction"]["count"], 1);

    let r = app
        .get(&format!("/api/messages/{mid}/info"), &ana.token)
        .await;
    assert_eq!(r.body["recipients"][0]["user"]["id"], bo.id);
    assert!(r.body["recipients"][0]["read_at"].is_null());
    app.put(
        &format!("/api/chats/{chat}/read"),
        &bo.token,
        json!({"message_id": mid}),
    )
    .await;
    let r = app
        .get(&format!("/api/messages/{mid}/info"), &ana.token)
        .await;
    assert!(r.body["recipients"][0]["read_at"].as_str().is_some());
    assert!(
        r.body["recipients"][0]["delivered_at"].as_str().is_some(),
        "read implies delivered"
    );

    // Delete for me: gone for Bo only.
    let r = app
        .delete(&format!("/api/messages/{mid}?for=me"), &bo.token)
        .await;
    assert_eq!(r.status, 200);
    assert!(app.history(&bo, chat).await.is_empty());
    assert_eq!(app.history(&ana, chat).await.len(), 1);
    let r = app
        .delete(&format!("/api/messages/{mid}?for=someone"), &ana.token)
        .await;
    assert_eq!(r.status, 422);

    // Delete for everyone: content cleared, marker stays.
    let r = app
        .delete(&format!("/api/messages/{mid}"), &ana.token)
        .await;
    assert_eq!(r.status, 200);
    let m = &app.history(&ana, chat).await[0];
    assert_eq!(
        (m["is_deleted"].as_bool(), m["content"].is_null()),
        (Some(true), true)
    );
    assert_eq!(m["reactions"], json!([]));
    let r = app
        .put(
            &format!("/api/messages/{mid}"),
            &ana.token,
            json!({"content": "back"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "message_deleted"));
    let r = app
        .post(&path, Some(&ana.token), json!({"emoji": "👍"}))
        .await;
    assert_eq!(r.status, 403);
}

#[actix_web::test]
async fn sending_is_limited_per_user() {
    let app = spawn_app_with(|s| s.limits.messages_per_minute = 3).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    for i in 0..3 {
        app.send_text(&ana, chat, &format!("{i}")).await;
    }
    let r = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&ana.token),
            json!({"content": "one more"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (429, "rate_limited"));
    assert!(r.headers.contains_key("retry-after"));
    app.send_text(&bo, chat, "others are not limited by Ana")
        .await;
    app.advance(60);
    app.send_text(&ana, chat, "again").await;
}
