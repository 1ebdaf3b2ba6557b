//! Calls live only in the server's memory: a restart closes the ones left live in the
//! database, so the history never shows a call that nobody can end.

use super::{put, start};
use crate::helpers::{phone, spawn_app};

#[actix_web::test]
async fn calls_left_live_by_a_stopped_server_are_closed_when_it_starts_again() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let talked = start(&app, &ana, chat).await;
    assert_eq!(put(&app, &bo, talked, "answer").await.status, 200);
    app.advance(30);
    let rang = start(&app, &ana, chat).await;

    let app = app.restart().await;
    let h = app.get("/api/calls", &bo.token).await;
    let calls = h.body["calls"].as_array().unwrap();
    let row = |id: i64| calls.iter().find(|c| c["id"] == id).unwrap();
    let (r, t) = (row(rang), row(talked));
    assert_eq!(
        (r["status"].as_str(), r["duration"].as_i64()),
        (Some("missed"), Some(0))
    );
    assert!(r["ended_at"].is_string(), "{r}");
    assert_eq!(
        (t["status"].as_str(), t["duration"].as_i64()),
        (Some("ended"), Some(30))
    );
    assert!(t["ended_at"].is_string(), "{t}");
    let r = put(&app, &bo, rang, "answer").await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "call_ended"));
}
