//! Who may add whom to a group (privacy `groups`: everyone, contacts, nobody) and the invites
//! sent instead: the `group-invite` event, listing, accepting, declining and expiry.

use serde_json::{json, Value};

use crate::helpers::{phone, spawn_app, spawn_app_with, Resp, TestApp, TestUser};
use crate::media::upload;
use crate::ws::WsClient;

/// How long an invite lasts by default: 72 hours.
const TTL: u64 = 72 * 3600;

async fn create(app: &TestApp, admin: &TestUser, members: &[i64]) -> Resp {
    let r = app
        .post(
            "/api/groups",
            Some(&admin.token),
            json!({"name": "Team", "participants": members}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r
}

async fn add(app: &TestApp, admin: &TestUser, group: i64, ids: &[i64]) -> Resp {
    app.post(
        &format!("/api/groups/{group}/members"),
        Some(&admin.token),
        json!({ "user_ids": ids }),
    )
    .await
}

async fn invites(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let r = app.get("/api/groups/invites", &user.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["invites"].as_array().unwrap().clone()
}

async fn answer(app: &TestApp, user: &TestUser, invite: i64, action: &str) -> Resp {
    app.post(
        &format!("/api/groups/invites/{invite}/{action}"),
        Some(&user.token),
        json!({}),
    )
    .await
}

/// `[{id, name}]` of users.
fn briefs(users: &[(&TestUser, &str)]) -> Value {
    users
        .iter()
        .map(|(u, name)| json!({"id": u.id, "name": name}))
        .collect()
}

/// Every frame the socket got up to now (a ping's answer marks the end).
async fn drain(ws: &mut WsClient) -> Vec<Value> {
    ws.send_json(json!({"type": "ping", "ref": "barrier"}))
        .await;
    ws.collect_until(|f| f["ref"] == "barrier").await
}

#[actix_web::test]
async fn a_stranger_is_invited_instead_of_added_and_told_on_their_socket() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    // Cy has Ana in his contacts: the default setting (`contacts`) lets her add him.
    app.save_contact(&cy, &ana).await;
    let mut bo_ws = WsClient::connect(&app, &bo.token).await;

    let r = create(&app, &ana, &[bo.id, cy.id]).await;
    let id = r.body["group"]["id"].as_i64().unwrap();
    assert_eq!(r.body["added_members"], briefs(&[(&cy, "Cy")]));
    assert_eq!(r.body["invited"], briefs(&[(&bo, "Bo")]));
    assert_eq!(r.body["group"]["participants_count"], 2);

    let e = bo_ws.next_of("group-invite").await;
    assert_eq!(e["channel"], format!("private-user.{}", bo.id));
    let invite = &e["data"];
    assert_eq!(
        (
            invite["group"]["id"].as_i64(),
            invite["group"]["name"].as_str(),
            invite["group"]["participants_count"].as_i64(),
            invite["invited_by"]["id"].as_i64(),
            invite["invited_by"]["name"].as_str(),
        ),
        (Some(id), Some("Team"), Some(2), Some(ana.id), Some("Ana"))
    );
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(invite[field].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        (at("expires_at") - at("created_at")).num_seconds(),
        TTL as i64
    );
    // The invite is all Bo got: he is not in the group, which stays out of his sight.
    let frames = drain(&mut bo_ws).await;
    assert!(
        !frames
            .iter()
            .any(|f| f["type"] == "new-message" || f["type"] == "member-added"),
        "{frames:?}"
    );
    assert_eq!(
        app.get(&format!("/api/groups/{id}"), &bo.token)
            .await
            .status,
        404
    );
    let chats = app.get("/api/chats", &bo.token).await;
    assert_eq!(chats.body["chats"], json!([]));
    // His pending invites say what the event said.
    assert_eq!(invites(&app, &bo).await, vec![invite.clone()]);
    let members = app.get(&format!("/api/groups/{id}"), &ana.token).await;
    assert_eq!(members.body["participants_count"], 2);
}

#[actix_web::test]
async fn accepting_an_invite_joins_the_group_as_an_add_would() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    app.save_contact(&cy, &ana).await;
    let id = create(&app, &ana, &[cy.id]).await.body["group"]["id"]
        .as_i64()
        .unwrap();
    let mut cy_ws = WsClient::connect(&app, &cy.token).await;
    let mut bo_ws = WsClient::connect(&app, &bo.token).await;

    let r = add(&app, &ana, id, &[bo.id]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (&r.body["added_members"], &r.body["invited"]),
        (&json!([]), &briefs(&[(&bo, "Bo")]))
    );
    let invite = bo_ws.next_of("group-invite").await["data"]["id"]
        .as_i64()
        .unwrap();
    let frames = drain(&mut cy_ws).await;
    assert!(
        !frames.iter().any(|f| f["type"] == "member-added"),
        "an invite changes nothing in the group: {frames:?}"
    );

    let r = answer(&app, &bo, invite, "accept").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            r.body["group"]["id"].as_i64(),
            r.body["group"]["participants_count"].as_i64()
        ),
        (Some(id), Some(3))
    );
    let m = cy_ws.next_of("new-message").await;
    assert_eq!(
        (
            m["data"]["message"]["content"].as_str(),
            m["data"]["message"]["system"]["action"].as_str(),
            m["data"]["message"]["system"]["invited_by"].as_i64(),
        ),
        (
            Some("Bo joined, invited by Ana"),
            Some("joined"),
            Some(ana.id)
        )
    );
    for ws in [&mut cy_ws, &mut bo_ws] {
        let e = ws.next_of("member-added").await;
        assert_eq!(
            (
                e["data"]["chat_id"].as_i64(),
                e["data"]["members"][0]["user"]["id"].as_i64(),
                e["data"]["by"]["id"].as_i64()
            ),
            (Some(id), Some(bo.id), Some(bo.id))
        );
    }
    let info = app.get(&format!("/api/groups/{id}"), &bo.token).await;
    assert_eq!(
        (
            info.body["is_member"].as_bool(),
            info.body["my_role"].as_str()
        ),
        (Some(true), Some("member"))
    );
    assert_eq!(
        app.send_text(&bo, id, "hello all").await["content"],
        "hello all"
    );
    // The invite is spent.
    assert!(invites(&app, &bo).await.is_empty());
    for action in ["accept", "decline"] {
        let r = answer(&app, &bo, invite, action).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "not_found"),
            "{action}"
        );
    }
    // Having been a member gives no right to be put back: he is asked again.
    let r = app
        .post(
            &format!("/api/groups/{id}/leave"),
            Some(&bo.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = add(&app, &ana, id, &[bo.id]).await;
    assert_eq!(
        (&r.body["added_members"], &r.body["invited"]),
        (&json!([]), &briefs(&[(&bo, "Bo")]))
    );
}

#[actix_web::test]
async fn a_declined_or_expired_invite_leaves_the_user_out() {
    // Tokens outlive the 72 hours the clock moves.
    let app = spawn_app_with(|s| s.auth.access_ttl_secs = 7 * 24 * 3600).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let first = create(&app, &ana, &[bo.id]).await.body["group"]["id"]
        .as_i64()
        .unwrap();
    let second = create(&app, &ana, &[bo.id]).await.body["group"]["id"]
        .as_i64()
        .unwrap();
    let listed = invites(&app, &bo).await;
    let groups: Vec<i64> = listed
        .iter()
        .map(|i| i["group"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(groups, [second, first], "newest first");
    let (to_second, to_first) = (
        listed[0]["id"].as_i64().unwrap(),
        listed[1]["id"].as_i64().unwrap(),
    );

    let r = answer(&app, &bo, to_first, "decline").await;
    assert_eq!(
        (r.status.as_u16(), r.body["success"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(answer(&app, &bo, to_first, "accept").await.status, 404);
    assert_eq!(invites(&app, &bo).await.len(), 1);
    let r = app.get(&format!("/api/groups/{first}"), &ana.token).await;
    assert_eq!(r.body["participants_count"], 1);

    // The other one lapses after 72 hours.
    app.advance(TTL - 1);
    assert_eq!(invites(&app, &bo).await.len(), 1, "not yet");
    app.advance(1);
    assert!(invites(&app, &bo).await.is_empty());
    for action in ["accept", "decline"] {
        assert_eq!(answer(&app, &bo, to_second, action).await.status, 404);
    }
    assert_eq!(
        app.get(&format!("/api/groups/{second}"), &bo.token)
            .await
            .status,
        404
    );
    // Ana may invite him again.
    let r = add(&app, &ana, second, &[bo.id]).await;
    assert_eq!(r.body["invited"], briefs(&[(&bo, "Bo")]));
    assert_eq!(invites(&app, &bo).await.len(), 1);
}

#[actix_web::test]
async fn everyone_adds_directly_contacts_needs_the_adder_saved_nobody_always_invites() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let di = app.signup(&phone(4), "Di").await;
    let eve = app.signup(&phone(5), "Eve").await;
    for (user, setting) in [(&bo, "everyone"), (&di, "nobody")] {
        let r = app
            .put("/api/user/privacy", &user.token, json!({"groups": setting}))
            .await;
        assert_eq!(
            (
                r.status.as_u16(),
                r.body["privacy_settings"]["groups"].as_str()
            ),
            (200, Some(setting))
        );
    }
    let shown = |r: Resp| r.body["privacy_settings"]["groups"].clone();
    assert_eq!(
        shown(app.get("/api/user/profile", &di.token).await),
        "nobody"
    );
    assert_eq!(
        shown(app.get("/api/user/profile", &eve.token).await),
        "contacts",
        "the default"
    );
    // Cy and Di have Ana in their contacts; Eve does not (that Ana has her does not count).
    app.save_contact(&cy, &ana).await;
    app.save_contact(&di, &ana).await;
    app.save_contact(&ana, &eve).await;
    let mut bo_ws = WsClient::connect(&app, &bo.token).await;

    let r = create(&app, &ana, &[bo.id, cy.id, di.id, eve.id]).await;
    assert_eq!(r.body["added_members"], briefs(&[(&bo, "Bo"), (&cy, "Cy")]));
    assert_eq!(r.body["invited"], briefs(&[(&di, "Di"), (&eve, "Eve")]));
    let id = r.body["group"]["id"].as_i64().unwrap();
    bo_ws.next_of("member-added").await;
    let frames = drain(&mut bo_ws).await;
    assert!(
        !frames.iter().any(|f| f["type"] == "group-invite"),
        "{frames:?}"
    );

    // Later adds follow the same rules; changing a setting takes effect at once.
    let r = add(&app, &ana, id, &[di.id, eve.id]).await;
    assert_eq!(r.body["invited"], briefs(&[(&di, "Di"), (&eve, "Eve")]));
    app.put(
        "/api/user/privacy",
        &eve.token,
        json!({"groups": "everyone"}),
    )
    .await;
    let r = add(&app, &ana, id, &[di.id, eve.id]).await;
    assert_eq!(
        (&r.body["added_members"], &r.body["invited"]),
        (&briefs(&[(&eve, "Eve")]), &briefs(&[(&di, "Di")]))
    );
    assert!(
        invites(&app, &eve).await.is_empty(),
        "joining spends the invite"
    );
    assert_eq!(invites(&app, &di).await.len(), 1, "renewed, still one");
}

#[actix_web::test]
async fn the_multipart_form_invites_as_the_json_form_does() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let form = reqwest::multipart::Form::new()
        .text("name", "Team")
        .text("participants", bo.id.to_string());
    let (status, body) = upload(&app, "/api/groups", &ana, form).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (&body["added_members"], &body["invited"]),
        (&json!([]), &briefs(&[(&bo, "Bo")]))
    );
    assert_eq!(
        invites(&app, &bo).await[0]["group"]["id"],
        body["group"]["id"]
    );
}

#[actix_web::test]
async fn bad_invite_and_privacy_input_gets_clear_errors() {
    let app = spawn_app_with(|s| s.limits.max_group_size = 2).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let di = app.signup(&phone(4), "Di").await;
    app.open_to_groups(&di).await;
    let id = create(&app, &ana, &[bo.id]).await.body["group"]["id"]
        .as_i64()
        .unwrap();
    let invite = invites(&app, &bo).await[0]["id"].as_i64().unwrap();

    // Unknown, malformed, or someone else's: 404 in the error shape, and nothing changes.
    for (who, path) in [
        (&bo, "/api/groups/invites/999999999/accept".to_string()),
        (&bo, "/api/groups/invites/999999999/decline".to_string()),
        (&bo, "/api/groups/invites/abc/accept".to_string()),
        (&cy, format!("/api/groups/invites/{invite}/accept")),
        (&cy, format!("/api/groups/invites/{invite}/decline")),
    ] {
        let r = app.post(&path, Some(&who.token), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"), "{path}");
        assert_eq!(r.body["success"], false);
    }
    assert_eq!(invites(&app, &bo).await.len(), 1);
    assert!(invites(&app, &cy).await.is_empty());
    let r = app
        .request(reqwest::Method::GET, "/api/groups/invites", None, None)
        .await;
    assert_eq!(r.status, 401);
    for body in [json!({"groups": "friends"}), json!({"groups": 1})] {
        let r = app.put("/api/user/privacy", &bo.token, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.body["error"]["field"].as_str()),
            (422, Some("groups")),
            "{body}"
        );
    }
    let r = app
        .post(
            &format!("/api/groups/{id}/members"),
            Some(&ana.token),
            json!({"user_ids": ["x"]}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "validation_failed"));

    // Someone who blocked the adder is refused, invite or not, and gets nothing.
    app.request(
        reqwest::Method::PUT,
        &format!("/api/contacts/{}/block", ana.id),
        Some(&cy.token),
        None,
    )
    .await;
    let r = add(&app, &ana, id, &[cy.id]).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "blocked_by_users"));
    assert_eq!(r.body["error"]["ids"], json!([cy.id]));
    assert!(invites(&app, &cy).await.is_empty());

    // Bo blocked Ana after her invite: he unblocks her first.
    let block = format!("/api/contacts/{}/block", ana.id);
    app.request(reqwest::Method::PUT, &block, Some(&bo.token), None)
        .await;
    let r = answer(&app, &bo, invite, "accept").await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "you_blocked"));
    app.request(reqwest::Method::PUT, &block, Some(&bo.token), None)
        .await;
    // A full group cannot take him.
    assert_eq!(add(&app, &ana, id, &[di.id]).await.status, 200);
    let r = answer(&app, &bo, invite, "accept").await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "group_full"));
    let r = app
        .delete(&format!("/api/groups/{id}/members/{}", di.id), &ana.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(answer(&app, &bo, invite, "accept").await.status, 200);
}

/// Nobody has used the group yet (no room runs for it): the invitee, who is not a member, can
/// still accept.
#[actix_web::test]
async fn an_invite_to_a_group_nobody_has_used_yet_can_be_accepted() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let created = create(&app, &ana, &[bo.id]).await;
    assert_eq!(created.body["invited"], briefs(&[(&bo, "Bo")]));
    assert_eq!(app.live_rooms().await, 0);
    let invite = invites(&app, &bo).await[0]["id"].as_i64().unwrap();
    let r = answer(&app, &bo, invite, "accept").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["group"]["participants_count"], 2);
}
