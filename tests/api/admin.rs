//! The operator's commands (`courier users …`, `courier stats`, `courier backup`) against a
//! real database while a server runs on it, through the functions the binary calls, on SQLite
//! and PostgreSQL; `cli` drives the binary itself. Also the janitor's purge of dead codes and
//! sessions, driven by the manual clock.

mod cli;

use std::time::Duration;

use courier::admin::users::Action;
use courier::admin::{self, Admin, AdminResult};
use courier_actors::on_conn;
use courier_actors::store::schema::{auth_sessions, otp_codes};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::helpers::{phone, spawn_app, spawn_app_with, TestApp, OTP};
use crate::ws::WsClient;

/// An operator's command context on the test server's database and clock, opened as a
/// separate process would (its own pools and writer).
async fn admin(app: &TestApp) -> Admin {
    Admin::open(&app.settings, app.clock.clone())
        .await
        .expect("admin opens")
}

/// A server whose sockets are not closed for silence while a test moves its clock a minute.
async fn patient_app() -> TestApp {
    spawn_app_with(|s| s.realtime.client_timeout_secs = 3600).await
}

async fn users(app: &TestApp, action: Action, who: &str) -> AdminResult<String> {
    admin::users::run(&admin(app).await, action, who).await
}

/// Signs an existing account in once more (another device session); answers its tokens.
async fn sign_in(app: &TestApp, phone: &str) -> crate::helpers::Resp {
    let r = app
        .post("/api/auth/send-otp", None, json!({ "phone_number": phone }))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.post(
        "/api/auth/verify-otp",
        None,
        json!({ "phone_number": phone, "otp": OTP }),
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> crate::helpers::Resp {
    app.request(
        reqwest::Method::POST,
        "/api/auth/refresh",
        Some(token),
        None,
    )
    .await
}

/// Rows of codes and sessions in the database, whatever their state.
async fn rows(app: &TestApp) -> (i64, i64) {
    let mut conn = app.engine.db.get().await.unwrap();
    on_conn!(&mut conn.conn(), |c| {
        let codes: i64 = otp_codes::table.count().get_result(c).await.unwrap();
        let sessions: i64 = auth_sessions::table.count().get_result(c).await.unwrap();
        (codes, sessions)
    })
}

#[actix_web::test]
async fn users_show_prints_the_account_by_phone_or_id() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    assert_eq!(sign_in(&app, &ana.phone).await.status, 200);

    let by_phone = users(&app, Action::Show, &ana.phone).await.unwrap();
    let by_id = users(&app, Action::Show, &ana.id.to_string())
        .await
        .unwrap();
    assert_eq!(by_phone, by_id);
    for line in [
        format!("id: {}", ana.id),
        format!("phone: {}", ana.phone),
        "name: Ana".to_string(),
        "sessions: 2".to_string(),
        "suspended: no".to_string(),
    ] {
        assert!(by_phone.lines().any(|l| l == line), "{line} in {by_phone}");
    }
    assert!(by_phone.contains("created: 20"), "{by_phone}");
}

#[actix_web::test]
async fn users_of_an_unknown_or_malformed_account_fail_with_one_line() {
    let app = spawn_app().await;
    app.signup(&phone(1), "Ana").await;
    for (who, exit, says) in [
        (phone(2), 1, "no user with phone"),
        ("4242".to_string(), 1, "no user with id 4242"),
        ("ana".to_string(), 2, "neither a phone number"),
        ("+12".to_string(), 2, "international form"),
        ("-5".to_string(), 2, "neither a phone number"),
    ] {
        for action in [Action::Show, Action::Suspend, Action::SignOut] {
            let e = users(&app, action, &who).await.unwrap_err();
            assert_eq!(e.exit, exit, "{who}: {e}");
            assert!(e.message.contains(says), "{who}: {e}");
            assert_eq!(e.message.lines().count(), 1, "{e}");
        }
    }
}

#[actix_web::test]
async fn a_suspended_account_is_refused_everywhere_until_unsuspended() {
    let app = patient_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let mut socket = WsClient::connect(&app, &ana.token).await;

    let out = users(&app, Action::Suspend, &ana.phone).await.unwrap();
    assert!(out.contains("1 session(s) ended"), "{out}");
    // Its access token stops working at once, on the server that is running.
    let r = app.get("/api/user/profile", &ana.token).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "unauthorized"),
        "{:?}",
        r.body
    );
    let r = refresh(&app, &ana.refresh).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "account_suspended"),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["success"], false);
    let r = sign_in(&app, &ana.phone).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "account_suspended"),
        "{:?}",
        r.body
    );
    // The open socket closes at the janitor's next run (a minute on the server's clock).
    app.advance(60);
    assert_eq!(socket.closed().await, 4001);
    // Others are untouched.
    assert_eq!(app.get("/api/user/profile", &bo.token).await.status, 200);
    let shown = users(&app, Action::Show, &ana.phone).await.unwrap();
    assert!(shown.contains("suspended: yes, since 20"), "{shown}");
    assert!(shown.contains("sessions: 0"), "{shown}");
    // Suspending again keeps the first time.
    users(&app, Action::Suspend, &ana.phone).await.unwrap();
    assert_eq!(users(&app, Action::Show, &ana.phone).await.unwrap(), shown);

    let out = users(&app, Action::Unsuspend, &ana.id.to_string())
        .await
        .unwrap();
    assert!(out.contains("no longer suspended"), "{out}");
    let out = users(&app, Action::Unsuspend, &ana.phone).await.unwrap();
    assert!(out.contains("was not suspended"), "{out}");
    let r = sign_in(&app, &ana.phone).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = r.body["tokens"]["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/user/profile", token).await.status, 200);
    // The sessions the suspension ended stay ended.
    assert_eq!(app.get("/api/user/profile", &ana.token).await.status, 401);
}

#[actix_web::test]
async fn sign_out_ends_every_session_and_closes_their_sockets() {
    let app = patient_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let second = sign_in(&app, &ana.phone).await;
    let second = second.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut one = WsClient::connect(&app, &ana.token).await;
    let mut two = WsClient::connect(&app, &second).await;

    let out = users(&app, Action::SignOut, &ana.phone).await.unwrap();
    assert!(out.contains("2 session(s) ended"), "{out}");
    for token in [&ana.token, &second] {
        assert_eq!(app.get("/api/user/profile", token).await.status, 401);
    }
    assert_eq!(refresh(&app, &ana.refresh).await.status, 401);
    app.advance(60);
    assert_eq!(one.closed().await, 4001);
    assert_eq!(two.closed().await, 4001);
    // Not suspended: signing in again works.
    assert_eq!(sign_in(&app, &ana.phone).await.status, 200);
}

#[actix_web::test]
async fn stats_counts_users_chats_and_messages() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    app.signup(&phone(3), "Cy").await;
    let chat = app.private_chat(&ana, &bo).await;
    for i in 0..3 {
        app.send_text(&ana, chat, &format!("hi {i}")).await;
    }
    users(&app, Action::Suspend, &bo.phone).await.unwrap();
    let out = admin::stats::run(&admin(&app).await).await.unwrap();
    assert_eq!(out, "users: 3 (1 suspended)\nchats: 1\nmessages: 3\n");
}

#[actix_web::test]
async fn backup_copies_the_sqlite_database_while_the_server_runs() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    app.send_text(&ana, chat, "kept").await;
    let admin = admin(&app).await;
    let file = app.settings.server.data_dir.join("copy.db");
    if app.engine.db.backend_name() == "postgres" {
        let e = admin::backup::run(&admin, &file).await.unwrap_err();
        assert!(e.message.contains("pg_dump"), "{e}");
        assert_eq!(e.message.lines().count(), 1);
        assert!(!file.exists());
        return;
    }
    // Writes go on while the copy is taken.
    let sends = async {
        for i in 0..20 {
            app.send_text(&bo, chat, &format!("during {i}")).await;
        }
    };
    let (out, ()) = tokio::join!(admin::backup::run(&admin, &file), sends);
    assert!(out.unwrap().contains("backup written to"));

    // The copy is a database of its own, consistent: a server starts on it.
    let copy = Admin::open(
        &courier::Settings {
            database: courier::config::DatabaseSettings {
                url: format!("sqlite://{}", file.display()),
                ..app.settings.database.clone()
            },
            ..app.settings.clone()
        },
        app.clock.clone(),
    )
    .await
    .unwrap();
    let stats = admin::stats::run(&copy).await.unwrap();
    assert!(
        stats.starts_with("users: 2 (0 suspended)\nchats: 1\nmessages: "),
        "{stats}"
    );
    let shown = admin::users::run(&copy, Action::Show, &ana.phone)
        .await
        .unwrap();
    assert!(shown.contains("name: Ana"), "{shown}");

    // Never over an existing file.
    let before = std::fs::read(&file).unwrap();
    let e = admin::backup::run(&admin, &file).await.unwrap_err();
    assert!(e.message.contains("already exists"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let e = admin::backup::run(&admin, &app.settings.server.data_dir.join("no/such/dir.db"))
        .await
        .unwrap_err();
    assert!(e.message.starts_with("backup: cannot write"), "{e}");
    assert_eq!(e.message.lines().count(), 1, "{e}");
}

#[actix_web::test]
async fn the_janitor_purges_expired_codes_and_ended_sessions_by_itself() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    // Ana signs out of her first device and keeps a second; Cy asks for a code and never
    // uses it; Bo's session stays live.
    let second = sign_in(&app, &ana.phone).await;
    assert_eq!(second.status, 200);
    let r = app
        .post("/api/auth/logout", Some(&ana.token), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(
            "/api/auth/send-otp",
            None,
            json!({ "phone_number": phone(3) }),
        )
        .await;
    assert_eq!(r.status, 200);
    let (codes, sessions) = rows(&app).await;
    assert_eq!((codes, sessions), (4, 3));

    // Within the hour they are kept (a late verify still hears its code expired).
    app.advance(60 * 30);
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({ "phone_number": phone(3), "otp": OTP }),
        )
        .await;
    assert_eq!(r.code(), "otp_expired", "{:?}", r.body);
    assert_eq!(rows(&app).await, (4, 3));

    // Later, the janitor removes them without being asked. Its runs are a minute apart on
    // the server's clock: the clock moves a minute at a time until one has run.
    app.advance(60 * 59);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rows(&app).await != (0, 2) {
        assert!(
            std::time::Instant::now() < deadline,
            "not purged: {:?}",
            rows(&app).await
        );
        app.advance(60);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What is live still works (the access tokens have expired by now: refresh).
    assert_eq!(refresh(&app, &bo.refresh).await.status, 200);
    let token = second.body["tokens"]["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&app, token).await.status, 200);
}
