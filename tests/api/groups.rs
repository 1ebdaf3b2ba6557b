//! Groups: creation, settings, members, roles, receipts across members, and who may do what.

use serde_json::{json, Value};

use crate::helpers::{phone, spawn_app, spawn_app_with, TestApp, TestUser};
use crate::ws::WsClient;

/// Users who let anyone add them to groups (consent has tests of its own).
async fn users(app: &TestApp, names: &[&str]) -> Vec<TestUser> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let user = app.signup(&phone(i as u32 + 1), name).await;
        app.open_to_groups(&user).await;
        out.push(user);
    }
    out
}

async fn group(app: &TestApp, admin: &TestUser, members: &[&TestUser], name: &str) -> i64 {
    let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
    let r = app
        .post(
            "/api/groups",
            Some(&admin.token),
            json!({"name": name, "participants": ids}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["group"]["id"].as_i64().unwrap()
}

#[actix_web::test]
async fn a_group_is_created_with_its_creator_as_admin_and_everyone_told() {
    let app = spawn_app().await;
    let u = users(&app, &["Ana", "Bo", "Cy"]).await;
    let mut bo_ws = WsClient::connect(&app, &u[1].token).await;
    let r = app
        .post("/api/groups", Some(&u[0].token), json!({"name": "Dev Team", "description": "Builders", "participants": [u[1].id, u[2].id]}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let g = &r.body["group"];
    assert_eq!(
        (
            g["name"].as_str(),
            g["participants_count"].as_i64(),
            g["created_by"].as_i64()
        ),
        (Some("Dev Team"), Some(3), Some(u[0].id))
    );
    let id = g["id"].as_i64().unwrap();

    let r = app.get(&format!("/api/groups/{id}"), &u[1].token).await;
    assert_eq!(r.body["created_by"], json!({"id": u[0].id, "name": "Ana"}));
    let roles: Vec<(i64, &str)> = r.body["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_i64().unwrap(), p["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [(u[0].id, "admin"), (u[1].id, "member"), (u[2].id, "member")]
    );
    assert!(r.body["participants"][0]["joined_at"].as_str().is_some());

    // Bo's socket learns of the group: the system message and the member list.
    let m = bo_ws.next_of("new-message").await;
    assert_eq!(
        (
            m["data"]["chat_id"].as_i64(),
            m["data"]["message"]["message_type"].as_str()
        ),
        (Some(id), Some("system"))
    );
    assert_eq!(m["data"]["message"]["system"]["action"], "created");
    assert_eq!(
        bo_ws.next_of("member-added").await["data"]["members"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // It is a chat like any other: in the list, with its history.
    let list = app.get("/api/chats", &u[2].token).await;
    assert_eq!(
        (
            list.body["chats"][0]["type"].as_str(),
            list.body["chats"][0]["name"].as_str()
        ),
        (Some("group"), Some("Dev Team"))
    );
    assert_eq!(list.body["chats"][0]["is_member"], true);
    let history = app.history(&u[2], id).await;
    assert_eq!(history[0]["content"], "Ana created the group \"Dev Team\"");
    // System messages record what happened and stay as they are.
    let system = history[0]["id"].as_i64().unwrap();
    let r = app
        .delete(&format!("/api/messages/{system}"), &u[0].token)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "system_message"));
    let r = app
        .post(
            &format!("/api/messages/{system}/reactions"),
            Some(&u[1].token),
            json!({"emoji": "👍"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "system_message"));
}

#[actix_web::test]
async fn bad_group_input_is_refused_with_the_field_and_ids_named() {
    let app = spawn_app_with(|s| s.limits.max_group_size = 3).await;
    let u = users(&app, &["Ana", "Bo", "Cy", "Di"]).await;
    let cases = [
        (json!({"name": "", "participants": []}), "name", None),
        (
            json!({"name": "x".repeat(101), "participants": []}),
            "name",
            None,
        ),
        (json!({"participants": []}), "name", None),
        (
            json!({"name": "G", "participants": [u[1].id, u[1].id]}),
            "participants",
            Some(vec![u[1].id]),
        ),
        (
            json!({"name": "G", "participants": [u[0].id]}),
            "participants",
            None,
        ),
        (
            json!({"name": "G", "participants": [u[1].id, 999_999]}),
            "participants",
            Some(vec![999_999]),
        ),
        (
            json!({"name": "G", "participants": ["2"]}),
            "participants[0]",
            None,
        ),
        (
            json!({"name": "G", "participants": [u[1].id, u[2].id, u[3].id]}),
            "participants",
            None,
        ),
        (json!({"name": "G", "description": 5}), "description", None),
    ];
    for (body, field, ids) in cases {
        let r = app
            .post("/api/groups", Some(&u[0].token), body.clone())
            .await;
        assert_eq!(r.status, 422, "{body}: {:?}", r.body);
        assert_eq!(
            r.body["error"]["field"].as_str(),
            Some(field),
            "{body}: {:?}",
            r.body
        );
        if let Some(ids) = ids {
            assert_eq!(r.body["error"]["ids"], json!(ids), "{body}");
        }
    }
    assert!(
        app.get("/api/chats", &u[0].token).await.body["chats"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
}

#[actix_web::test]
async fn only_admins_manage_a_group_and_outsiders_cannot_see_it() {
    let app = spawn_app().await;
    let u = users(&app, &["Ana", "Bo", "Cy", "Eve"]).await;
    let id = group(&app, &u[0], &[&u[1], &u[2]], "Team").await;
    let (bo, eve) = (&u[1], &u[3]);
    let (cy_id, eve_id) = (u[2].id, u[3].id);
    let attempts = |who: &TestUser| {
        let who = who.clone();
        let app = &app;
        async move {
            vec![
                app.put(
                    &format!("/api/groups/{id}"),
                    &who.token,
                    json!({"name": "Mine"}),
                )
                .await,
                app.post(
                    &format!("/api/groups/{id}/members"),
                    Some(&who.token),
                    json!({"user_ids": [eve_id]}),
                )
                .await,
                app.delete(&format!("/api/groups/{id}/members/{cy_id}"), &who.token)
                    .await,
                app.put(
                    &format!("/api/groups/{id}/members/{cy_id}/role"),
                    &who.token,
                    json!({"role": "admin"}),
                )
                .await,
            ]
        }
    };
    for r in attempts(bo).await {
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (403, "not_admin"),
            "{:?}",
            r.body
        );
    }
    for r in attempts(eve).await {
        assert_eq!(r.status, 404, "{:?}", r.body);
    }
    assert_eq!(
        app.get(&format!("/api/groups/{id}"), &eve.token)
            .await
            .status,
        404
    );
    assert_eq!(
        app.post(
            &format!("/api/groups/{id}/leave"),
            Some(&eve.token),
            json!({})
        )
        .await
        .status,
        404
    );
    let r = app
        .put(
            &format!("/api/groups/{id}/members/{}/role", u[1].id),
            &u[0].token,
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("role"))
    );
    let r = app
        .put(&format!("/api/groups/{id}"), &u[0].token, json!({}))
        .await;
    assert_eq!(r.status, 422);

    // The admin renames it: members are told, and a system message says so.
    let mut cy = WsClient::connect(&app, &u[2].token).await;
    let r = app
        .put(
            &format!("/api/groups/{id}"),
            &u[0].token,
            json!({"name": "Crew", "description": "All hands"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["group"]["name"].as_str()),
        (200, Some("Crew"))
    );
    let e = cy.next_of("chat-updated").await;
    assert_eq!(
        (
            e["data"]["name"].as_str(),
            e["data"]["description"].as_str()
        ),
        (Some("Crew"), Some("All hands"))
    );
    let history = app.history(&u[2], id).await;
    assert_eq!(
        history.last().unwrap()["content"],
        "Ana changed the group name to \"Crew\" and changed the group description"
    );
}

#[actix_web::test]
async fn members_come_and_go_and_a_removed_member_gets_nothing_more() {
    let app = spawn_app().await;
    let u = users(&app, &["Ana", "Bo", "Cy", "Di"]).await;
    let (ana, bo, cy, di) = (&u[0], &u[1], &u[2], &u[3]);
    let id = group(&app, ana, &[bo], "Team").await;
    let mut bo_ws = WsClient::connect(&app, &bo.token).await;

    let r = app
        .post(
            &format!("/api/groups/{id}/members"),
            Some(&ana.token),
            json!({"user_ids": [bo.id, cy.id, di.id]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["added_members"],
        json!([{"id": cy.id, "name": "Cy"}, {"id": di.id, "name": "Di"}]),
        "Bo was already in"
    );
    let e = bo_ws.next_of("member-added").await;
    assert_eq!(e["data"]["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get(&format!("/api/groups/{id}"), &ana.token).await.body["participants_count"],
        4
    );
    let r = app
        .post(
            &format!("/api/groups/{id}/members"),
            Some(&ana.token),
            json!({"user_ids": [cy.id]}),
        )
        .await;
    assert_eq!(
        r.body["added_members"],
        json!([]),
        "adding a member again changes nothing"
    );

    let before = app.send_text(ana, id, "before").await["id"]
        .as_i64()
        .unwrap();
    let r = app
        .delete(&format!("/api/groups/{id}/members/{}", bo.id), &ana.token)
        .await;
    assert_eq!(r.status, 200);
    let removed = bo_ws.next_of("member-removed").await;
    assert_eq!(
        (
            removed["data"]["user_id"].as_i64(),
            removed["data"]["left"].as_bool()
        ),
        (Some(bo.id), Some(false))
    );

    // After removal: nothing reaches Bo, he cannot send, his history stops where he left.
    let after = app.send_text(ana, id, "after").await["id"]
        .as_i64()
        .unwrap();
    let r = app
        .post(
            &format!("/api/chats/{id}/messages"),
            Some(&bo.token),
            json!({"content": "hello?"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let seen: Vec<i64> = app
        .history(bo, id)
        .await
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(seen.contains(&before) && !seen.contains(&after), "{seen:?}");
    bo_ws
        .send_json(json!({"type": "ping", "ref": "barrier"}))
        .await;
    let frames = bo_ws.collect_until(|f| f["ref"] == "barrier").await;
    let got: Vec<&Value> = frames
        .iter()
        .filter(|f| f["type"] == "new-message")
        .collect();
    assert!(
        got.iter()
            .all(|f| f["data"]["message"]["id"].as_i64().unwrap() < after),
        "{got:?}"
    );
    let list = app.get("/api/chats", &bo.token).await;
    assert_eq!(
        list.body["chats"][0]["is_member"], false,
        "the group shows as left"
    );
    assert_eq!(
        list.body["chats"][0]["last_message"]["content"], "Ana removed Bo",
        "and nothing after it"
    );
    assert_eq!(
        app.get(&format!("/api/groups/{id}"), &bo.token).await.body["is_member"],
        false
    );

    // A member leaves on their own.
    let r = app
        .post(
            &format!("/api/groups/{id}/leave"),
            Some(&di.token),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["message"].as_str()),
        (200, Some("Left group successfully"))
    );
    let history = app.history(ana, id).await;
    assert_eq!(history.last().unwrap()["content"], "Di left");
    let r = app
        .delete(&format!("/api/groups/{id}/members/{}", di.id), &ana.token)
        .await;
    assert_eq!(r.status, 404, "not a member any more");
}

#[actix_web::test]
async fn when_the_last_admin_leaves_the_longest_standing_member_takes_over() {
    let app = spawn_app().await;
    let u = users(&app, &["Ana", "Bo", "Cy"]).await;
    let id = group(&app, &u[0], &[&u[1]], "Team").await;
    app.post(
        &format!("/api/groups/{id}/members"),
        Some(&u[0].token),
        json!({"user_ids": [u[2].id]}),
    )
    .await;
    let mut cy = WsClient::connect(&app, &u[2].token).await;

    // The only admin cannot step down while others remain.
    let r = app
        .put(
            &format!("/api/groups/{id}/members/{}/role", u[0].id),
            &u[0].token,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "last_admin"));

    app.post(
        &format!("/api/groups/{id}/leave"),
        Some(&u[0].token),
        json!({}),
    )
    .await;
    let e = cy.next_of("role-changed").await;
    assert_eq!(
        (e["data"]["user_id"].as_i64(), e["data"]["role"].as_str()),
        (Some(u[1].id), Some("admin"))
    );
    let r = app.get(&format!("/api/groups/{id}"), &u[2].token).await;
    let bo = r.body["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == u[1].id)
        .unwrap()
        .clone();
    assert_eq!(bo["role"], "admin");

    // The new admin promotes and demotes.
    let r = app
        .put(
            &format!("/api/groups/{id}/members/{}/role", u[2].id),
            &u[1].token,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["role"].as_str()),
        (200, Some("admin"))
    );
    assert_eq!(cy.next_of("role-changed").await["data"]["role"], "admin");
    let r = app
        .put(
            &format!("/api/groups/{id}/members/{}/role", u[1].id),
            &u[1].token,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(r.status, 200, "with another admin, stepping down is fine");
}

/// The status the sender sees on the chat's newest message.
async fn last_status(app: &TestApp, token: &str, chat: i64) -> String {
    let h = app.get(&format!("/api/chats/{chat}/messages"), token).await;
    h.body["messages"].as_array().unwrap().last().unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[actix_web::test]
async fn a_group_message_is_delivered_and_read_only_when_every_member_got_there() {
    let app = spawn_app().await;
    let u = users(&app, &["Ana", "Bo", "Cy"]).await;
    let id = group(&app, &u[0], &[&u[1], &u[2]], "Team").await;
    let m = app.send_text(&u[0], id, "all hands").await["id"]
        .as_i64()
        .unwrap();
    let mut bo = WsClient::connect(&app, &u[1].token).await;
    bo.request(json!({"type": "delivered", "message_ids": [m]}))
        .await;
    assert_eq!(
        last_status(&app, &u[0].token, id).await,
        "sent",
        "Cy's device has not got it yet"
    );
    let mut cy = WsClient::connect(&app, &u[2].token).await;
    cy.request(json!({"type": "read", "chat_id": id, "message_id": m}))
        .await;
    assert_eq!(last_status(&app, &u[0].token, id).await, "delivered");
    bo.request(json!({"type": "read", "chat_id": id, "message_id": m}))
        .await;
    assert_eq!(last_status(&app, &u[0].token, id).await, "read");
    let info = app
        .get(&format!("/api/messages/{m}/info"), &u[0].token)
        .await;
    let who: Vec<i64> = info.body["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(who, [u[1].id, u[2].id]);
    assert!(info.body["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["read_at"].is_string()));

    // Typing in a group names who is typing.
    cy.request(json!({"type": "typing", "chat_id": id, "is_typing": true}))
        .await;
    let t = bo.next_of("user-typing").await;
    assert_eq!(
        (
            t["data"]["user"]["name"].as_str(),
            t["data"]["chat_id"].as_i64()
        ),
        (Some("Cy"), Some(id))
    );
}
