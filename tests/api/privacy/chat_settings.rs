//! `PUT /api/chats/{id}/settings`: each member's own mute, archive and pin, shown in their
//! chat list (pinned first), with the pin limit and refusals that change nothing.

use reqwest::Method;
use serde_json::{json, Value};

use super::privacy_app;
use crate::helpers::{phone, Resp, TestApp, TestUser};
use crate::ws::WsClient;

async fn set(app: &TestApp, user: &TestUser, chat: i64, body: Value) -> Resp {
    app.put(&format!("/api/chats/{chat}/settings"), &user.token, body)
        .await
}

/// The caller's chat list (ids in order) with each chat's settings.
async fn listed(app: &TestApp, user: &TestUser, query: &str) -> Vec<(i64, Value)> {
    let r = app.get(&format!("/api/chats{query}"), &user.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["settings"].clone()))
        .collect()
}

fn ids(list: &[(i64, Value)]) -> Vec<i64> {
    list.iter().map(|(id, _)| *id).collect()
}

#[actix_web::test]
async fn mute_archive_and_pin_are_per_member_and_shape_the_chat_list() {
    let app = privacy_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let mut chats = Vec::new();
    let mut others = Vec::new();
    for n in 2..=5 {
        let other = app.signup(&phone(n), &format!("User {n}")).await;
        let chat = app.private_chat(&ana, &other).await;
        app.advance(1);
        app.send_text(&other, chat, "hi").await;
        chats.push(chat);
        others.push(other);
    }
    let [b, c, d, e] = [chats[0], chats[1], chats[2], chats[3]];
    // Newest activity first.
    assert_eq!(ids(&listed(&app, &ana, "").await), vec![e, d, c, b]);
    let mut socket = WsClient::connect(&app, &ana.token).await;

    // Mute until a time: muted until then, and the other member sees nothing of it.
    let until = (app.clock.now_utc() + chrono::TimeDelta::hours(8)).to_rfc3339();
    let r = set(&app, &ana, b, json!({ "muted_until": until })).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["settings"]["is_muted"], true);
    let event = socket.next_of("chat-settings-updated").await;
    assert_eq!(event["data"]["chat_id"], b);
    assert_eq!(event["data"]["settings"]["is_muted"], true);
    let list = listed(&app, &ana, "").await;
    assert_eq!(
        list.iter().find(|(id, _)| *id == b).unwrap().1["is_muted"],
        true
    );
    assert_eq!(listed(&app, &others[0], "").await[0].1["is_muted"], false);
    app.advance(8 * 3600 + 1);
    let list = listed(&app, &ana, "").await;
    assert_eq!(
        list.iter().find(|(id, _)| *id == b).unwrap().1["is_muted"],
        false
    );
    let r = set(&app, &ana, b, json!({ "muted_until": until.clone() })).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (422, "validation_failed"),
        "a time past"
    );
    let r = set(
        &app,
        &ana,
        b,
        json!({ "muted_until": "9999-12-31T23:59:59Z" }),
    )
    .await;
    assert_eq!(r.body["settings"]["is_muted"], true, "{:?}", r.body);
    let r = set(&app, &ana, b, json!({ "muted_until": null })).await;
    assert_eq!(
        r.body["settings"]["muted_until"],
        Value::Null,
        "{:?}",
        r.body
    );
    assert_eq!(r.body["settings"]["is_muted"], false);

    // Pins come first, the latest pinned first; at most three.
    for chat in [b, c, d] {
        let r = set(&app, &ana, chat, json!({ "pinned": true })).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        app.advance(1);
    }
    assert_eq!(ids(&listed(&app, &ana, "").await), vec![d, c, b, e]);
    let r = set(
        &app,
        &ana,
        e,
        json!({ "pinned": true, "muted_until": "9999-12-31T23:59:59Z" }),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "too_many_pinned"),
        "{:?}",
        r.body
    );
    let list = listed(&app, &ana, "").await;
    assert_eq!(ids(&list), vec![d, c, b, e]);
    assert_eq!(
        list[3].1["is_muted"], false,
        "a refused change writes nothing"
    );
    let r = set(&app, &ana, c, json!({ "pinned": false })).await;
    assert_eq!(r.body["settings"]["is_pinned"], false, "{:?}", r.body);
    let r = set(&app, &ana, e, json!({ "pinned": true })).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(ids(&listed(&app, &ana, "").await), vec![e, d, b, c]);

    // Archiving unpins; the list can show only archived chats, or only the others.
    let r = set(&app, &ana, d, json!({ "archived": true })).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            r.body["settings"]["is_archived"].clone(),
            r.body["settings"]["is_pinned"].clone()
        ),
        (json!(true), json!(false))
    );
    assert_eq!(ids(&listed(&app, &ana, "?archived=true").await), vec![d]);
    assert_eq!(
        ids(&listed(&app, &ana, "?archived=false").await),
        vec![e, b, c]
    );
    assert_eq!(ids(&listed(&app, &ana, "").await), vec![e, b, d, c]);
    let r = app.get("/api/chats?archived=true", &ana.token).await;
    assert_eq!(r.body["pagination"]["total_items"], 1);
    // Pinning brings a chat back from the archive; the chat's own page shows the settings.
    let r = set(&app, &ana, d, json!({ "pinned": true })).await;
    assert_eq!(r.body["settings"]["is_archived"], false, "{:?}", r.body);
    assert_eq!(r.body["settings"]["is_pinned"], true, "{:?}", r.body);
    let r = set(&app, &ana, d, json!({ "archived": true, "pinned": false })).await;
    assert_eq!(r.body["settings"]["is_archived"], true, "{:?}", r.body);
    let r = set(&app, &ana, d, json!({ "archived": false })).await;
    assert_eq!(r.body["settings"]["is_archived"], false, "{:?}", r.body);
    let r = app.get(&format!("/api/chats/{b}"), &ana.token).await;
    assert_eq!(r.body["settings"]["is_pinned"], true, "{:?}", r.body);
}

#[actix_web::test]
async fn chat_settings_refuse_bad_input_and_foreign_chats_without_writing() {
    let app = privacy_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let carol = app.signup(&phone(3), "Carol").await;
    let chat = app.private_chat(&ana, &bob).await;
    let theirs = app.private_chat(&bob, &carol).await;
    for (body, field) in [
        (json!({}), "muted_until"),
        (json!({"pinned": "yes"}), "pinned"),
        (json!({"archived": 1}), "archived"),
        (json!({"muted_until": "tomorrow"}), "muted_until"),
        (json!({"muted_until": 12}), "muted_until"),
        (
            json!({"muted_until": "2000-01-01T00:00:00Z"}),
            "muted_until",
        ),
        (json!({"archived": true, "pinned": true}), "pinned"),
        (json!({"pinned": true, "starred": true}), "starred"),
    ] {
        let r = set(&app, &ana, chat, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "validation_failed"),
            "{body}: {:?}",
            r.body
        );
        assert_eq!(r.body["error"]["field"], field, "{body}: {:?}", r.body);
    }
    let r = app
        .raw(
            Method::PUT,
            &format!("/api/chats/{chat}/settings"),
            Some(&ana.token),
            "application/json",
            b"[".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = app
        .request(
            Method::PUT,
            &format!("/api/chats/{chat}/settings"),
            None,
            Some(json!({"pinned": true})),
        )
        .await;
    assert_eq!(r.status, 401);
    for id in [theirs, 987_654_321] {
        let r = set(&app, &ana, id, json!({"pinned": true})).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "not_found"),
            "{:?}",
            r.body
        );
    }
    let r = set(&app, &ana, 0, json!({"pinned": true})).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = app
        .put(
            "/api/chats/abc/settings",
            &ana.token,
            json!({"pinned": true}),
        )
        .await;
    assert!(r.status.is_client_error(), "{:?}", r.body);
    let r = app.get("/api/chats?archived=maybe", &ana.token).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "validation_failed"));
    // Nothing was written, for anyone.
    for (who, list) in [
        (&ana, listed(&app, &ana, "").await),
        (&bob, listed(&app, &bob, "").await),
    ] {
        for (_, s) in list {
            assert_eq!(
                s,
                json!({"muted_until": null, "is_muted": false, "is_archived": false, "is_pinned": false, "pinned_at": null}),
                "{}",
                who.id
            );
        }
    }
}
