//! Receipts, typing and groups with the members on different nodes.

use reqwest::Method;
use serde_json::json;

use super::Nodes;
use crate::helpers::{phone, TestUser};
use crate::ws::WsClient;

#[actix_web::test]
async fn receipts_and_typing_reach_the_other_node() {
    let Some(c) = Nodes::start(2).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let mut a = WsClient::connect_to(&c.address(0), &ana.token).await;
    let mut b = WsClient::connect_to(&c.address(1), &bo.token).await;

    let id = a.send_text(chat, "hello", "r-1").await["message"]["id"]
        .as_i64()
        .unwrap();
    b.next_of("new-message").await;
    let ack = b
        .request(json!({"type": "delivered", "message_ids": [id]}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let status = a.next_of("message-status-updated").await;
    assert_eq!(
        (
            status["data"]["status"].as_str(),
            status["data"]["message_id"].as_i64()
        ),
        (Some("delivered"), Some(id))
    );
    let ack = b
        .request(json!({"type": "read", "chat_id": chat, "message_id": id}))
        .await;
    assert!(ack["read_at"].as_str().is_some(), "{ack}");
    let status = a.next_of("message-status-updated").await;
    assert_eq!(status["data"]["status"], "read");
    assert_eq!(status["data"]["read_by"]["id"], bo.id);

    let ack = b
        .request(json!({"type": "typing", "chat_id": chat, "is_typing": true}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let typing = a.next_of("user-typing").await;
    assert_eq!(
        (
            typing["data"]["user"]["id"].as_i64(),
            typing["data"]["is_typing"].as_bool()
        ),
        (Some(bo.id), Some(true))
    );
}

/// Lets anyone add `user` to groups.
async fn open_to_groups(c: &Nodes, i: usize, user: &TestUser) {
    let body = json!({ "groups": "everyone" });
    let r = c
        .request(
            i,
            Method::PUT,
            "/api/user/privacy",
            Some(&user.token),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[actix_web::test]
async fn a_group_spread_over_three_nodes_and_a_member_removed_on_one_hears_nothing_more() {
    let Some(c) = Nodes::start(3).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let cy = c.signup(2, &phone(3), "Cy").await;
    open_to_groups(&c, 1, &bo).await;
    open_to_groups(&c, 2, &cy).await;
    let r = c
        .post(
            0,
            "/api/groups",
            &ana.token,
            json!({"name": "Team", "participants": [bo.id, cy.id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let group = r.body["group"]["id"].as_i64().unwrap();
    let mut b = WsClient::connect_to(&c.address(1), &bo.token).await;
    let mut y = WsClient::connect_to(&c.address(2), &cy.token).await;

    // Sent through node 2: the members on nodes 2 and 3 have it.
    let r = c.send_text(1, &bo, group, "all here").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["message"]["id"].clone();
    let got = y.next_of("new-message").await;
    assert_eq!(got["data"]["message"]["id"], id);

    // Cy is removed through node 1: her socket on node 3 is told. The group's next message,
    // sent through node 2 (its room there is warm), does not reach her, nor can she send.
    let path = format!("/api/groups/{group}/members/{}", cy.id);
    let r = c
        .request(0, Method::DELETE, &path, Some(&ana.token), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let removed = y.next_of("member-removed").await;
    assert_eq!(removed["data"]["user_id"], cy.id);
    let r = c.send_text(1, &bo, group, "after Cy left").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let after = r.body["message"]["id"].clone();
    b.collect_until(|f| f["type"] == "new-message" && f["data"]["message"]["id"] == after)
        .await;
    // A barrier: Bo's next message to her, also from node 2, comes after anything before it.
    let private = c.private_chat(1, &bo, &cy).await;
    let r = c.send_text(1, &bo, private, "barrier").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let barrier = r.body["message"]["id"].clone();
    let frames = y
        .collect_until(|f| f["type"] == "new-message" && f["data"]["message"]["id"] == barrier)
        .await;
    assert!(
        !frames
            .iter()
            .any(|f| f["type"] == "new-message" && f["data"]["message"]["id"] == after),
        "{frames:?}"
    );
    let r = c.send_text(2, &cy, group, "still here?").await;
    assert_eq!(r.status, 404, "{:?}", r.body);
}
