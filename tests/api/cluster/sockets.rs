//! The per-user socket cap with a user's sockets on different nodes: it counts them all
//! together, a socket closed on one node frees a place on another, and a Pusher socket bound
//! to the user counts as well.

use serde_json::json;

use super::Nodes;
use crate::helpers::phone;
use crate::pusher::client::PusherClient;
use crate::ws::WsClient;

/// Waits (up to a deadline) until node `i` lets `token` open one more socket.
async fn connect_when_free(c: &Nodes, i: usize, token: &str) -> WsClient {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match WsClient::try_connect_to(&c.address(i), token).await {
            Ok(ws) => return ws,
            Err((429, body)) if body["error"]["code"] == "too_many_sockets" => {}
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed socket's place never came free"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Asserts that node `i` refuses `token` another socket with 429 `too_many_sockets`.
async fn refused(c: &Nodes, i: usize, token: &str) {
    let (status, body) = WsClient::try_connect_to(&c.address(i), token)
        .await
        .err()
        .unwrap_or_else(|| panic!("a socket over the cap was opened on node {i}"));
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_sockets", "{body}");
}

#[actix_web::test]
async fn a_users_sockets_count_on_every_node_together() {
    let extra = [
        ("COURIER__REALTIME__MAX_SOCKETS_PER_USER", "2"),
        ("COURIER__REALTIME__CONNECTS_PER_MINUTE", "6000"),
    ];
    let Some(c) = Nodes::start_with(2, &extra).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;

    // One socket on each node: a third is refused on either.
    let on_1 = WsClient::connect_to(&c.address(0), &ana.token).await;
    let _on_2 = WsClient::connect_to(&c.address(1), &ana.token).await;
    refused(&c, 0, &ana.token).await;
    refused(&c, 1, &ana.token).await;
    // Others have places of their own.
    let _bo = WsClient::connect_to(&c.address(0), &bo.token).await;

    // The socket on node 1 closes: its place is free on node 2, and then the cap is full again.
    on_1.close().await;
    let _again_on_2 = connect_when_free(&c, 1, &ana.token).await;
    refused(&c, 0, &ana.token).await;

    // A Pusher socket bound to Ana (authorized on node 1, held by node 2) is over her cap
    // too: it is closed with 4100.
    let mut p = PusherClient::connect_to(&c.address(1)).await;
    let channel = format!("private-user.{}", ana.id);
    let r = c
        .post(
            0,
            "/broadcasting/auth",
            &ana.token,
            json!({ "socket_id": p.socket_id, "channel_name": channel }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let data = json!({ "channel": channel, "auth": r.body["auth"] });
    p.send(json!({ "event": "pusher:subscribe", "data": data }))
        .await;
    let (code, frames) = p.closed().await;
    assert_eq!(code, 4100, "{frames:?}");
}
