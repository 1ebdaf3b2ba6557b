//! Contacts, address-book matching, privacy settings against each kind of viewer, and
//! blocking.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{phone, spawn_app};
use crate::ws::WsClient;

#[actix_web::test]
async fn contacts_are_added_renamed_listed_and_removed() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo Smith").await;
    let r = app
        .post(
            "/api/contacts",
            Some(&ana.token),
            json!({"phone_number": bo.phone, "contact_name": "Bo"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.body["contact"],
        json!({"id": bo.id, "name": "Bo", "phone_number": bo.phone})
    );
    let r = app
        .post(
            "/api/contacts",
            Some(&ana.token),
            json!({"phone_number": bo.phone, "contact_name": "Bobby"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["contact"]["name"].as_str()),
        (200, Some("Bobby"))
    );

    let list = app.get("/api/contacts", &ana.token).await;
    let c = &list.body["contacts"][0];
    assert_eq!(
        (
            c["id"].as_i64(),
            c["name"].as_str(),
            c["profile_name"].as_str()
        ),
        (Some(bo.id), Some("Bobby"), Some("Bo Smith"))
    );
    assert_eq!(
        (c["is_contact"].as_bool(), c["is_blocked"].as_bool()),
        (Some(true), Some(false))
    );

    let bad = [
        (
            json!({"phone_number": "555", "contact_name": "X"}),
            422,
            "phone_number",
            "validation_failed",
        ),
        (
            json!({"phone_number": bo.phone, "contact_name": ""}),
            422,
            "contact_name",
            "validation_failed",
        ),
        (
            json!({"phone_number": ana.phone, "contact_name": "Me"}),
            422,
            "phone_number",
            "validation_failed",
        ),
        (
            json!({"phone_number": "+14155559999", "contact_name": "Ghost"}),
            404,
            "phone_number",
            "user_not_found",
        ),
        (
            json!({"contact_name": "X"}),
            422,
            "phone_number",
            "validation_failed",
        ),
    ];
    for (body, status, field, code) in bad {
        let r = app
            .post("/api/contacts", Some(&ana.token), body.clone())
            .await;
        assert_eq!(
            (
                r.status.as_u16(),
                r.code(),
                r.body["error"]["field"].as_str()
            ),
            (status, code, Some(field)),
            "{body}"
        );
    }

    assert_eq!(
        app.delete(&format!("/api/contacts/{}", bo.id), &ana.token)
            .await
            .status,
        200
    );
    assert_eq!(
        app.delete(&format!("/api/contacts/{}", bo.id), &ana.token)
            .await
            .status,
        404
    );
    assert_eq!(
        app.get("/api/contacts", &ana.token).await.body["contacts"],
        json!([])
    );
}

#[actix_web::test]
async fn an_address_book_is_matched_against_courier_users() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let r = app
        .post(
            "/api/contacts/sync",
            Some(&ana.token),
            json!({"phone_numbers": [bo.phone, "+14155559999", "not a number", ana.phone]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["matches"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            r.body["matches"][0]["user"]["id"].as_i64(),
            r.body["matches"][0]["is_contact"].as_bool()
        ),
        (Some(bo.id), Some(false))
    );
    assert_eq!(r.body["invalid"], json!(["not a number"]));
    let many: Vec<String> = (0..1001).map(|i| phone(100 + i)).collect();
    let r = app
        .post(
            "/api/contacts/sync",
            Some(&ana.token),
            json!({"phone_numbers": many}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("phone_numbers"))
    );
    let r = app
        .post(
            "/api/contacts/sync",
            Some(&ana.token),
            json!({"phone_numbers": "+1555"}),
        )
        .await;
    assert_eq!(r.status, 422);
}

/// Each privacy setting against a contact, a stranger and a blocked viewer.
#[actix_web::test]
async fn privacy_settings_apply_to_each_kind_of_viewer() {
    let app = spawn_app().await;
    let owner = app.signup(&phone(1), "Owner").await;
    let friend = app.signup(&phone(2), "Friend").await;
    let stranger = app.signup(&phone(3), "Stranger").await;
    let pest = app.signup(&phone(4), "Pest").await;
    app.put("/api/user/profile", &owner.token, json!({"about": "Here"}))
        .await;
    app.post(
        "/api/contacts",
        Some(&owner.token),
        json!({"phone_number": friend.phone, "contact_name": "F"}),
    )
    .await;
    app.post(
        "/api/contacts",
        Some(&owner.token),
        json!({"phone_number": pest.phone, "contact_name": "P"}),
    )
    .await;
    app.request(
        Method::PUT,
        &format!("/api/contacts/{}/block", pest.id),
        Some(&owner.token),
        None,
    )
    .await;
    // A last-seen time to hide: the owner connects and goes. The friend's socket hears of it
    // after the time is stored.
    let mut watcher = WsClient::connect(&app, &friend.token).await;
    watcher.watch(&[owner.id]).await;
    drop(WsClient::connect(&app, &owner.token).await);
    loop {
        let e = watcher.next_of("user-status-updated").await;
        if e["data"]["is_online"] == false {
            break;
        }
    }

    let expected = [
        ("everyone", [true, true, false]),
        ("contacts", [true, false, false]),
        ("nobody", [false, false, false]),
    ];
    for (setting, shown) in expected {
        let r = app
            .put(
                "/api/user/privacy",
                &owner.token,
                json!({"about": setting, "last_seen": setting, "profile_photo": setting}),
            )
            .await;
        assert_eq!(r.status, 200);
        for (viewer, visible) in [
            (&friend, shown[0]),
            (&stranger, shown[1]),
            (&pest, shown[2]),
        ] {
            let r = app
                .get(&format!("/api/users/{}", owner.id), &viewer.token)
                .await;
            assert_eq!(
                r.body["about"].is_string(),
                visible,
                "{setting}: about for {}",
                viewer.phone
            );
            let seen = r.body["last_seen_at"].is_string();
            assert_eq!(seen, visible, "{setting}: last seen for {}", viewer.phone);
        }
    }
}

#[actix_web::test]
async fn blocking_stops_private_messages_and_presence_both_ways_but_not_groups() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let chat = app.private_chat(&ana, &bo).await;
    app.open_to_groups(&ana).await;
    app.open_to_groups(&bo).await;
    let r = app
        .post(
            "/api/groups",
            Some(&cy.token),
            json!({"name": "Shared", "participants": [ana.id, bo.id]}),
        )
        .await;
    let group = r.body["group"]["id"].as_i64().unwrap();

    let r = app
        .request(
            Method::PUT,
            &format!("/api/contacts/{}/block", bo.id),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"success": true, "is_blocked": true}));
    let path = format!("/api/chats/{chat}/messages");
    let r = app
        .post(&path, Some(&bo.token), json!({"content": "hey"}))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "blocked"));
    let r = app
        .post(&path, Some(&ana.token), json!({"content": "hey"}))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "you_blocked"));
    let mut bo_ws = WsClient::connect(&app, &bo.token).await;
    assert_eq!(
        bo_ws.send_text(chat, "via socket", "b1").await["code"],
        "blocked"
    );
    assert!(
        app.history(&ana, chat).await.is_empty(),
        "nothing was stored"
    );

    // Bo no longer sees Ana's about, photo, last seen or online state…
    let r = app.get(&format!("/api/users/{}", ana.id), &bo.token).await;
    assert_eq!(
        (r.body["about"].is_null(), r.body["is_online"].as_bool()),
        (true, Some(false))
    );
    // …nor is he told when she comes online; Cy (sharing the group) is.
    let mut cy_ws = WsClient::connect(&app, &cy.token).await;
    cy_ws.watch(&[ana.id]).await;
    let ack = bo_ws.watch(&[ana.id]).await;
    assert_eq!(ack["presence"][0]["last_seen_at"], serde_json::Value::Null);
    let _ana_ws = WsClient::connect(&app, &ana.token).await;
    while cy_ws.next_of("user-status-updated").await["data"]["contact_id"] != ana.id {}
    // Cy has heard; anything sent to Bo at the same moment is queued before this ping's answer.
    bo_ws
        .send_json(json!({"type": "ping", "ref": "barrier"}))
        .await;
    let frames = bo_ws.collect_until(|f| f["ref"] == "barrier").await;
    let about_ana = |f: &&serde_json::Value| {
        f["type"] == "user-status-updated" && f["data"]["contact_id"] == ana.id
    };
    assert!(!frames.iter().any(|f| about_ana(&f)), "{frames:?}");

    // The group they share keeps working.
    let r = app
        .post(
            &format!("/api/chats/{group}/messages"),
            Some(&bo.token),
            json!({"content": "in the group"}),
        )
        .await;
    assert_eq!(r.status, 201);

    // Unblocking restores it all.
    let r = app
        .request(
            Method::PUT,
            &format!("/api/contacts/{}/block", bo.id),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(r.body["is_blocked"], false);
    assert_eq!(
        app.post(&path, Some(&bo.token), json!({"content": "again"}))
            .await
            .status,
        201
    );
    assert!(app
        .get(&format!("/api/users/{}", ana.id), &bo.token)
        .await
        .body["about"]
        .is_string());

    // Bad input: oneself, someone unknown.
    let r = app
        .request(
            Method::PUT,
            &format!("/api/contacts/{}/block", ana.id),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(r.status, 422);
    let r = app
        .request(
            Method::PUT,
            "/api/contacts/999999/block",
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    // A user who blocked the admin cannot be added to a group.
    app.request(
        Method::PUT,
        &format!("/api/contacts/{}/block", cy.id),
        Some(&bo.token),
        None,
    )
    .await;
    let r = app
        .post(
            "/api/groups",
            Some(&cy.token),
            json!({"name": "Again", "participants": [bo.id]}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "blocked_by_users"));
    assert_eq!(r.body["error"]["ids"], json!([bo.id]));
}
