//! Messaging with the parties on different nodes: delivery, blocks, sign-outs.

use serde_json::json;

use super::Nodes;
use crate::helpers::phone;
use crate::ws::WsClient;

#[actix_web::test]
async fn a_message_sent_on_one_node_reaches_a_socket_on_another() {
    let Some(c) = Nodes::start(2).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let mut bo_socket = WsClient::connect_to(&c.address(1), &bo.token).await;
    let mut ana_socket = WsClient::connect_to(&c.address(0), &ana.token).await;

    // Over REST through node 1, then over the socket on node 1: Bo on node 2 gets both, once
    // each, in order.
    let r = c.send_text(0, &ana, chat, "over REST").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let first = r.body["message"]["id"].as_i64().unwrap();
    let ack = ana_socket.send_text(chat, "over the socket", "c-1").await;
    let second = ack["message"]["id"].as_i64().unwrap();
    let frames = bo_socket
        .collect_until(|f| f["type"] == "new-message" && f["data"]["message"]["id"] == second)
        .await;
    let got: Vec<i64> = frames
        .iter()
        .filter(|f| f["type"] == "new-message")
        .map(|f| f["data"]["message"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, vec![first, second]);

    // And back: Bo answers through node 2, Ana's socket on node 1 has it.
    let ack = bo_socket.send_text(chat, "hi from node 2", "c-2").await;
    let reply = ack["message"]["id"].as_i64().unwrap();
    let frames = ana_socket
        .collect_until(|f| f["type"] == "new-message" && f["data"]["message"]["id"] == reply)
        .await;
    let last = frames.last().unwrap();
    assert_eq!(last["data"]["message"]["content"], "hi from node 2");
}

#[actix_web::test]
async fn a_block_made_on_one_node_holds_on_the_other() {
    let Some(c) = Nodes::start(2).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    // Bo's room on node 2 is warm: it has members and blocks in memory.
    let r = c.send_text(1, &bo, chat, "before").await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    let r = c
        .request(
            0,
            reqwest::Method::PUT,
            &format!("/api/contacts/{}/block", bo.id),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = c.send_text(1, &bo, chat, "after the block").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "blocked"),
        "{:?}",
        r.body
    );
}

#[actix_web::test]
async fn signing_out_on_one_node_closes_the_sessions_sockets_on_the_other() {
    let Some(c) = Nodes::start(2).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let mut socket = WsClient::connect_to(&c.address(1), &ana.token).await;
    let r = c.post(0, "/api/auth/logout", &ana.token, json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(socket.closed().await, 4001);
}

#[actix_web::test]
async fn a_chats_messages_sent_through_two_nodes_reach_a_third_in_the_order_they_were_stored() {
    let Some(c) = Nodes::start(3).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let mut a1 = WsClient::connect_to(&c.address(0), &ana.token).await;
    let mut b2 = WsClient::connect_to(&c.address(1), &bo.token).await;
    let mut a3 = WsClient::connect_to(&c.address(2), &ana.token).await;

    // Both send at once, without waiting for their acks: the two nodes' writers interleave.
    const EACH: usize = 40;
    for i in 0..EACH {
        for (ws, who) in [(&mut a1, "a"), (&mut b2, "b")] {
            let frame = json!({
                "type": "send-message", "chat_id": chat,
                "content": format!("{who}{i}"), "client_msg_id": format!("{who}-{i}"),
            });
            ws.send_json(frame).await;
        }
    }
    // Ana's other device, on node 3, has them all, each once, in id order.
    let mut ids: Vec<i64> = Vec::new();
    while ids.len() < 2 * EACH {
        let frame = a3.next_of("new-message").await;
        ids.push(frame["data"]["message"]["id"].as_i64().unwrap());
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "out of order or repeated");
}
