//! Per-user limits against mass abuse: groups created and users added or invited per hour,
//! profiles looked up per minute; and user ids that cannot be walked through.

use serde_json::json;

use crate::helpers::{phone, spawn_app, spawn_app_with, Resp, TestApp, TestUser};
use crate::media::upload;

fn retry_after(r: &Resp) -> u64 {
    r.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

async fn create(app: &TestApp, admin: &TestUser, members: &[i64]) -> Resp {
    app.post(
        "/api/groups",
        Some(&admin.token),
        json!({"name": "Team", "participants": members}),
    )
    .await
}

async fn chat_count(app: &TestApp, user: &TestUser) -> usize {
    app.get("/api/chats", &user.token).await.body["chats"]
        .as_array()
        .unwrap()
        .len()
}

#[actix_web::test]
async fn creating_groups_is_limited_per_hour_and_reopens() {
    let app = spawn_app_with(|s| {
        s.limits.groups_per_hour = 2;
        // Tokens outlive the hour the clock moves.
        s.auth.access_ttl_secs = 24 * 3600;
    })
    .await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    app.open_to_groups(&bo).await;
    for _ in 0..2 {
        assert_eq!(create(&app, &ana, &[bo.id]).await.status, 201);
    }
    let r = create(&app, &ana, &[bo.id]).await;
    assert_eq!((r.status.as_u16(), r.code()), (429, "rate_limited"));
    assert_eq!(retry_after(&r), 3600);
    let form = reqwest::multipart::Form::new().text("name", "Team");
    let (status, body) = upload(&app, "/api/groups", &ana, form).await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Nothing was stored for the refused ones.
    assert_eq!(
        (chat_count(&app, &ana).await, chat_count(&app, &bo).await),
        (2, 2)
    );
    // Others are not held back.
    assert_eq!(create(&app, &bo, &[]).await.status, 201);

    app.advance(3599);
    assert_eq!(retry_after(&create(&app, &ana, &[]).await), 1);
    app.advance(1);
    assert_eq!(create(&app, &ana, &[bo.id]).await.status, 201);
    // A refused creation does not count.
    let r = create(&app, &ana, &[bo.id, 999_999]).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "unknown_users"));
    assert_eq!(create(&app, &ana, &[]).await.status, 201);
    assert_eq!(create(&app, &ana, &[]).await.status, 429);
}

#[actix_web::test]
async fn adding_and_inviting_is_limited_per_hour_and_reopens() {
    let app = spawn_app_with(|s| {
        s.limits.group_adds_per_hour = 3;
        s.auth.access_ttl_secs = 24 * 3600;
    })
    .await;
    let mut u = Vec::new();
    for (i, name) in ["Ana", "Bo", "Cy", "Di", "Eve"].iter().enumerate() {
        u.push(app.signup(&phone(i as u32 + 1), name).await);
    }
    let (ana, bo, cy, di, eve) = (&u[0], &u[1], &u[2], &u[3], &u[4]);
    for user in [bo, di, eve] {
        app.open_to_groups(user).await;
    }
    let add = |ids: Vec<i64>, group: i64| {
        let (app, token) = (&app, ana.token.clone());
        async move {
            app.post(
                &format!("/api/groups/{group}/members"),
                Some(&token),
                json!({ "user_ids": ids }),
            )
            .await
        }
    };
    // Bo is added, Cy (a stranger) invited: both count.
    let r = create(&app, ana, &[bo.id, cy.id]).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["group"]["id"].as_i64().unwrap();

    let r = add(vec![di.id, eve.id], id).await;
    assert_eq!((r.status.as_u16(), r.code()), (429, "rate_limited"));
    assert_eq!(retry_after(&r), 3600);
    assert_eq!(
        app.get(&format!("/api/groups/{id}"), &ana.token).await.body["participants_count"],
        2,
        "nothing was stored"
    );
    assert_eq!(chat_count(&app, di).await, 0);
    // Adding a member again adds nobody and spends nothing.
    let r = add(vec![bo.id], id).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["added_members"]),
        (200, &json!([]))
    );
    assert_eq!(add(vec![di.id], id).await.status, 200);
    assert_eq!(add(vec![eve.id], id).await.status, 429);
    // More than an hour allows can never pass: a clear 422, not a wait.
    let r = add(vec![eve.id, 999_991, 999_992, 999_993], id).await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("user_ids"))
    );
    let r = create(&app, ana, &[eve.id, 999_991, 999_992, 999_993]).await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("participants"))
    );

    app.advance(3600);
    let r = add(vec![eve.id], id).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["added_members"][0]["id"]),
        (200, &json!(eve.id))
    );
}

#[actix_web::test]
async fn profile_lookups_are_limited_per_minute() {
    let app = spawn_app_with(|s| s.limits.profile_lookups_per_minute = 3).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    let path = format!("/api/users/{}", ana.id);
    for _ in 0..3 {
        assert_eq!(app.get(&path, &bo.token).await.status, 200);
    }
    let r = app.get(&path, &bo.token).await;
    assert_eq!((r.status.as_u16(), r.code()), (429, "rate_limited"));
    assert_eq!(retry_after(&r), 60);
    assert_eq!(app.get(&path, &cy.token).await.status, 200, "per caller");
    app.advance(60);
    assert_eq!(app.get(&path, &bo.token).await.status, 200);
}

#[actix_web::test]
async fn new_users_get_random_ids_that_javascript_holds_exactly() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    for id in [ana.id, bo.id] {
        assert!(id > 0 && id < 1 << 53, "{id}");
    }
    assert_ne!((bo.id - ana.id).abs(), 1, "not the next one");
    // They work as any id does.
    let r = app.get(&format!("/api/users/{}", ana.id), &bo.token).await;
    assert_eq!(r.body["id"], ana.id);
    let chat = app.private_chat(&bo, &ana).await;
    assert_eq!(app.private_chat(&ana, &bo).await, chat);
}

#[test]
fn the_limits_must_be_usable_and_default_to_production_values() {
    let load = |pairs: &[(&str, &str)]| {
        let env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        courier::Settings::load_from(None, env)
    };
    for (key, value) in [
        ("COURIER__LIMITS__GROUPS_PER_HOUR", "0"),
        ("COURIER__LIMITS__GROUP_ADDS_PER_HOUR", "0"),
        ("COURIER__LIMITS__PROFILE_LOOKUPS_PER_MINUTE", "0"),
        ("COURIER__LIMITS__GROUP_INVITE_TTL_SECS", "10"),
        ("COURIER__LIMITS__GROUP_INVITE_TTL_SECS", "99999999"),
    ] {
        let err = load(&[(key, value)]).unwrap_err();
        assert!(err.0.contains("limits."), "{key}={value}: {err}");
    }
    let l = load(&[]).unwrap().limits;
    assert_eq!(
        (
            l.groups_per_hour,
            l.group_adds_per_hour,
            l.group_invite_ttl_secs,
            l.profile_lookups_per_minute
        ),
        (20, 200, 72 * 3600, 60)
    );
}
