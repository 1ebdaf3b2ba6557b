//! The Pusher protocol on several nodes: `/broadcasting/auth` answered by a node that does
//! not hold the socket, client events and HTTP API events reaching subscribers on another
//! node, and the checks that need the socket made where the socket is.

use serde_json::{json, Value};

use super::Nodes;
use crate::helpers::{phone, TestUser};
use crate::pusher::client::{data_of, signed_request, PusherClient, SECRET};

/// Asks node `i` to authorize `socket_id` for `channel` on behalf of `user`.
async fn authorize(c: &Nodes, i: usize, user: &TestUser, socket_id: &str, channel: &str) -> Value {
    let r = c
        .post(
            i,
            "/broadcasting/auth",
            &user.token,
            json!({ "socket_id": socket_id, "channel_name": channel }),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "auth for {channel} on node {i}: {:?}",
        r.body
    );
    r.body
}

#[actix_web::test]
async fn a_channel_authorized_on_one_node_is_subscribed_on_the_socket_of_another() {
    let Some(c) = Nodes::start(2).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let channel = format!("private-chat.{chat}");
    let presence = format!("presence-chat.{chat}");

    // Ana's socket is on node 1; node 2 answers her authorization.
    let mut ana_p = PusherClient::connect_to(&c.address(0)).await;
    let auth = authorize(&c, 1, &ana, &ana_p.socket_id, &channel).await;
    let reply = ana_p.subscribe(&channel, &auth).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );

    // The grant served that one subscription, on every node: replayed, it is refused.
    ana_p
        .send(json!({ "event": "pusher:unsubscribe", "data": { "channel": channel } }))
        .await;
    let reply = ana_p.subscribe(&channel, &auth).await;
    assert_eq!(reply["event"], "pusher:subscription_error", "{reply}");
    assert_eq!(data_of(&reply)["status"], 403, "{reply}");
    let auth = authorize(&c, 1, &ana, &ana_p.socket_id, &channel).await;
    let reply = ana_p.subscribe(&channel, &auth).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );

    // Bo's socket is on node 2; node 1 answers his, for the presence channel too.
    let mut bo_p = PusherClient::connect_to(&c.address(1)).await;
    let auth = authorize(&c, 0, &bo, &bo_p.socket_id, &channel).await;
    let reply = bo_p.subscribe(&channel, &auth).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );
    let auth = authorize(&c, 0, &bo, &bo_p.socket_id, &presence).await;
    assert!(auth["channel_data"].is_string(), "{auth}");
    let reply = bo_p.subscribe(&presence, &auth).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );
    let ids = &data_of(&reply)["presence"]["ids"];
    assert_eq!(ids, &json!([bo.id.to_string()]), "{reply}");

    // A client event from node 1 reaches the subscriber on node 2, and not its sender.
    ana_p
        .send(json!({ "event": "client-wave", "channel": channel, "data": { "hand": "left" } }))
        .await;
    let wave = bo_p.next_event("client-wave").await;
    assert_eq!(wave["channel"], channel);
    assert_eq!(data_of(&wave)["hand"], "left");

    // A message stored through node 2 reaches Ana's Pusher socket on node 1.
    let r = c.send_text(1, &bo, chat, "across").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let message = ana_p.next_event("new-message").await;
    assert_eq!(message["channel"], channel);
    assert_eq!(data_of(&message)["message"]["content"], "across");

    // An event published through node 2's HTTP API on a public channel reaches node 1.
    let reply = ana_p.subscribe("news", &json!({})).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );
    let body = json!({ "name": "headline", "channels": ["news"], "data": "{\"n\":1}" });
    let ts = chrono::Utc::now().timestamp();
    let r = signed_request(
        &c.client,
        &c.address(1),
        ts,
        ("POST", "/apps/courier/events"),
        Some(&body),
        SECRET,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let headline = ana_p.next_event("headline").await;
    assert_eq!(headline["channel"], "news");
    assert_eq!(data_of(&headline)["n"], 1);
}

#[actix_web::test]
async fn a_grant_from_another_node_is_checked_where_the_socket_is() {
    let Some(c) = Nodes::start(2).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let carol = c.signup(1, &phone(3), "Carol").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let channel = format!("private-chat.{chat}");
    let mut ana_p = PusherClient::connect_to(&c.address(0)).await;

    // A stranger to the chat is refused by any node.
    let r = c
        .post(
            1,
            "/broadcasting/auth",
            &carol.token,
            json!({ "socket_id": ana_p.socket_id, "channel_name": channel }),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden"),
        "{:?}",
        r.body
    );

    // Ana's socket acts for Ana; a grant node 2 gave Carol for it is refused on node 1.
    let own = format!("private-user.{}", ana.id);
    let auth = authorize(&c, 1, &ana, &ana_p.socket_id, &own).await;
    let reply = ana_p.subscribe(&own, &auth).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );
    let carols = format!("private-user.{}", carol.id);
    let auth = authorize(&c, 1, &carol, &ana_p.socket_id, &carols).await;
    let reply = ana_p.subscribe(&carols, &auth).await;
    assert_eq!(reply["event"], "pusher:subscription_error", "{reply}");
    assert_eq!(data_of(&reply)["status"], 403, "{reply}");

    // A signature with no grant behind it (as if made with the secret, never asked for).
    let forged = format!("private-user.{}", bo.id);
    let reply = ana_p
        .subscribe(&forged, &json!({ "auth": "test-key:00" }))
        .await;
    assert_eq!(data_of(&reply)["status"], 401, "{reply}");

    // Ana is still served on her channel.
    let r = c.send_text(1, &bo, chat, "still here").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let auth = authorize(&c, 1, &ana, &ana_p.socket_id, &channel).await;
    let reply = ana_p.subscribe(&channel, &auth).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "{reply}"
    );
    let r = c.send_text(1, &bo, chat, "after").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let message = ana_p.next_event("new-message").await;
    assert_eq!(data_of(&message)["message"]["content"], "after");
}
