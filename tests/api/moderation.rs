//! Reports and moderation through the real HTTP API and WebSocket: users' reports, the admin
//! API (and its 404 to everyone else), the audit log, the content filter and the automatic
//! suspensions, with the manual clock.

mod admin;
mod defence;
mod reports;

use serde_json::{json, Value};

use crate::helpers::{phone, spawn_app_with, Resp, TestApp, TestUser};

/// The phone number of the admin every moderation app lists in `moderation.admins`.
fn admin_phone() -> String {
    phone(900)
}

/// A server with `admin_phone()` as a configured admin, after `tweak`.
async fn mod_app(tweak: impl FnOnce(&mut courier::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.moderation.admins = vec![admin_phone()];
        // Tests move the clock by hours: tokens and quiet sockets must outlive that.
        s.auth.access_ttl_secs = 7 * 86400;
        s.realtime.client_timeout_secs = 7 * 86400;
        tweak(s);
    })
    .await
}

/// Signs the configured admin up.
async fn admin_user(app: &TestApp) -> TestUser {
    app.signup(&admin_phone(), "Moderator").await
}

async fn report(app: &TestApp, who: &TestUser, body: Value) -> Resp {
    app.post("/api/reports", Some(&who.token), body).await
}

/// Every report, as an admin lists them.
async fn all_reports(app: &TestApp, admin: &TestUser) -> Vec<Value> {
    let r = app
        .get("/api/admin/reports?status=all&per_page=100", &admin.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["reports"].as_array().unwrap().clone()
}

/// The audit log's entries, newest first.
async fn audit(app: &TestApp, admin: &TestUser) -> Vec<Value> {
    let r = app.get("/api/admin/audit?per_page=100", &admin.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["entries"].as_array().unwrap().clone()
}

/// A group of `owner` with `members` (who accept being added by anyone).
async fn group(app: &TestApp, owner: &TestUser, members: &[&TestUser]) -> i64 {
    for m in members {
        app.open_to_groups(m).await;
    }
    let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
    let r = app
        .post(
            "/api/groups",
            Some(&owner.token),
            json!({"name": "Club", "participants": ids}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["group"]["id"].as_i64().unwrap()
}
