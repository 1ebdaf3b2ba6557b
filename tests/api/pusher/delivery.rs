//! Engine events over the Pusher protocol: on the channel they belong to, once per socket,
//! beside native sessions of the same user; presence members; a removed member's
//! subscriptions end at once.

use std::time::Duration;

use serde_json::json;

use super::client::{data_of, pusher_app, PusherClient};
use crate::ws::WsClient;

/// A window for something that must not arrive.
const QUIET: Duration = Duration::from_millis(400);

#[actix_rt::test]
async fn a_pusher_device_and_a_native_device_each_get_an_event_once() {
    let app = pusher_app().await;
    let alice = app.signup("+14155552001", "Alice").await;
    let bob = app.signup("+14155552002", "Bob").await;
    let chat = app.private_chat(&alice, &bob).await;
    let channel = format!("private-chat.{chat}");
    let mut p = PusherClient::connect(&app).await;
    let ok = p.join(&app, &alice, &channel).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    let mut native = WsClient::connect(&app, &alice.token).await;
    let sent = app.send_text(&bob, chat, "hello both").await;
    let e = p.next_event("new-message").await;
    assert_eq!(e["channel"], channel);
    let data = data_of(&e);
    assert!(e["data"].is_string(), "data travels as a JSON string: {e}");
    assert_eq!(data["message"]["id"], sent["id"]);
    assert_eq!(data["message"]["content"], "hello both");
    assert_eq!(data["message"]["sender"]["id"], bob.id);
    let n = native.next_of("new-message").await;
    assert_eq!(n["data"]["message"]["id"], sent["id"]);
    // Once each: nothing more for either.
    assert!(p.next_within(QUIET).await.is_none());
    assert!(native.next_within(QUIET).await.is_none());
}

#[actix_rt::test]
async fn events_of_channels_a_socket_did_not_subscribe_to_stay_away() {
    let app = pusher_app().await;
    let alice = app.signup("+14155552003", "Alice").await;
    let bob = app.signup("+14155552004", "Bob").await;
    let carol = app.signup("+14155552005", "Carol").await;
    let with_bob = app.private_chat(&alice, &bob).await;
    let with_carol = app.private_chat(&alice, &carol).await;
    let mut p = PusherClient::connect(&app).await;
    p.join(&app, &alice, &format!("private-chat.{with_bob}"))
        .await;
    app.send_text(&carol, with_carol, "not subscribed").await;
    app.send_text(&bob, with_bob, "subscribed").await;
    let e = p.next_event("new-message").await;
    assert_eq!(data_of(&e)["message"]["content"], "subscribed", "{e}");
    assert!(p.next_within(QUIET).await.is_none());
}

#[actix_rt::test]
async fn presence_members_count_users_not_tabs() {
    let app = pusher_app().await;
    let alice = app.signup("+14155552006", "Alice").await;
    let bob = app.signup("+14155552007", "Bob").await;
    let chat = app.private_chat(&alice, &bob).await;
    let channel = format!("presence-chat.{chat}");
    let mut a = PusherClient::connect(&app).await;
    let ok = a.join(&app, &alice, &channel).await;
    let presence = &data_of(&ok)["presence"];
    assert_eq!(presence["count"], 1, "{ok}");
    assert_eq!(presence["hash"][alice.id.to_string()]["name"], "Alice");
    let mut b1 = PusherClient::connect(&app).await;
    let ok = b1.join(&app, &bob, &channel).await;
    assert_eq!(data_of(&ok)["presence"]["count"], 2, "{ok}");
    let added = a.next_event("pusher_internal:member_added").await;
    assert_eq!(data_of(&added)["user_id"], bob.id);
    assert_eq!(data_of(&added)["user_info"]["name"], "Bob");
    // Bob's second tab is not a second member.
    let mut b2 = PusherClient::connect(&app).await;
    b2.join(&app, &bob, &channel).await;
    // Closing one tab removes nobody; closing the last removes Bob.
    b2.send(json!({ "event": "pusher:unsubscribe", "data": { "channel": channel } }))
        .await;
    b2.send(json!({ "event": "pusher:ping", "data": {} })).await;
    b2.next_event("pusher:pong").await;
    assert!(
        a.next_within(QUIET).await.is_none(),
        "no second member_added, no member_removed"
    );
    drop(b1);
    let removed = a.next_event("pusher_internal:member_removed").await;
    assert_eq!(data_of(&removed)["user_id"], bob.id, "{removed}");
}

#[actix_rt::test]
async fn a_removed_member_subscriptions_end_at_once() {
    let app = pusher_app().await;
    let admin = app.signup("+14155552008", "Admin").await;
    let member = app.signup("+14155552009", "Member").await;
    app.open_to_groups(&member).await;
    let r = app
        .post(
            "/api/groups",
            Some(&admin.token),
            json!({ "name": "G", "participants": [member.id] }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let group = r.body["group"]["id"].as_i64().unwrap();
    let mut p = PusherClient::connect(&app).await;
    p.join(&app, &member, &format!("private-chat.{group}"))
        .await;
    p.join(&app, &member, &format!("presence-chat.{group}"))
        .await;
    let mut watcher = PusherClient::connect(&app).await;
    watcher
        .join(&app, &admin, &format!("presence-chat.{group}"))
        .await;
    let r = app
        .delete(
            &format!("/api/groups/{group}/members/{}", member.id),
            &admin.token,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let e = p.next_event("member-removed").await;
    assert_eq!(data_of(&e)["user_id"], member.id);
    let gone = watcher.next_event("pusher_internal:member_removed").await;
    assert_eq!(data_of(&gone)["user_id"], member.id);
    app.send_text(&admin, group, "after the removal").await;
    // Nothing of the chat reaches the removed member's socket any more.
    while let Some(f) = p.next_within(QUIET).await {
        let later =
            f["event"] == "new-message" && data_of(&f)["message"]["content"] == "after the removal";
        assert!(!later, "{f}");
    }
    let r = super::client::authorize(
        &app,
        &member,
        &p.socket_id,
        &format!("private-chat.{group}"),
    )
    .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
}
