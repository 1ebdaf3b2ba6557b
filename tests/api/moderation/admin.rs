//! The admin API: hidden from everyone else, reports resolved, a reported message in context,
//! suspension (sockets close, sign-in refused), deletion for everyone, and the audit log that
//! records it all and cannot be changed.

use courier::admin::admins::Action;
use courier::admin::{self, Admin};
use courier_actors::on_conn;
use courier_actors::store::schema::audit_log;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::Method;
use serde_json::json;

use super::{admin_user, all_reports, audit, group, mod_app, report};
use crate::helpers::{phone, TestApp, OTP};
use crate::ws::WsClient;

/// Every admin route with a body that would be valid for an admin.
fn admin_routes() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::GET, "/api/admin/reports", None),
        (Method::GET, "/api/admin/reports/1", None),
        (
            Method::POST,
            "/api/admin/reports/1/resolve",
            Some(json!({"status": "resolved"})),
        ),
        (
            Method::POST,
            "/api/admin/reports/1/resolve",
            Some(json!({"status": 5})),
        ),
        (Method::GET, "/api/admin/reports/1/context", None),
        (Method::POST, "/api/admin/users/1/suspend", Some(json!({}))),
        (Method::POST, "/api/admin/users/1/unsuspend", None),
        (Method::POST, "/api/admin/messages/1/delete", None),
        (Method::POST, "/api/admin/groups/1/delete", None),
        (Method::GET, "/api/admin/audit", None),
        (Method::GET, "/api/admin/audit?page=x", None),
        (Method::GET, "/api/admin/users/abc/suspend", None),
    ]
}

#[actix_web::test]
async fn everyone_but_an_admin_gets_404_on_every_admin_route() {
    let app = mod_app(|_| {}).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let unknown = app.get("/api/nothing-here", &ana.token).await;
    for (method, path, body) in admin_routes() {
        for token in [Some(ana.token.as_str()), None, Some("not-a-token")] {
            let r = app.request(method.clone(), path, token, body.clone()).await;
            assert_eq!(r.status, 404, "{method} {path}: {:?}", r.body);
            assert_eq!(r.code(), unknown.code(), "{method} {path}");
            let expected = format!("no route for {method} {}", path.split('?').next().unwrap());
            assert_eq!(r.body["error"]["message"], expected.as_str());
        }
    }
    // Nothing was done by those requests.
    let admin = admin_user(&app).await;
    assert!(audit(&app, &admin).await.is_empty());
}

#[actix_web::test]
async fn admins_are_granted_and_revoked_with_the_command_line_only() {
    let app = mod_app(|_| {}).await;
    let ana = app.signup(&phone(1), "Ana").await;
    assert_eq!(app.get("/api/admin/reports", &ana.token).await.status, 404);
    let ops = Admin::open(&app.settings, app.clock.clone()).await.unwrap();
    let out = admin::admins::run(&ops, Action::Grant, &ana.phone)
        .await
        .unwrap();
    assert!(out.contains("is now a system admin"), "{out}");
    let again = admin::admins::run(&ops, Action::Grant, &ana.id.to_string())
        .await
        .unwrap();
    assert!(again.contains("already"), "{again}");
    assert_eq!(app.get("/api/admin/reports", &ana.token).await.status, 200);
    let entries = audit(&app, &ana).await;
    assert_eq!(entries[0]["action"], "admin_grant");
    assert_eq!(entries[0]["admin_id"], json!(null));
    assert_eq!(entries[0]["target"], json!({"type": "user", "id": ana.id}));

    admin::admins::run(&ops, Action::Revoke, &ana.phone)
        .await
        .unwrap();
    assert_eq!(app.get("/api/admin/reports", &ana.token).await.status, 404);
    let bad = admin::admins::run(&ops, Action::Grant, "+1")
        .await
        .unwrap_err();
    assert_eq!(bad.exit, 2);
    let missing = admin::admins::run(&ops, Action::Grant, &phone(77))
        .await
        .unwrap_err();
    assert_eq!(missing.exit, 1);
}

#[actix_web::test]
async fn reports_are_listed_by_status_and_resolved_once() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let carl = app.signup(&phone(3), "Carl").await;
    app.private_chat(&ana, &bob).await;
    app.private_chat(&ana, &carl).await;
    let r1 = report(&app, &ana, json!({"user_id": bob.id, "reason": "spam"})).await;
    let r2 = report(&app, &ana, json!({"user_id": carl.id, "reason": "spam"})).await;
    let (id1, id2) = (
        r1.body["report"]["id"].as_i64().unwrap(),
        r2.body["report"]["id"].as_i64().unwrap(),
    );

    let path = format!("/api/admin/reports/{id1}/resolve");
    for (body, field) in [
        (json!({"status": "open"}), "status"),
        (json!({"status": 1}), "status"),
        (json!({}), "status"),
        (
            json!({"status": "resolved", "note": "n".repeat(1001)}),
            "note",
        ),
    ] {
        let r = app.post(&path, Some(&admin.token), body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], field);
    }
    let done = app
        .post(
            &path,
            Some(&admin.token),
            json!({"status": "resolved", "note": "warned"}),
        )
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["report"]["status"], "resolved");
    assert_eq!(done.body["report"]["resolution"]["by"], admin.id);
    assert_eq!(done.body["report"]["resolution"]["note"], "warned");
    let twice = app
        .post(&path, Some(&admin.token), json!({"status": "dismissed"}))
        .await;
    assert_eq!(
        (twice.status.as_u16(), twice.code()),
        (409, "report_closed")
    );
    let dismissed = app
        .post(
            &format!("/api/admin/reports/{id2}/resolve"),
            Some(&admin.token),
            json!({"status": "dismissed"}),
        )
        .await;
    assert_eq!(dismissed.status, 200);
    let unknown = app
        .post(
            "/api/admin/reports/999999/resolve",
            Some(&admin.token),
            json!({"status": "dismissed"}),
        )
        .await;
    assert_eq!(unknown.status, 404);

    let open = app.get("/api/admin/reports", &admin.token).await;
    assert_eq!(
        open.body["pagination"]["total"], 0,
        "open is the default filter? {:?}",
        open.body
    );
    let resolved = app
        .get("/api/admin/reports?status=resolved", &admin.token)
        .await;
    assert_eq!(resolved.body["reports"][0]["id"], id1);
    assert_eq!(resolved.body["pagination"]["total"], 1);
    let page = app
        .get(
            "/api/admin/reports?status=all&per_page=1&page=2",
            &admin.token,
        )
        .await;
    assert_eq!(page.body["reports"][0]["id"], id1);
    assert_eq!(page.body["pagination"]["total_pages"], 2);
    let bad = app
        .get("/api/admin/reports?status=closed", &admin.token)
        .await;
    assert_eq!(bad.status, 422);
    let actions: Vec<String> = audit(&app, &admin)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["dismiss_report", "resolve_report"]);
    assert_eq!(audit(&app, &admin).await[1]["note"], "warned");
}

#[actix_web::test]
async fn an_admin_sees_the_reported_message_among_its_neighbours() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let chat = app.private_chat(&ana, &bob).await;
    let mut ids = Vec::new();
    for i in 0..9 {
        let from = if i % 2 == 0 { &bob } else { &ana };
        ids.push(
            app.send_text(from, chat, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let r = report(
        &app,
        &ana,
        json!({"message_id": ids[4], "reason": "harassment"}),
    )
    .await;
    let id = r.body["report"]["id"].as_i64().unwrap();
    let ctx = app
        .get(
            &format!("/api/admin/reports/{id}/context?around=2"),
            &admin.token,
        )
        .await;
    assert_eq!(ctx.status, 200, "{:?}", ctx.body);
    let texts: Vec<&str> = ctx.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m2", "m3", "m4", "m5", "m6"]);
    assert_eq!(ctx.body["message_id"], ids[4]);
    // A report that names no message has no context; unknown reports are not found.
    let u = report(&app, &ana, json!({"user_id": bob.id, "reason": "spam"})).await;
    let uid = u.body["report"]["id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/api/admin/reports/{uid}/context"), &admin.token)
            .await
            .status,
        404
    );
    assert_eq!(
        app.get("/api/admin/reports/999999/context", &admin.token)
            .await
            .status,
        404
    );
    assert_eq!(
        app.get(
            &format!("/api/admin/reports/{id}/context?around=99"),
            &admin.token
        )
        .await
        .status,
        422
    );
}

/// Signs an existing account in again.
async fn sign_in(app: &TestApp, phone: &str) -> crate::helpers::Resp {
    app.post("/api/auth/send-otp", None, json!({ "phone_number": phone }))
        .await;
    app.post(
        "/api/auth/verify-otp",
        None,
        json!({ "phone_number": phone, "otp": OTP }),
    )
    .await
}

#[actix_web::test]
async fn a_suspended_user_is_cut_off_at_once_and_cannot_sign_in_send_or_connect() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let chat = app.private_chat(&ana, &bob).await;
    let mut ws = WsClient::connect(&app, &bob.token).await;

    let path = format!("/api/admin/users/{}/suspend", bob.id);
    let bad = app
        .post(&path, Some(&admin.token), json!({"note": 5}))
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let r = app
        .post(&path, Some(&admin.token), json!({"note": "spam wave"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(ws.closed().await, 4001);

    let send = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.token),
            json!({"content": "hi"}),
        )
        .await;
    assert_eq!(send.status, 401, "{:?}", send.body);
    let again = sign_in(&app, &bob.phone).await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (403, "account_suspended")
    );
    let connect = WsClient::try_connect(&app, &bob.token)
        .await
        .err()
        .map(|(s, _)| s);
    assert_eq!(connect, Some(401));
    let twice = app.post(&path, Some(&admin.token), json!({})).await;
    assert_eq!(twice.body["already_suspended"], true);
    assert_eq!(
        app.post(
            "/api/admin/users/999999/suspend",
            Some(&admin.token),
            json!({})
        )
        .await
        .status,
        404
    );
    let me = app
        .post(
            &format!("/api/admin/users/{}/suspend", admin.id),
            Some(&admin.token),
            json!({}),
        )
        .await;
    assert_eq!(me.status, 422);

    let lift = app
        .post(
            &format!("/api/admin/users/{}/unsuspend", bob.id),
            Some(&admin.token),
            json!({}),
        )
        .await;
    assert_eq!(lift.body["was_suspended"], true);
    assert_eq!(sign_in(&app, &bob.phone).await.status, 200);
    let entries = audit(&app, &admin).await;
    assert_eq!(entries[0]["action"], "unsuspend");
    assert_eq!(entries[1]["action"], "suspend");
    assert_eq!(entries[1]["note"], "spam wave");
    assert_eq!(entries[1]["admin_id"], admin.id);
    assert_eq!(entries.len(), 2);
}

#[actix_web::test]
async fn an_admin_deletes_a_message_or_a_group_for_everyone() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bob = app.signup(&phone(2), "Bob").await;
    let g = group(&app, &ana, &[&bob]).await;
    let m = app.send_text(&bob, g, "vile words").await;
    let id = m["id"].as_i64().unwrap();
    report(
        &app,
        &ana,
        json!({"message_id": id, "reason": "hate_speech"}),
    )
    .await;
    let mut ws = WsClient::connect(&app, &ana.token).await;

    let r = app
        .post(
            &format!("/api/admin/messages/{id}/delete"),
            Some(&admin.token),
            json!({"note": "hate"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ev = ws.next_of("message-deleted").await;
    assert_eq!(
        (
            ev["data"]["message_id"].as_i64(),
            ev["data"]["for_everyone"].as_bool()
        ),
        (Some(id), Some(true))
    );
    let seen = app.history(&ana, g).await;
    let gone = seen.iter().find(|x| x["id"] == id).unwrap();
    assert!(
        gone["deleted_at"].is_string() && gone["content"].is_null(),
        "{gone}"
    );
    assert_eq!(
        all_reports(&app, &admin).await[0]["message"]["content"],
        "vile words"
    );
    let twice = app
        .post(
            &format!("/api/admin/messages/{id}/delete"),
            Some(&admin.token),
            json!({}),
        )
        .await;
    assert_eq!(
        (twice.status.as_u16(), twice.code()),
        (409, "message_deleted")
    );
    assert_eq!(
        app.post(
            "/api/admin/messages/999999/delete",
            Some(&admin.token),
            json!({})
        )
        .await
        .status,
        404
    );

    let r = app
        .post(
            &format!("/api/admin/groups/{g}/delete"),
            Some(&admin.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ev = ws.next_of("chat-deleted").await;
    assert_eq!(ev["data"]["chat_id"], g);
    let send = app
        .post(
            &format!("/api/chats/{g}/messages"),
            Some(&bob.token),
            json!({"content": "still here?"}),
        )
        .await;
    assert_eq!(send.status, 404, "{:?}", send.body);
    let list = app.get("/api/chats", &ana.token).await;
    assert!(
        list.body["chats"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != g),
        "{:?}",
        list.body
    );
    assert_eq!(
        app.post(
            &format!("/api/admin/groups/{g}/delete"),
            Some(&admin.token),
            json!({})
        )
        .await
        .status,
        404
    );
    let private = app.private_chat(&ana, &bob).await;
    assert_eq!(
        app.post(
            &format!("/api/admin/groups/{private}/delete"),
            Some(&admin.token),
            json!({})
        )
        .await
        .status,
        404
    );
    let actions: Vec<String> = audit(&app, &admin)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["delete_group", "delete_message"]);
}

#[actix_web::test]
async fn the_audit_log_cannot_be_changed_or_emptied() {
    let app = mod_app(|_| {}).await;
    let admin = admin_user(&app).await;
    let bob = app.signup(&phone(2), "Bob").await;
    app.post(
        &format!("/api/admin/users/{}/suspend", bob.id),
        Some(&admin.token),
        json!({"note": "x"}),
    )
    .await;
    let mut conn = app.engine.db.get().await.unwrap();
    let (updated, deleted) = on_conn!(&mut conn.conn(), |c| {
        let u = diesel::update(audit_log::table)
            .set(audit_log::note.eq(Some("rewritten")))
            .execute(c)
            .await;
        let d = diesel::delete(audit_log::table).execute(c).await;
        (u, d)
    });
    let updated = updated.expect_err("update refused");
    assert!(updated.to_string().contains("append-only"), "{updated}");
    assert!(deleted
        .expect_err("delete refused")
        .to_string()
        .contains("append-only"));
    let entries = audit(&app, &admin).await;
    assert_eq!((entries.len(), entries[0]["note"].as_str()), (1, Some("x")));
}
