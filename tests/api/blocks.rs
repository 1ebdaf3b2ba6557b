//! Blocking covers every action between the two users of a private chat, not only sends.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{phone, spawn_app, TestApp, TestUser};
use crate::ws::WsClient;

async fn toggle_block(app: &TestApp, by: &TestUser, whom: &TestUser) {
    let r = app
        .request(
            Method::PUT,
            &format!("/api/contacts/{}/block", whom.id),
            Some(&by.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn edit(app: &TestApp, who: &TestUser, id: i64, content: &str) -> (u16, String) {
    let r = app
        .put(
            &format!("/api/messages/{id}"),
            &who.token,
            json!({ "content": content }),
        )
        .await;
    (r.status.as_u16(), r.code().to_string())
}

async fn react(app: &TestApp, who: &TestUser, id: i64, method: Method) -> (u16, String) {
    let r = app
        .request(
            method,
            &format!("/api/messages/{id}/reactions"),
            Some(&who.token),
            Some(json!({ "emoji": "👍" })),
        )
        .await;
    (r.status.as_u16(), r.code().to_string())
}

fn by_id(history: &[Value], id: i64) -> &Value {
    history
        .iter()
        .find(|m| m["id"] == id)
        .expect("message in history")
}

#[actix_web::test]
async fn a_block_stops_edits_and_reactions_both_ways_but_not_groups() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    app.open_to_groups(&bo).await;
    let chat = app.private_chat(&ana, &bo).await;
    let from_bo = app.send_text(&bo, chat, "bo's words").await["id"]
        .as_i64()
        .unwrap();
    let from_ana = app.send_text(&ana, chat, "ana's words").await["id"]
        .as_i64()
        .unwrap();
    // Bo's thumb on Ana's message, put there before the block.
    assert_eq!(react(&app, &bo, from_ana, Method::POST).await.0, 200);
    let r = app
        .post(
            "/api/groups",
            Some(&ana.token),
            json!({"name": "Shared", "participants": [bo.id]}),
        )
        .await;
    let group = r.body["group"]["id"].as_i64().unwrap();
    let in_group = app.send_text(&ana, group, "group words").await["id"]
        .as_i64()
        .unwrap();

    toggle_block(&app, &ana, &bo).await;
    let mut ana_ws = WsClient::connect(&app, &ana.token).await;
    let blocked = (403, "blocked".to_string());
    let you_blocked = (403, "you_blocked".to_string());
    assert_eq!(
        edit(&app, &bo, from_bo, "edited while blocked").await,
        blocked
    );
    assert_eq!(
        edit(&app, &ana, from_ana, "edited by the blocker").await,
        you_blocked
    );
    // Already there: still refused, not a silent no-op that looks accepted.
    assert_eq!(react(&app, &bo, from_ana, Method::POST).await, blocked);
    assert_eq!(react(&app, &bo, from_ana, Method::DELETE).await, blocked);
    assert_eq!(react(&app, &ana, from_bo, Method::POST).await, you_blocked);

    // Nothing stored…
    let history = app.history(&ana, chat).await;
    let (b, a) = (by_id(&history, from_bo), by_id(&history, from_ana));
    assert_eq!(
        (&b["content"], &b["edited_at"]),
        (&json!("bo's words"), &Value::Null)
    );
    assert_eq!(
        (&a["content"], &a["edited_at"]),
        (&json!("ana's words"), &Value::Null)
    );
    assert_eq!(b["reactions"], json!([]));
    assert_eq!(
        a["reactions"][0]["users"],
        json!([{"id": bo.id, "name": "Bo"}])
    );

    // …and nothing announced: a later event of the chat is the first thing Ana hears.
    let r = app
        .delete(&format!("/api/messages/{from_bo}"), &bo.token)
        .await;
    assert_eq!(
        r.status, 200,
        "taking one's own message back stays possible"
    );
    let frames = ana_ws
        .collect_until(|f| f["type"] == "message-deleted")
        .await;
    let changes = ["message-updated", "reaction-updated"];
    assert!(
        !frames
            .iter()
            .any(|f| changes.iter().any(|c| f["type"] == *c)),
        "{frames:?}"
    );
    assert!(by_id(&app.history(&ana, chat).await, from_bo)["is_deleted"] == true);

    // The group they share keeps working both ways.
    assert_eq!(edit(&app, &ana, in_group, "group words!").await.0, 200);
    assert_eq!(react(&app, &bo, in_group, Method::POST).await.0, 200);

    // Unblocking restores it.
    toggle_block(&app, &ana, &bo).await;
    assert_eq!(edit(&app, &ana, from_ana, "ana's words!").await.0, 200);
    assert_eq!(react(&app, &bo, from_ana, Method::DELETE).await.0, 200);
}

#[actix_web::test]
async fn across_a_block_a_read_counts_for_the_reader_but_is_not_announced() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let old = app.send_text(&bo, chat, "before the block").await["id"]
        .as_i64()
        .unwrap();
    let last = app.send_text(&bo, chat, "and another").await["id"]
        .as_i64()
        .unwrap();
    toggle_block(&app, &ana, &bo).await;
    let mut bo_ws = WsClient::connect(&app, &bo.token).await;
    let mut ana_ws = WsClient::connect(&app, &ana.token).await;

    let r = app
        .put(
            &format!("/api/chats/{chat}/read"),
            &ana.token,
            json!({ "message_id": last }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.get(&format!("/api/chats/{chat}"), &ana.token).await;
    assert_eq!(r.body["unread_count"], 0, "the reader's own count follows");
    // Ana's other devices hear of it.
    let mut e = ana_ws.next_of("message-status-updated").await;
    while e["data"]["status"] != "read" {
        e = ana_ws.next_of("message-status-updated").await;
    }
    assert_eq!(e["data"]["read_by"]["id"], ana.id);

    // Bo does not: the next event of the chat he gets is his own deletion.
    app.delete(&format!("/api/messages/{old}"), &bo.token).await;
    let frames = bo_ws
        .collect_until(|f| f["type"] == "message-deleted")
        .await;
    assert!(
        !frames.iter().any(|f| f["type"] == "message-status-updated"),
        "{frames:?}"
    );
}
