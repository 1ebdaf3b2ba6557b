//! The everyday features of a chat app, through the real HTTP API and WebSocket: starred
//! messages, forwarding, disappearing messages (with the manual clock), search, and numbered
//! history pages.

mod disappearing;
mod forward;
mod search;
mod stars;

use serde_json::json;

use crate::helpers::{phone, spawn_app_with, TestApp, TestUser};

/// A server that leaves the purge of expired messages to the test (it moves the clock).
async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.auth.access_ttl_secs = 200 * 86400;
        s.auth.refresh_ttl_secs = 200 * 86400;
        s.realtime.client_timeout_secs = 200 * 86400;
        s.privacy.expire_every_secs = 0;
        s.privacy.purge_every_secs = 0;
    })
    .await
}

/// Users (numbered from 1) who let anyone add them to groups.
async fn users(app: &TestApp, names: &[&str]) -> Vec<TestUser> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let user = app.signup(&phone(i as u32 + 1), name).await;
        app.open_to_groups(&user).await;
        out.push(user);
    }
    out
}

/// A group `admin` creates with `members`.
async fn group(app: &TestApp, admin: &TestUser, members: &[&TestUser]) -> i64 {
    let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
    let r = app
        .post(
            "/api/groups",
            Some(&admin.token),
            json!({"name": "Team", "participants": ids}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["group"]["id"].as_i64().unwrap()
}

/// The ids of messages in an answer's `messages` (each a message, or `{message, …}`).
fn ids(body: &serde_json::Value) -> Vec<i64> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().or(m["message"]["id"].as_i64()).unwrap())
        .collect()
}

#[actix_web::test]
async fn history_pages_by_number_as_the_prd_asks() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo"]).await;
    let chat = app.private_chat(&u[0], &u[1]).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(
            app.send_text(&u[0], chat, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let page = |q: &'static str| {
        let (app, token) = (&app, u[1].token.clone());
        async move {
            let r = app
                .get(&format!("/api/chats/{chat}/messages?{q}"), &token)
                .await;
            assert_eq!(r.status, 200, "{q}: {:?}", r.body);
            (
                ids(&r.body),
                r.body["pagination"]["has_more"].as_bool().unwrap(),
            )
        }
    };
    // Each page oldest first; page 1 is the newest.
    assert_eq!(page("limit=2&page=1").await, (vec![sent[3], sent[4]], true));
    assert_eq!(page("limit=2&page=2").await, (vec![sent[1], sent[2]], true));
    assert_eq!(page("limit=2&page=3").await, (vec![sent[0]], false));
    assert_eq!(page("limit=2&page=4").await, (vec![], false));
    // Counted from before_message_id when both are given.
    let from = format!("limit=2&page=2&before_message_id={}", sent[4]);
    let r = app
        .get(&format!("/api/chats/{chat}/messages?{from}"), &u[1].token)
        .await;
    assert_eq!(ids(&r.body), vec![sent[0], sent[1]]);
    for bad in ["page=0", "page=-1", "page=x", "page=10001"] {
        let r = app
            .get(&format!("/api/chats/{chat}/messages?{bad}"), &u[1].token)
            .await;
        assert_eq!(r.status, 422, "{bad}: {:?}", r.body);
    }
}
