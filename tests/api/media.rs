//! Media: avatars, signed links, and every refusal an upload can get. Media messages are in
//! `media/messages.rs`, the same on an S3-compatible store in `media/s3.rs`, group photos in
//! `media/groups.rs`, the sweep of files no row refers to in `media/orphans.rs`.

mod groups;
mod messages;
mod orphans;
mod s3;
mod sealed;
mod streamed;

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{phone, spawn_app, spawn_app_with, TestApp, TestUser};

/// A test image of `w`×`h` in `format`.
pub fn picture(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    }));
    let mut buf = Vec::new();
    img.write_to(&mut Cursor::new(&mut buf), format).unwrap();
    buf
}

/// A PNG of noise, which does not compress: about 3 bytes per pixel.
pub fn noise(w: u32, h: u32) -> Vec<u8> {
    let mut seed = 0x2545_F491u32;
    let img = DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        image::Rgb([seed as u8, (seed >> 8) as u8, (seed >> 16) as u8])
    }));
    let mut buf = Vec::new();
    img.write_to(&mut Cursor::new(&mut buf), ImageFormat::Png)
        .unwrap();
    buf
}

/// Posts a multipart form; answers status and JSON body.
pub async fn upload(app: &TestApp, path: &str, user: &TestUser, form: Form) -> (StatusCode, Value) {
    send_form(app, reqwest::Method::POST, path, user, form).await
}

/// Sends a multipart form with any method.
pub async fn send_form(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    user: &TestUser,
    form: Form,
) -> (StatusCode, Value) {
    let res = app
        .client
        .request(method, format!("{}{}", app.address, path))
        .bearer_auth(&user.token)
        .multipart(form)
        .send()
        .await
        .expect("upload sent");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub fn file(field: &str, name: &str, data: Vec<u8>) -> Form {
    Form::new().part(
        field.to_string(),
        Part::bytes(data).file_name(name.to_string()),
    )
}

/// Fetches a link as a client would (relative links are on the server).
pub async fn fetch(app: &TestApp, link: &str) -> reqwest::Response {
    fetch_range(app, link, None).await
}

/// Fetches a link, with a `Range` header when given.
pub async fn fetch_range(app: &TestApp, link: &str, range: Option<&str>) -> reqwest::Response {
    let url = if link.starts_with('/') {
        format!("{}{}", app.address, link)
    } else {
        link.to_string()
    };
    let mut req = app.client.get(url);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    req.send().await.unwrap()
}

#[actix_web::test]
async fn an_avatar_is_stored_at_three_sizes_behind_signed_links() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let (status, body) = upload(
        &app,
        "/api/user/avatar",
        &ana,
        file("avatar", "me.png", picture(800, 500, ImageFormat::Png)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let link = body["avatar_url"].as_str().unwrap().to_string();
    assert!(
        link.starts_with(&format!("/media/avatars/users/{}/", ana.id)) && link.contains("sig="),
        "{link}"
    );
    for v in body["avatar_urls"].as_array().unwrap() {
        let res = fetch(&app, v["url"].as_str().unwrap()).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
        let n = v["size"].as_u64().unwrap() as u32;
        assert_eq!((img.width(), img.height()), (n, n));
    }

    // Others see it through their own signed link, as the privacy setting allows.
    let seen = app.get(&format!("/api/users/{}", ana.id), &bo.token).await;
    assert_eq!(
        fetch(&app, seen.body["avatar_url"].as_str().unwrap())
            .await
            .status(),
        200
    );
    app.put(
        "/api/user/privacy",
        &ana.token,
        json!({"profile_photo": "nobody"}),
    )
    .await;
    assert!(app
        .get(&format!("/api/users/{}", ana.id), &bo.token)
        .await
        .body["avatar_url"]
        .is_null());

    // A tampered or expired link is refused.
    let tampered = link.replace("sig=", "sig=0");
    let res = fetch(&app, &tampered).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "bad_signature"
    );
    let unsigned = link.split('?').next().unwrap().to_string();
    assert_eq!(fetch(&app, &unsigned).await.status(), 403);
    let garbled = link.replace("expires=", "expires=soon");
    assert_eq!(fetch(&app, &garbled).await.status(), 403);
    app.advance(2 * 3600);
    let res = fetch(&app, &link).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "link_expired"
    );

    // A new avatar replaces the old one, whose files are removed. (Two hours on, Ana signs in
    // again: her access token has expired too.)
    let ana = app.signup(&phone(1), "Ana").await;
    let fresh = app.get("/api/user/profile", &ana.token).await.body["avatar_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(fetch(&app, &fresh).await.status(), 200);
    let (status, _) = upload(
        &app,
        "/api/user/avatar",
        &ana,
        file("avatar", "new.jpg", picture(400, 400, ImageFormat::Jpeg)),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        fetch(&app, &fresh).await.status(),
        404,
        "the old avatar is gone"
    );
}

#[actix_web::test]
async fn bad_uploads_are_refused_and_leave_nothing_behind() {
    let app = spawn_app_with(|s| {
        s.media.max_image_bytes = 64 * 1024;
        s.media.uploads_per_minute = 5;
    })
    .await;
    let ana = app.signup(&phone(1), "Ana").await;
    let cases: Vec<(Form, u16, &str)> = vec![
        (
            file(
                "avatar",
                "doc.pdf",
                b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj".to_vec(),
            ),
            415,
            "unsupported_media_type",
        ),
        (
            file(
                "avatar",
                "fake.jpg",
                b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 broken"
                    .repeat(40)
                    .to_vec(),
            ),
            422,
            "invalid_image",
        ),
        (
            file("avatar", "big.png", noise(300, 300)),
            413,
            "payload_too_large",
        ),
        (
            Form::new().text("note", "no file"),
            422,
            "validation_failed",
        ),
        (
            file(
                "avatar",
                "prog",
                b"\x7FELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                    .repeat(40)
                    .to_vec(),
            ),
            415,
            "unsupported_media_type",
        ),
    ];
    for (form, status, code) in cases {
        let (s, body) = upload(&app, "/api/user/avatar", &ana, form).await;
        assert_eq!(
            (s.as_u16(), body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let res = app
        .client
        .post(format!("{}/api/user/avatar", app.address))
        .bearer_auth(&ana.token)
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "not multipart");
    assert!(app.get("/api/user/profile", &ana.token).await.body["avatar_url"].is_null());
    let left: usize = walk(&app.settings.server.data_dir.join("media"));
    assert_eq!(left, 0, "no object was left behind");

    // A picture too large to decode is refused before it is decoded.
    let bo = app.signup(&phone(2), "Bo").await;
    let (s, body) = upload(
        &app,
        "/api/user/avatar",
        &bo,
        file("avatar", "bomb.png", huge_png_header(10_000, 6_000)),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10000×6000 is more than 50 megapixels"),
        "{body}"
    );

    // The sixth upload in a minute is refused.
    let (s, body) = upload(
        &app,
        "/api/user/avatar",
        &ana,
        file("avatar", "a.png", picture(10, 10, ImageFormat::Png)),
    )
    .await;
    assert_eq!(
        (s.as_u16(), body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
}

/// A PNG that declares `w`×`h` pixels in a few bytes (its pixel data is missing): decoding
/// it for real would need gigabytes.
fn huge_png_header(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        let body = [kind, data].concat();
        png.extend(&body);
        png.extend(crc32(&body).to_be_bytes());
    };
    let ihdr = [&w.to_be_bytes()[..], &h.to_be_bytes(), &[8, 2, 0, 0, 0]].concat();
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00]);
    chunk(b"IEND", &[]);
    png
}

/// Files in the app's local media folder.
pub fn stored_files(app: &TestApp) -> usize {
    walk(&app.settings.server.data_dir.join("media"))
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
