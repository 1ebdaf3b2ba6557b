//! The orphan sweep: files an upload stored before a crash kept it from writing their row go
//! once older than the grace period; every file a row refers to stays. On the local folder and
//! on an S3-compatible store.

use std::collections::BTreeSet;

use futures_util::StreamExt;
use image::ImageFormat;
use serde_json::json;

use super::{file, picture, send_form, upload};
use crate::helpers::{phone, spawn_app_with, S3Server, TestApp, TestUser};

/// Keeps the periodic sweep out of the way: the tests run it themselves.
const NEVER: u64 = 100 * 365 * 24 * 3600;

/// Every key in the store.
async fn keys(app: &TestApp) -> BTreeSet<String> {
    app.engine
        .storage
        .list()
        .map(|o| o.expect("listing").key)
        .collect()
        .await
}

async fn sweep(app: &TestApp) -> usize {
    app.engine.sweep_orphans().await.expect("sweep runs")
}

/// A file of every kind a row refers to: an avatar (three sizes), a group photo (three), an
/// image message (image and thumbnail), a document message and a status picture. Answers the
/// group's id.
async fn every_kind_of_file(app: &TestApp, ana: &TestUser, bo: &TestUser) -> i64 {
    let (status, body) = upload(
        app,
        "/api/user/avatar",
        ana,
        file("avatar", "me.png", picture(200, 200, ImageFormat::Png)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    app.open_to_groups(bo).await;
    let form = file("avatar", "team.png", picture(200, 200, ImageFormat::Png))
        .text("name", "Team")
        .text("participants", format!("[{}]", bo.id));
    let (status, body) = upload(app, "/api/groups", ana, form).await;
    assert_eq!(status, 201, "{body}");
    let group = body["group"]["id"].as_i64().unwrap();
    let path = format!("/api/chats/{group}/messages");
    let image =
        file("file", "p.jpg", picture(300, 200, ImageFormat::Jpeg)).text("message_type", "image");
    let (status, body) = upload(app, &path, ana, image).await;
    assert_eq!(status, 201, "{body}");
    let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n".to_vec();
    let doc = file("file", "a.pdf", pdf).text("message_type", "document");
    let (status, body) = upload(app, &path, ana, doc).await;
    assert_eq!(status, 201, "{body}");
    let story = file("media", "sun.jpg", picture(300, 200, ImageFormat::Jpeg))
        .text("content_type", "image");
    let (status, body) = upload(app, "/api/status", ana, story).await;
    assert_eq!(status, 201, "{body}");
    group
}

#[actix_web::test]
async fn files_no_row_refers_to_go_after_the_grace_and_every_referenced_one_stays() {
    let app = spawn_app_with(|s| s.media.orphan_sweep_secs = NEVER).await;
    let grace = app.settings.media.orphan_grace_secs;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let group = every_kind_of_file(&app, &ana, &bo).await;
    // Bo leaves; the photo he saw stays while his view of the group shows it.
    let r = app
        .post(
            &format!("/api/groups/{group}/leave"),
            Some(&bo.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let (status, body) = send_form(
        &app,
        reqwest::Method::PUT,
        &format!("/api/groups/{group}"),
        &ana,
        file("avatar", "new.png", picture(100, 100, ImageFormat::Png)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let referenced = keys(&app).await;
    assert_eq!(referenced.len(), 3 + 3 + 3 + 2 + 1 + 1, "{referenced:?}");

    // What a crashed upload leaves: a whole file whose message was never written, and on a
    // local folder the partial file of a write cut off.
    let crashed = "messages/images/2026/01/crashed.jpg";
    app.engine
        .storage
        .put(crashed, bytes::Bytes::from_static(b"\xFF\xD8\xFF"))
        .await
        .unwrap();
    let partial = app
        .settings
        .server
        .data_dir
        .join("media/messages/documents/2026/01/cut.pdf#1");
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    std::fs::write(&partial, b"%PDF-1.7\n").unwrap();
    // Files of something else sharing the folder are none of the sweep's business.
    let foreign = app.settings.server.data_dir.join("media/backups/notes.txt");
    std::fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    std::fs::write(&foreign, b"keep me").unwrap();

    // Within the grace it may be an upload whose row is being written: it stays.
    app.advance(grace / 2);
    assert_eq!(sweep(&app).await, 0);
    assert!(keys(&app).await.contains(crashed) && partial.exists());

    app.advance(grace / 2 + 60);
    assert_eq!(sweep(&app).await, 2);
    assert_eq!(keys(&app).await, referenced, "only the orphans went");
    assert!(!partial.exists() && foreign.exists());
    assert_eq!(sweep(&app).await, 0, "nothing more to do");

    // Bo back in the group: nobody sees the old photo any more, so it goes.
    let ana = app.signup(&phone(1), "Ana").await;
    let r = app
        .post(
            &format!("/api/groups/{group}/members"),
            Some(&ana.token),
            json!({"user_ids": [bo.id]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(sweep(&app).await, 3, "its three sizes");
    assert_eq!(keys(&app).await.len(), referenced.len() - 3);
}

#[actix_web::test]
async fn the_sweep_works_the_same_on_an_s3_compatible_store() {
    let Some(s3) = S3Server::start().await else {
        return;
    };
    let app = spawn_app_with(|s| {
        s3.configure(s);
        s.media.orphan_sweep_secs = NEVER;
    })
    .await;
    let grace = app.settings.media.orphan_grace_secs;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    every_kind_of_file(&app, &ana, &bo).await;
    let referenced = keys(&app).await;
    assert_eq!(referenced.len(), 3 + 3 + 2 + 1 + 1);
    let crashed = "status/2026/01/crashed.jpg";
    for key in [crashed, "backups/notes.txt"] {
        app.engine
            .storage
            .put(key, bytes::Bytes::from_static(b"\xFF\xD8\xFF"))
            .await
            .unwrap();
    }
    assert_eq!(s3.objects().await, referenced.len() + 2);

    app.advance(grace / 2);
    assert_eq!(sweep(&app).await, 0);
    app.advance(grace / 2 + 60);
    assert_eq!(sweep(&app).await, 1);
    assert_eq!(keys(&app).await, referenced);
    assert_eq!(
        s3.objects().await,
        referenced.len() + 1,
        "an object outside Courier's folders stays"
    );
}
