//! Pusher presence channels on several nodes: members are counted per user across the
//! cluster, not per node and not per socket. Each subscriber lists the members of every node,
//! `member_added` comes when a user's first socket anywhere joins and `member_removed` when
//! their last one anywhere leaves, or their node dies.

use std::time::Duration;

use serde_json::{json, Value};

use super::Nodes;
use crate::helpers::{phone, TestUser};
use crate::pusher::client::{data_of, PusherClient};

/// A window for frames that must not come.
const QUIET: Duration = Duration::from_millis(500);

/// Opens a Pusher socket on node `i` and subscribes it to `channel` as `user` (authorized by
/// node `i` too); answers the socket and its `subscription_succeeded`.
async fn join(c: &Nodes, i: usize, user: &TestUser, channel: &str) -> (PusherClient, Value) {
    let mut p = PusherClient::connect_to(&c.address(i)).await;
    let r = c
        .post(
            i,
            "/broadcasting/auth",
            &user.token,
            json!({ "socket_id": p.socket_id, "channel_name": channel }),
        )
        .await;
    assert_eq!(r.status, 200, "auth on node {i}: {:?}", r.body);
    let ok = p.subscribe(channel, &r.body).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    (p, ok)
}

/// The member ids of a `subscription_succeeded`, sorted.
fn ids(ok: &Value) -> Vec<String> {
    let presence = &data_of(ok)["presence"];
    let mut ids: Vec<String> = presence["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("string ids").to_string())
        .collect();
    ids.sort();
    assert_eq!(presence["count"], ids.len(), "{ok}");
    ids
}

/// A signed GET of the Pusher HTTP API of node `i`, with `info` if given; its JSON answer.
async fn http_api(c: &Nodes, i: usize, path: &str, info: Option<&str>) -> Value {
    use crate::pusher::client::{KEY, SECRET};
    use hmac::{Hmac, Mac};
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Pusher's scheme: the query's parameters sorted by name, then signed with the method
    // and path.
    let mut q = format!("auth_key={KEY}&auth_timestamp={ts}&auth_version=1.0");
    if let Some(info) = info {
        q = format!("{q}&info={info}");
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("GET\n{path}\n{q}").as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    let url = format!("{}{path}?{q}&auth_signature={sig}", c.address(i));
    let r = c.client.get(url).send().await.expect("request sent");
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.expect("JSON")
}

/// Asserts that nothing reaches `p` for a while.
async fn nothing_more(p: &mut PusherClient, what: &str) {
    if let Some(f) = p.next_within(QUIET).await {
        panic!("{what}: {f}");
    }
}

#[actix_web::test]
async fn presence_members_are_the_users_of_every_node() {
    let Some(c) = Nodes::start(2).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let channel = format!("presence-chat.{chat}");
    let mut both = vec![ana.id.to_string(), bo.id.to_string()];
    both.sort();

    // Ana on node 1, then Bo on node 2: Bo lists Ana, and Ana is told about Bo once.
    let (mut ana_p, ok) = join(&c, 0, &ana, &channel).await;
    assert_eq!(ids(&ok), vec![ana.id.to_string()], "{ok}");
    let (mut bo_on_2, ok) = join(&c, 1, &bo, &channel).await;
    assert_eq!(ids(&ok), both, "{ok}");
    assert_eq!(
        data_of(&ok)["presence"]["hash"][ana.id.to_string()]["name"],
        "Ana",
        "{ok}"
    );
    let added = ana_p.next_event("pusher_internal:member_added").await;
    assert_eq!(data_of(&added)["user_id"], bo.id, "{added}");
    assert_eq!(data_of(&added)["user_info"]["name"], "Bo", "{added}");
    nothing_more(&mut ana_p, "Bo is added once").await;

    // The HTTP API of either node counts and lists both members.
    for node in [0, 1] {
        let path = format!("/apps/courier/channels/{channel}");
        let info = http_api(&c, node, &path, Some("user_count")).await;
        assert_eq!(info["user_count"], 2, "node {node}: {info}");
        let users = http_api(&c, node, &format!("{path}/users"), None).await;
        let mut listed: Vec<String> = users["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| u["id"].as_str().expect("string ids").to_string())
            .collect();
        listed.sort();
        assert_eq!(listed, both, "node {node}: {users}");
    }

    // Bo's second socket, on node 1, is not a second member.
    let (mut bo_on_1, ok) = join(&c, 0, &bo, &channel).await;
    assert_eq!(ids(&ok), both, "{ok}");
    nothing_more(&mut ana_p, "a second tab adds nobody").await;
    nothing_more(&mut bo_on_2, "a second tab adds nobody").await;

    // Closing one of Bo's sockets removes nobody; closing the last one removes Bo, once.
    drop(bo_on_2);
    nothing_more(&mut ana_p, "Bo still has a socket on node 1").await;
    bo_on_1
        .send(json!({ "event": "pusher:unsubscribe", "data": { "channel": channel } }))
        .await;
    let removed = ana_p.next_event("pusher_internal:member_removed").await;
    assert_eq!(data_of(&removed)["user_id"], bo.id, "{removed}");
    nothing_more(&mut ana_p, "Bo is removed once").await;

    // Bo back on node 2: a new subscriber there still lists Ana.
    let (_bo_again, ok) = join(&c, 1, &bo, &channel).await;
    assert_eq!(ids(&ok), both, "{ok}");
    let added = ana_p.next_event("pusher_internal:member_added").await;
    assert_eq!(data_of(&added)["user_id"], bo.id, "{added}");
}

#[actix_web::test]
async fn the_members_of_a_dead_node_are_removed() {
    let Some(mut c) = Nodes::start(2).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let channel = format!("presence-chat.{chat}");
    let (mut ana_p, _) = join(&c, 0, &ana, &channel).await;
    let (bo_p, _) = join(&c, 1, &bo, &channel).await;
    ana_p.next_event("pusher_internal:member_added").await;

    // Node 2 is killed: once its lease runs out (1 s here), Ana is told Bo left.
    c.nodes[1].child.kill().unwrap();
    let removed = ana_p.next_event("pusher_internal:member_removed").await;
    assert_eq!(data_of(&removed)["user_id"], bo.id, "{removed}");
    drop(bo_p);
    c.nodes.truncate(1);

    // A new subscriber on node 1 lists only who is present.
    let (_again, ok) = join(&c, 0, &ana, &channel).await;
    assert_eq!(ids(&ok), vec![ana.id.to_string()], "{ok}");
}
