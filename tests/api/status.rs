//! Statuses: shared with the owner's contacts only, viewed once per viewer, gone after 24 hours
//! (before the purge runs, and their files after it).

use image::ImageFormat;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{phone, spawn_app, TestApp, TestUser};
use crate::media::{fetch, file, picture, upload};

async fn post_text(app: &TestApp, user: &TestUser, text: &str) -> i64 {
    let r = app
        .post(
            "/api/status",
            Some(&user.token),
            json!({"content_type": "text", "content": text, "background_color": "#25D366"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["status"]["id"].as_i64().unwrap()
}

fn group_of(feed: &Value, owner: i64) -> Option<&Value> {
    feed["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["user"]["id"] == owner)
}

#[actix_web::test]
async fn statuses_reach_contacts_only_and_views_are_counted_once() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    app.post(
        "/api/contacts",
        Some(&ana.token),
        json!({"phone_number": bo.phone, "contact_name": "Bo"}),
    )
    .await;

    let text = post_text(&app, &ana, "Good morning!").await;
    let (status, body) = upload(
        &app,
        "/api/status",
        &ana,
        file("media", "sun.jpg", picture(1600, 900, ImageFormat::Jpeg))
            .text("content_type", "image")
            .text("content", "Sunrise"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let photo = body["status"]["id"].as_i64().unwrap();
    assert!(body["status"]["expires_at"].as_str().is_some());

    let feed = app.get("/api/status", &bo.token).await.body;
    let ana_group = group_of(&feed, ana.id).expect("Bo sees Ana's statuses");
    let ids: Vec<i64> = ana_group["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [photo, text], "newest first");
    assert_eq!(ana_group["statuses"][0]["is_viewed"], false);
    let img = fetch(
        &app,
        ana_group["statuses"][0]["media_url"].as_str().unwrap(),
    )
    .await;
    assert_eq!(img.status(), 200);
    assert!(
        group_of(&app.get("/api/status", &cy.token).await.body, ana.id).is_none(),
        "Cy is not Ana's contact"
    );
    assert!(
        group_of(&app.get("/api/status", &ana.token).await.body, ana.id).unwrap()["is_mine"]
            == true
    );

    let first = app
        .post(
            &format!("/api/status/{photo}/view"),
            Some(&bo.token),
            json!({}),
        )
        .await;
    assert_eq!(first.status, 200);
    app.advance(5);
    let again = app
        .post(
            &format!("/api/status/{photo}/view"),
            Some(&bo.token),
            json!({}),
        )
        .await;
    assert_eq!(
        again.body["viewed_at"], first.body["viewed_at"],
        "a second view changes nothing"
    );
    let feed = app.get("/api/status", &bo.token).await.body;
    assert_eq!(
        group_of(&feed, ana.id).unwrap()["statuses"][0]["is_viewed"],
        true
    );

    let views = app
        .get(&format!("/api/status/{photo}/views"), &ana.token)
        .await;
    assert_eq!(views.body["total_views"], 1);
    assert_eq!(views.body["views"][0]["viewer"]["id"], bo.id);
    assert_eq!(
        app.get(&format!("/api/status/{photo}/views"), &bo.token)
            .await
            .status,
        403
    );
    for r in [
        app.post(
            &format!("/api/status/{photo}/view"),
            Some(&cy.token),
            json!({}),
        )
        .await,
        app.get(&format!("/api/status/{photo}/views"), &cy.token)
            .await,
        app.delete(&format!("/api/status/{photo}"), &cy.token).await,
        app.delete(&format!("/api/status/{photo}"), &bo.token).await,
    ] {
        assert_eq!(r.status, 404, "{:?}", r.body);
    }

    // Blocked, Bo loses them.
    app.request(
        Method::PUT,
        &format!("/api/contacts/{}/block", bo.id),
        Some(&ana.token),
        None,
    )
    .await;
    assert!(group_of(&app.get("/api/status", &bo.token).await.body, ana.id).is_none());
    assert_eq!(
        app.post(
            &format!("/api/status/{text}/view"),
            Some(&bo.token),
            json!({})
        )
        .await
        .status,
        404
    );

    // The owner deletes one: gone, with its file.
    assert_eq!(
        app.delete(&format!("/api/status/{photo}"), &ana.token)
            .await
            .status,
        200
    );
    assert_eq!(
        app.delete(&format!("/api/status/{photo}"), &ana.token)
            .await
            .status,
        404
    );
    assert_eq!(crate::media::stored_files(&app), 0);
}

#[actix_web::test]
async fn statuses_expire_after_a_day_and_the_purge_removes_their_files() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    app.post(
        "/api/contacts",
        Some(&ana.token),
        json!({"phone_number": bo.phone, "contact_name": "Bo"}),
    )
    .await;
    let (status, body) = upload(
        &app,
        "/api/status",
        &ana,
        file("media", "a.png", picture(300, 300, ImageFormat::Png)).text("content_type", "image"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["status"]["id"].as_i64().unwrap();
    assert_eq!(crate::media::stored_files(&app), 1);

    app.advance(24 * 3600 - 1);
    let bo = app.signup(&phone(2), "Bo").await; // a fresh token, the old one has expired
    assert!(group_of(&app.get("/api/status", &bo.token).await.body, ana.id).is_some());
    app.advance(1);
    // Expired: not shown, even before the purge has run.
    assert!(group_of(&app.get("/api/status", &bo.token).await.body, ana.id).is_none());
    assert_eq!(
        app.post(
            &format!("/api/status/{id}/view"),
            Some(&bo.token),
            json!({})
        )
        .await
        .status,
        404
    );
    app.engine.purge_expired().await.unwrap();
    assert_eq!(crate::media::stored_files(&app), 0, "the file is gone too");
}

#[actix_web::test]
async fn bad_statuses_are_refused() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    for (body, field) in [
        (
            json!({"content_type": "poll", "content": "x"}),
            "content_type",
        ),
        (json!({"content_type": "text"}), "content"),
        (json!({"content_type": "text", "content": "  "}), "content"),
        (
            json!({"content_type": "text", "content": "x".repeat(701)}),
            "content",
        ),
        (
            json!({"content_type": "text", "content": "hi", "background_color": "red"}),
            "background_color",
        ),
        (
            json!({"content_type": "text", "content": "hi", "font_style": "<b>"}),
            "font_style",
        ),
    ] {
        let r = app
            .post("/api/status", Some(&ana.token), body.clone())
            .await;
        assert_eq!(
            (r.status.as_u16(), r.body["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    let pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let (s, b) = upload(
        &app,
        "/api/status",
        &ana,
        file("media", "a.pdf", pdf).text("content_type", "image"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (s, b) = upload(
        &app,
        "/api/status",
        &ana,
        file("media", "a.png", picture(10, 10, ImageFormat::Png)).text("content_type", "text"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["error"]["field"].as_str()),
        (422, Some("content_type"))
    );
    let (s, b) = upload(
        &app,
        "/api/status",
        &ana,
        reqwest::multipart::Form::new().text("content_type", "video"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["error"]["field"].as_str()),
        (422, Some("media"))
    );
    assert!(app.get("/api/status", &ana.token).await.body["statuses"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(crate::media::stored_files(&app), 0);
}
