//! Data exports: a ZIP, built in the background, of exactly what the user may see, behind a
//! signed link until it expires.

use std::io::Read;
use std::time::{Duration, Instant};

use image::ImageFormat;
use serde_json::{json, Value};

use super::privacy_app;
use crate::helpers::{phone, TestApp, TestUser};
use crate::media::{fetch, file, picture, upload};

/// The export once it is no longer pending (it is built in the background).
async fn finished(app: &TestApp, who: &TestUser) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.get("/api/user/export", &who.token).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if r.body["export"]["status"] != "pending" {
            return r.body["export"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the export was not built in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn entry(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    zip.by_name(name)
        .unwrap_or_else(|_| panic!("{name} is in the export"))
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn contents(chat: &Value) -> Vec<String> {
    chat["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message_type"] != "system")
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect()
}

#[actix_web::test]
async fn an_export_holds_exactly_what_the_user_may_see() {
    let app = privacy_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let cy = app.signup(&phone(3), "Cy").await;
    for u in [&ana, &bo, &cy] {
        app.open_to_groups(u).await;
    }
    app.save_contact(&ana, &bo).await;
    let ab = app.private_chat(&ana, &bo).await;
    app.send_text(&ana, ab, "hi bo").await;
    let hidden = app.send_text(&bo, ab, "hidden by ana").await;
    let form = file("file", "mine.jpg", picture(40, 30, ImageFormat::Jpeg))
        .text("message_type", "image")
        .text("caption", "my photo");
    let (status, mine) = upload(&app, &format!("/api/chats/{ab}/messages"), &ana, form).await;
    assert_eq!(status, 201, "{mine}");
    let form = file("file", "theirs.jpg", picture(40, 30, ImageFormat::Jpeg))
        .text("message_type", "image")
        .text("caption", "bo's photo");
    let (status, theirs) = upload(&app, &format!("/api/chats/{ab}/messages"), &bo, form).await;
    assert_eq!(status, 201, "{theirs}");
    let r = app
        .delete(
            &format!("/api/messages/{}?for=me", hidden["id"]),
            &ana.token,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post(
            "/api/groups",
            Some(&bo.token),
            json!({"name": "G", "participants": [ana.id, cy.id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let group = r.body["group"]["id"].as_i64().unwrap();
    app.send_text(&cy, group, "while Ana is in").await;
    let r = app
        .post(
            &format!("/api/groups/{group}/leave"),
            Some(&ana.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.send_text(&cy, group, "after Ana left").await;
    let bc = app.private_chat(&bo, &cy).await;
    app.send_text(&bo, bc, "not for Ana").await;

    assert_eq!(app.get("/api/user/export", &ana.token).await.status, 404);
    let r = app
        .post("/api/user/export", Some(&ana.token), json!({}))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["export"]["status"], "pending");
    let export = finished(&app, &ana).await;
    assert_eq!(export["status"], "ready", "{export}");
    let link = export["download_url"].as_str().unwrap();
    let res = fetch(&app, link).await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap().to_vec();
    assert_eq!(bytes.len() as i64, export["size"].as_i64().unwrap());
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a valid ZIP");

    let mut names: Vec<String> = zip.file_names().map(str::to_string).collect();
    names.sort();
    let photo = format!("media/{}.jpg", mine["message"]["id"]);
    let mut expected = vec![
        format!("chats/{ab}.json"),
        format!("chats/{group}.json"),
        "contacts.json".to_string(),
        photo.clone(),
        "profile.json".to_string(),
    ];
    expected.sort();
    assert_eq!(
        names, expected,
        "nothing of Bo and Cy's own chat, nor Bo's file"
    );

    let profile: Value = serde_json::from_slice(&entry(&mut zip, "profile.json")).unwrap();
    assert_eq!(
        (profile["name"].as_str(), profile["phone_number"].as_str()),
        (Some("Ana"), Some(ana.phone.as_str()))
    );
    let contacts: Value = serde_json::from_slice(&entry(&mut zip, "contacts.json")).unwrap();
    assert_eq!(contacts[0]["user_id"], bo.id);
    let private: Value =
        serde_json::from_slice(&entry(&mut zip, &format!("chats/{ab}.json"))).unwrap();
    assert_eq!(
        contents(&private),
        ["hi bo", "my photo", "bo's photo"],
        "not what Ana hid"
    );
    let shown = private["messages"].as_array().unwrap();
    assert_eq!(
        shown[1]["media_url"],
        photo.as_str(),
        "her file, inside the archive"
    );
    assert!(
        shown[2].get("media_url").is_none(),
        "Bo's file is not hers to export"
    );
    let left: Value =
        serde_json::from_slice(&entry(&mut zip, &format!("chats/{group}.json"))).unwrap();
    assert_eq!(
        contents(&left),
        ["while Ana is in"],
        "nothing after she left"
    );
    assert_eq!(left["is_member"], false);
    assert_eq!(
        &entry(&mut zip, &photo)[..2],
        &[0xFF, 0xD8],
        "the JPEG itself"
    );

    // The download lasts a week; then the purge takes the archive and its record.
    app.advance(7 * 86400 + 60);
    let r = app.get("/api/user/export", &ana.token).await;
    assert_eq!(
        r.body["export"]["download_url"],
        Value::Null,
        "{:?}",
        r.body
    );
    app.engine.purge_privacy().await.unwrap();
    assert_eq!(app.get("/api/user/export", &ana.token).await.status, 404);
}

#[actix_web::test]
async fn exports_are_limited_and_need_a_signed_in_user() {
    let app = privacy_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let r = app.post("/api/user/export", None, json!({})).await;
    assert_eq!(r.status, 401);
    for _ in 0..3 {
        let r = app
            .post("/api/user/export", Some(&ana.token), json!({}))
            .await;
        assert_eq!(r.status, 202, "{:?}", r.body);
        finished(&app, &ana).await;
    }
    let r = app
        .post("/api/user/export", Some(&ana.token), json!({}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (429, "rate_limited"),
        "{:?}",
        r.body
    );
    // Someone else's export is not reachable: each user sees their own latest only.
    let bo = app.signup(&phone(2), "Bo").await;
    assert_eq!(app.get("/api/user/export", &bo.token).await.status, 404);
}
