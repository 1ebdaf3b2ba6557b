//! Presence with the user's sockets and their watchers on different nodes: counted per user
//! (not per socket, not per node), and a node killed with SIGKILL takes its users offline.

use crate::helpers::phone;
use crate::ws::WsClient;

use super::Nodes;

#[actix_web::test]
async fn a_user_is_online_while_any_node_holds_a_socket_of_theirs() {
    let Some(mut c) = Nodes::start(3).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let mut bo_socket = WsClient::connect_to(&c.address(1), &bo.token).await;
    assert_eq!(
        bo_socket.watch(&[ana.id]).await["presence"][0]["is_online"],
        false
    );

    // Ana's first socket, on node 1: Bo, watching from node 2, is told.
    let on_one = WsClient::connect_to(&c.address(0), &ana.token).await;
    let online = bo_socket.next_of("user-status-updated").await;
    assert_eq!(online["data"]["contact_id"], ana.id);
    assert_eq!(online["data"]["is_online"], true);

    // A second socket on node 3, then the one on node 1 closes: she stays online, and Bo
    // hears nothing about it before her next message (sent after the close).
    // Her `hello` on node 3 comes once the cluster knows she is there.
    let mut on_three = WsClient::connect_to(&c.address(2), &ana.token).await;
    on_one.close().await;
    let ack = on_three.send_text(chat, "still here", "p-1").await;
    let id = ack["message"]["id"].clone();
    let frames = bo_socket
        .collect_until(|f| f["type"] == "new-message" && f["data"]["message"]["id"] == id)
        .await;
    assert!(
        !frames.iter().any(|f| f["type"] == "user-status-updated"),
        "{frames:?}"
    );
    assert_eq!(
        bo_socket.watch(&[ana.id]).await["presence"][0]["is_online"],
        true
    );

    // Node 3 is killed: once its lease runs out (1 s here), Ana is offline for Bo, and for
    // REST readers on any node.
    c.nodes[2].child.kill().unwrap();
    let offline = bo_socket.next_of("user-status-updated").await;
    assert_eq!(offline["data"]["contact_id"], ana.id);
    assert_eq!(offline["data"]["is_online"], false);
    let r = c
        .get(0, &format!("/api/users/{}", ana.id), Some(&bo.token))
        .await;
    assert_eq!(r.body["is_online"], false, "{:?}", r.body);
    // The survivors carry on: a message between nodes 1 and 2 still gets through.
    let r = c.send_text(0, &ana, chat, "after the crash").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let frames = bo_socket
        .collect_until(|f| {
            f["type"] == "new-message" && f["data"]["message"]["content"] == "after the crash"
        })
        .await;
    assert!(!frames.is_empty());
    drop(on_three);
    c.nodes.truncate(2);
}
