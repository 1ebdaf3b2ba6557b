//! Uploads on an S3-compatible store (moto_server, started by the test): objects in the
//! bucket, links that redirect to presigned URLs, and nothing left behind by refusals and
//! deletions.

use image::ImageFormat;
use serde_json::Value;

use super::{fetch, file, picture, upload};
use crate::helpers::{phone, spawn_app_with, TestApp, TestUser};

/// Fetches a link without following a redirect.
async fn fetch_once(app: &TestApp, link: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client
        .get(format!("{}{link}", app.address))
        .send()
        .await
        .unwrap()
}

/// Gives `user` a new avatar; its link.
async fn avatar(app: &TestApp, user: &TestUser) -> String {
    let (status, body) = upload(
        app,
        "/api/user/avatar",
        user,
        file("avatar", "me.png", picture(400, 300, ImageFormat::Png)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["avatar_url"].as_str().unwrap().to_string()
}

/// A query parameter of a URL.
fn param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Links are Courier's, and redirect to short-lived URLs presigned for the store, which serves
/// the bytes; a tampered or expired link is refused by Courier and goes nowhere.
#[actix_web::test]
async fn media_links_redirect_to_the_store() {
    let Some(s3) = crate::helpers::S3Server::start().await else {
        return;
    };
    let app = spawn_app_with(|s| s3.configure(s)).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let link = avatar(&app, &ana).await;
    assert!(
        link.starts_with(&format!("/media/avatars/users/{}/", ana.id)) && link.contains("sig="),
        "a link to Courier: {link}"
    );

    let res = fetch_once(&app, &link).await;
    assert_eq!(res.status(), 302);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.starts_with(&format!("{}/{}/avatars/users/", s3.endpoint, s3.bucket)),
        "to the store: {to}"
    );
    assert!(param(&to, "X-Amz-Signature").is_some(), "{to}");
    let credential = param(&to, "X-Amz-Credential").unwrap();
    assert!(
        credential.starts_with("test/"),
        "the configured key: {credential}"
    );
    let expires: u64 = param(&to, "X-Amz-Expires").unwrap().parse().unwrap();
    let link_expires: i64 = param(&format!("http://x{link}"), "expires")
        .unwrap()
        .parse()
        .unwrap();
    let link_left = (link_expires - app.clock.now().and_utc().timestamp()) as u64;
    assert!(
        expires > 0 && expires <= 600 && expires <= link_left,
        "works {expires} s, the link {link_left} s"
    );
    let cache = res.headers()["cache-control"].to_str().unwrap();
    let max_age: u64 = cache
        .strip_prefix("private, max-age=")
        .unwrap_or_else(|| panic!("{cache}"))
        .parse()
        .unwrap();
    assert!(max_age <= expires, "{cache}");

    let res = fetch(&app, &link).await;
    assert_eq!(
        (
            res.status().as_u16(),
            res.headers()["content-type"].to_str().unwrap()
        ),
        (200, "image/jpeg")
    );
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(img.width(), img.height(), "an avatar's square picture");

    // A document is a download there too.
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj << >> endobj\n".to_vec();
    let form = file("file", "r.pdf", pdf).text("message_type", "document");
    let (status, body) = upload(&app, &format!("/api/chats/{chat}/messages"), &ana, form).await;
    assert_eq!(status, 201, "{body}");
    let res = fetch(&app, body["message"]["media_url"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(
        res.headers()
            .get("content-disposition")
            .map(|v| v.to_str().unwrap()),
        Some("attachment"),
        "{:?} {:?}",
        res.url(),
        res.headers()
    );

    let tampered = link.replace("sig=", "sig=0");
    let res = fetch_once(&app, &tampered).await;
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("location").is_none());
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "bad_signature"
    );
    app.advance(2 * 3600);
    let res = fetch_once(&app, &link).await;
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("location").is_none());
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "link_expired"
    );
}

/// The same uploads on an S3-compatible store: objects land in the bucket, links lead to the
/// store, and refused uploads leave nothing there.
#[actix_web::test]
async fn uploads_work_the_same_on_an_s3_compatible_store() {
    let Some(s3) = crate::helpers::S3Server::start().await else {
        return;
    };
    let app = spawn_app_with(|s| s3.configure(s)).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    assert_eq!(
        s3.objects().await,
        0,
        "the start-up probe cleaned up after itself"
    );

    let link = avatar(&app, &ana).await;
    assert_eq!(s3.objects().await, 3);
    assert_eq!(fetch(&app, &link).await.status(), 200);

    let path = format!("/api/chats/{chat}/messages");
    let (status, body) = upload(
        &app,
        &path,
        &ana,
        file("file", "p.jpg", picture(1600, 1200, ImageFormat::Jpeg)).text("message_type", "image"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(s3.objects().await, 5, "image and thumbnail");
    let seen = app.history(&bo, chat).await;
    let img = image::load_from_memory(
        &fetch(&app, seen[0]["media_url"].as_str().unwrap())
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!((img.width(), img.height()), (1200, 900));

    let (status, _) = upload(
        &app,
        &path,
        &ana,
        file("file", "x.pdf", b"%PDF-1.4\n".to_vec()).text("message_type", "image"),
    )
    .await;
    assert_eq!(status, 415);
    let (status, _) = upload(
        &app,
        &path,
        &ana,
        file("file", "x.jpg", picture(40, 40, ImageFormat::Jpeg))
            .text("message_type", "image")
            .text("reply_to_message_id", "999999"),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        s3.objects().await,
        5,
        "refused uploads left nothing in the bucket"
    );

    // Replacing the avatar removes the old objects from the bucket.
    upload(
        &app,
        "/api/user/avatar",
        &ana,
        file("avatar", "new.png", picture(200, 200, ImageFormat::Png)),
    )
    .await;
    assert_eq!(s3.objects().await, 5);

    // A document, a status and a group photo land there too.
    let pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj << >> endobj\n".to_vec();
    let (status, body) = upload(
        &app,
        &path,
        &ana,
        file("file", "r.pdf", pdf.clone()).text("message_type", "document"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        fetch(&app, body["message"]["media_url"].as_str().unwrap())
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        pdf
    );
    let (status, body) = upload(
        &app,
        "/api/status",
        &ana,
        file("media", "s.png", picture(300, 300, ImageFormat::Png)).text("content_type", "image"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    app.open_to_groups(&bo).await;
    let form = file("avatar", "g.png", picture(300, 300, ImageFormat::Png))
        .text("name", "Team")
        .text("participants", bo.id.to_string());
    let (status, body) = upload(&app, "/api/groups", &ana, form).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(s3.objects().await, 5 + 1 + 1 + 3);
    let status_id = app.get("/api/status", &ana.token).await.body["statuses"][0]["statuses"][0]
        ["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.delete(&format!("/api/status/{status_id}"), &ana.token)
            .await
            .status,
        200
    );
    assert_eq!(
        s3.objects().await,
        5 + 1 + 3,
        "a deleted status's object is removed"
    );
    let image_id = seen[0]["id"].as_i64().unwrap();
    let deleted = app
        .delete(&format!("/api/messages/{image_id}"), &ana.token)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(
        s3.objects().await,
        3 + 1 + 3,
        "a message deleted for everyone takes its image and thumbnail along"
    );
}
