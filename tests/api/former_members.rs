//! Former members see a group frozen as it was when they left: settings, members, roles,
//! receipts, reactions and texts. Added back, they see the live group again.

use image::ImageFormat;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{phone, spawn_app, TestApp, TestUser};
use crate::media::{fetch, file, picture, send_form, upload};
use crate::ws::WsClient;

async fn users(app: &TestApp, names: &[&str]) -> Vec<TestUser> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let user = app.signup(&phone(i as u32 + 1), name).await;
        app.open_to_groups(&user).await;
        out.push(user);
    }
    out
}

async fn group(app: &TestApp, admin: &TestUser, members: &[&TestUser]) -> i64 {
    let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
    let r = app
        .post(
            "/api/groups",
            Some(&admin.token),
            json!({"name": "Team", "description": "First", "participants": ids}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["group"]["id"].as_i64().unwrap()
}

async fn leave(app: &TestApp, who: &TestUser, id: i64) {
    let r = app
        .post(
            &format!("/api/groups/{id}/leave"),
            Some(&who.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn add(app: &TestApp, admin: &TestUser, id: i64, who: &TestUser) {
    let r = app
        .post(
            &format!("/api/groups/{id}/members"),
            Some(&admin.token),
            json!({"user_ids": [who.id]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn read(app: &TestApp, who: &TestUser, chat: i64, up_to: i64) -> u16 {
    app.put(
        &format!("/api/chats/{chat}/read"),
        &who.token,
        json!({ "message_id": up_to }),
    )
    .await
    .status
    .as_u16()
}

async fn react(app: &TestApp, who: &TestUser, message: i64, emoji: &str) -> u16 {
    app.request(
        Method::POST,
        &format!("/api/messages/{message}/reactions"),
        Some(&who.token),
        Some(json!({ "emoji": emoji })),
    )
    .await
    .status
    .as_u16()
}

/// (id, role) of the participants an answer lists.
fn roster(v: &Value) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = v["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_i64().unwrap(),
                p["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    out.sort();
    out
}

fn message(history: &[Value], id: i64) -> &Value {
    history.iter().find(|m| m["id"] == id).expect("in history")
}

#[actix_web::test]
async fn a_former_member_sees_the_group_as_it_was_when_they_left() {
    let app = spawn_app().await;
    let u = users(&app, &["Ana", "Bo", "Cy", "Di"]).await;
    let (ana, bo, cy, di) = (&u[0], &u[1], &u[2], &u[3]);
    let id = group(&app, ana, &[bo, cy]).await;
    app.advance(5);
    leave(&app, bo, id).await;
    let left_at = app.get(&format!("/api/chats/{id}"), &bo.token).await.body["updated_at"].clone();

    // Bo's private chat with Ana moves after he left; the group changes later still.
    app.advance(5);
    let private = app.private_chat(bo, ana).await;
    app.send_text(ana, private, "still friends?").await;
    app.advance(5);
    let r = app
        .put(
            &format!("/api/groups/{id}"),
            &ana.token,
            json!({"name": "Renamed", "description": "Second"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    add(&app, ana, id, di).await;
    let r = app
        .put(
            &format!("/api/groups/{id}/members/{}/role", cy.id),
            &ana.token,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.send_text(ana, id, "after Bo").await;

    let mut then = vec![(ana.id, "admin".to_string()), (cy.id, "member".to_string())];
    then.sort(); // as `roster` lists them
    let r = app.get(&format!("/api/groups/{id}"), &bo.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            &r.body["name"],
            &r.body["description"],
            &r.body["is_member"]
        ),
        (&json!("Team"), &json!("First"), &json!(false))
    );
    assert_eq!(
        (roster(&r.body), &r.body["participants_count"]),
        (then.clone(), &json!(2))
    );
    assert_eq!(r.body["updated_at"], left_at);

    let r = app.get(&format!("/api/chats/{id}"), &bo.token).await;
    assert_eq!(
        (
            &r.body["name"],
            &r.body["description"],
            &r.body["participants_count"]
        ),
        (&json!("Team"), &json!("First"), &json!(2))
    );
    assert_eq!(r.body["updated_at"], left_at);
    assert_eq!(r.body["last_message"]["content"], "Bo left");

    let list = app.get("/api/chats", &bo.token).await;
    let chats = list.body["chats"].as_array().unwrap();
    let ids: Vec<i64> = chats.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(
        ids,
        vec![private, id],
        "the group's later changes do not lift it"
    );
    assert_eq!(
        (
            &chats[1]["name"],
            &chats[1]["description"],
            &chats[1]["participants_count"]
        ),
        (&json!("Team"), &json!("First"), &json!(2))
    );
    assert_eq!(chats[1]["updated_at"], left_at);

    // Current members see the live group.
    let r = app.get(&format!("/api/groups/{id}"), &ana.token).await;
    assert_eq!(
        (&r.body["name"], &r.body["participants_count"]),
        (&json!("Renamed"), &json!(3))
    );
    assert!(
        roster(&r.body).contains(&(cy.id, "admin".to_string())),
        "{}",
        r.body
    );

    // Added back, Bo sees the live group and the whole history again.
    add(&app, ana, id, bo).await;
    let r = app.get(&format!("/api/groups/{id}"), &bo.token).await;
    assert_eq!(
        (
            &r.body["name"],
            &r.body["participants_count"],
            &r.body["is_member"]
        ),
        (&json!("Renamed"), &json!(4), &json!(true))
    );
    let history = app.history(bo, id).await;
    assert!(history.iter().any(|m| m["content"] == "after Bo"));

    // Leaving again freezes the group as it is then.
    leave(&app, bo, id).await;
    app.put(
        &format!("/api/groups/{id}"),
        &ana.token,
        json!({"name": "Third"}),
    )
    .await;
    let r = app.get(&format!("/api/groups/{id}"), &bo.token).await;
    assert_eq!(
        (&r.body["name"], &r.body["participants_count"]),
        (&json!("Renamed"), &json!(3))
    );
}

#[actix_web::test]
async fn a_former_members_message_info_stops_at_their_departure() {
    let app = spawn_app().await;
    let u = users(&app, &["Ana", "Bo", "Cy", "Di"]).await;
    let (ana, bo, cy, di) = (&u[0], &u[1], &u[2], &u[3]);
    let id = group(&app, ana, &[bo, cy]).await;
    let mine = app.send_text(bo, id, "from Bo").await["id"]
        .as_i64()
        .unwrap();
    app.advance(5);
    assert_eq!(read(&app, cy, id, mine).await, 200);
    app.advance(5);
    leave(&app, bo, id).await;

    // After Bo left: Ana reads his message, Cy leaves, Di joins.
    app.advance(5);
    assert_eq!(read(&app, ana, id, mine).await, 200);
    leave(&app, cy, id).await;
    add(&app, ana, id, di).await;

    let r = app
        .get(&format!("/api/messages/{mine}/info"), &bo.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let recipients = r.body["recipients"].as_array().unwrap();
    let of = |user: &TestUser| {
        recipients
            .iter()
            .find(|r| r["user"]["id"] == user.id)
            .unwrap_or_else(|| panic!("{} listed: {recipients:?}", user.id))
    };
    assert_eq!(
        recipients.len(),
        2,
        "Ana and Cy, as when Bo left: {recipients:?}"
    );
    assert!(of(cy)["read_at"].is_string(), "Cy read it before Bo left");
    assert_eq!(
        (&of(ana)["read_at"], &of(ana)["delivered_at"]),
        (&Value::Null, &Value::Null),
        "Ana read it after"
    );

    // His history shows the status it had then; Ana, a member, sees the live one.
    let status = |h: Vec<Value>| message(&h, mine)["status"].clone();
    assert_eq!(status(app.history(bo, id).await), "sent");
}

#[actix_web::test]
async fn edits_and_reactions_after_a_departure_stay_hidden_from_the_former_member() {
    let app = spawn_app().await;
    let u = users(&app, &["Ana", "Bo", "Cy", "Di"]).await;
    let (ana, bo, cy, di) = (&u[0], &u[1], &u[2], &u[3]);
    let id = group(&app, ana, &[bo, cy]).await;
    let hello = app.send_text(ana, id, "hello").await["id"]
        .as_i64()
        .unwrap();
    let gone = app.send_text(ana, id, "take this back").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(react(&app, cy, hello, "👍").await, 200);
    app.advance(5);
    leave(&app, bo, id).await;

    app.advance(5);
    let r = app
        .put(
            &format!("/api/messages/{hello}"),
            &ana.token,
            json!({"content": "the secret plan"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    add(&app, ana, id, di).await;
    assert_eq!(react(&app, cy, hello, "❤️").await, 200);
    assert_eq!(react(&app, di, hello, "🎉").await, 200);
    assert_eq!(
        app.delete(&format!("/api/messages/{gone}"), &ana.token)
            .await
            .status,
        200
    );

    let expect_then = |m: &Value| {
        assert_eq!(
            (&m["content"], &m["edited_at"]),
            (&json!("hello"), &Value::Null),
            "{m}"
        );
        assert_eq!(
            m["reactions"],
            json!([{"emoji": "👍", "count": 1, "users": [{"id": cy.id, "name": "Cy"}]}])
        );
    };
    let history = app.history(bo, id).await;
    expect_then(message(&history, hello));
    assert_eq!(
        message(&history, gone)["is_deleted"],
        true,
        "a deletion for everyone reaches former members too"
    );

    let mut ws = WsClient::connect(&app, &bo.token).await;
    let page = ws.request(json!({"type": "sync", "since": 0})).await;
    let synced: Vec<Value> = page["messages"].as_array().unwrap().clone();
    expect_then(message(&synced, hello));

    // Members see the edit and every reaction.
    let live = app.history(ana, id).await;
    let m = message(&live, hello);
    assert_eq!(m["content"], "the secret plan");
    assert_eq!(m["reactions"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn a_former_member_keeps_the_group_photo_they_saw() {
    let app = spawn_app().await;
    let u = users(&app, &["Ana", "Bo"]).await;
    let (ana, bo) = (&u[0], &u[1]);
    let form = file("avatar", "team.png", picture(200, 200, ImageFormat::Png))
        .text("name", "Team")
        .text("participants", format!("[{}]", bo.id));
    let (status, body) = upload(&app, "/api/groups", ana, form).await;
    assert_eq!(status, 201, "{body}");
    let id = body["group"]["id"].as_i64().unwrap();
    leave(&app, bo, id).await;

    let (status, body) = send_form(
        &app,
        Method::PUT,
        &format!("/api/groups/{id}"),
        ana,
        file("avatar", "new.png", picture(120, 120, ImageFormat::Png)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new = body["group"]["avatar_url"].as_str().unwrap().to_string();

    let seen = app.get(&format!("/api/groups/{id}"), &bo.token).await.body["avatar_url"]
        .as_str()
        .unwrap()
        .to_string();
    let key = |link: &str| link.split('?').next().unwrap().to_string();
    assert_ne!(key(&seen), key(&new), "Bo sees the photo of his time");
    assert_eq!(
        fetch(&app, &seen).await.status(),
        200,
        "and it is still there"
    );
    let listed = app.get("/api/chats", &bo.token).await.body["chats"][0]["avatar_url"].clone();
    assert_eq!(key(listed.as_str().unwrap()), key(&seen));
}
