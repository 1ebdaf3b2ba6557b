//! Group photos: set at creation, changed by admins only, old files removed.

use image::ImageFormat;

use super::{fetch, file, picture, send_form, stored_files, upload};
use crate::helpers::{phone, spawn_app};

#[actix_web::test]
async fn a_group_has_a_photo_only_admins_change() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    app.open_to_groups(&bo).await;
    let form = file("avatar", "team.png", picture(500, 500, ImageFormat::Png))
        .text("name", "Team")
        .text("description", "All of us")
        .text("participants", format!("[{}]", bo.id));
    let (status, body) = upload(&app, "/api/groups", &ana, form).await;
    assert_eq!(status, 201, "{body}");
    let id = body["group"]["id"].as_i64().unwrap();
    let info = app.get(&format!("/api/groups/{id}"), &bo.token).await;
    assert_eq!(info.body["participants_count"], 2);
    let old = info.body["avatar_url"].as_str().unwrap().to_string();
    assert_eq!(fetch(&app, &old).await.status(), 200);
    assert_eq!(stored_files(&app), 3);

    let (status, body) = send_form(
        &app,
        reqwest::Method::PUT,
        &format!("/api/groups/{id}"),
        &bo,
        file("avatar", "mine.png", picture(100, 100, ImageFormat::Png)),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (403, Some("not_admin")),
        "{body}"
    );
    assert_eq!(stored_files(&app), 3, "the refused photo was not kept");

    let (status, body) = send_form(
        &app,
        reqwest::Method::PUT,
        &format!("/api/groups/{id}"),
        &ana,
        file("avatar", "new.png", picture(300, 300, ImageFormat::Png)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        fetch(&app, body["group"]["avatar_url"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(
        fetch(&app, &old).await.status(),
        404,
        "the old photo is gone"
    );
    assert_eq!(stored_files(&app), 3);
    let history = app.history(&bo, id).await;
    assert_eq!(
        history.last().unwrap()["content"],
        "Ana changed the group photo"
    );

    let bad = file("avatar", "t.png", picture(10, 10, ImageFormat::Png))
        .text("name", "G")
        .text("participants", "two");
    let (status, body) = upload(&app, "/api/groups", &ana, bad).await;
    assert_eq!(
        (status.as_u16(), body["error"]["field"].as_str()),
        (422, Some("participants"))
    );
    assert_eq!(stored_files(&app), 3);
}
