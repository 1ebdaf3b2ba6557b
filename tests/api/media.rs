//! Media: avatars, signed links, and every refusal an upload can get.

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
/// The stored key a local link points at.
fn links_key(link: &str) -> &str {
    let path = link.split('?').next().unwrap();
    &path[path.find("/media/").unwrap() + "/media/".len()..]
}

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

/// A JPEG whose EXIF says "rotate 90° clockwise to display" (orientation 6).
fn rotated_jpeg(w: u32, h: u32) -> Vec<u8> {
    let plain = picture(w, h, ImageFormat::Jpeg);
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x06, 0, 0]);
    exif.extend_from_slice(&[0, 0, 0, 0]);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&plain[2..]);
    out
}

#[actix_web::test]
async fn media_messages_are_processed_stored_and_shared_with_members_only() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let eve = app.signup(&phone(3), "Eve").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut bo_ws = crate::ws::WsClient::connect(&app, &bo.token).await;
    let path = format!("/api/chats/{chat}/messages");

    let form = file(
        "file",
        "holiday.jpg",
        picture(2400, 1600, ImageFormat::Jpeg),
    )
    .text("message_type", "image")
    .text("caption", "Check this out!");
    let (status, body) = upload(&app, &path, &ana, form).await;
    assert_eq!(status, 201, "{body}");
    let m = &body["message"];
    assert_eq!(
        (m["message_type"].as_str(), m["content"].as_str()),
        (Some("image"), Some("Check this out!"))
    );
    assert_eq!(m["media_mime_type"], "image/jpeg");
    let res = fetch(&app, m["media_url"].as_str().unwrap()).await;
    let max_age: u64 = res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .strip_prefix("private, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (3600..=4500).contains(&max_age),
        "cached as long as the link works (1 to 1.25 hours): {max_age}"
    );
    let bytes = res.bytes().await.unwrap();
    assert_eq!(m["media_size"].as_u64(), Some(bytes.len() as u64));
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (1200, 800), "fits 1200×1200");
    let thumb = image::load_from_memory(
        &fetch(&app, m["thumbnail_url"].as_str().unwrap())
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(thumb.width() <= 300 && thumb.height() <= 300);

    // Bo gets it live and in history, with links that work for him.
    let event = bo_ws.next_of("new-message").await;
    assert_eq!(
        fetch(
            &app,
            event["data"]["message"]["media_url"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
    let history = app.history(&bo, chat).await;
    assert_eq!(
        fetch(&app, history[0]["thumbnail_url"].as_str().unwrap())
            .await
            .status(),
        200
    );
    // Catching up over the socket gives working links too.
    let page = bo_ws.request(json!({"type": "sync", "since": 0})).await;
    let synced = &page["messages"][0];
    for field in ["media_url", "thumbnail_url"] {
        let link = synced[field].as_str().unwrap();
        assert_eq!(fetch(&app, link).await.status(), 200, "{field}: {link}");
    }
    // Eve, not in the chat, can neither post nor read.
    let (status, _) = upload(
        &app,
        &path,
        &eve,
        file("file", "x.jpg", picture(10, 10, ImageFormat::Jpeg)).text("message_type", "image"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        app.get(&format!("/api/chats/{chat}/messages"), &eve.token)
            .await
            .status,
        404
    );

    // Knowing a file's key (every link shows it) is not enough to be handed a link: keys
    // written into a contact card stay as they were sent.
    let key = links_key(synced["media_url"].as_str().unwrap());
    let eve_chat = app.private_chat(&eve, &bo).await;
    let forged = format!("store:{key}");
    let card = json!({"name": "x", "phone_number": "+123456", "url": forged, "avatar_url": forged});
    let r = app
        .post(
            &format!("/api/chats/{eve_chat}/messages"),
            Some(&eve.token),
            json!({"message_type": "contact", "contact_data": card}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["message"]["contact_data"]["url"], forged.as_str());
    let seen = app.history(&eve, eve_chat).await;
    assert_eq!(seen[0]["contact_data"]["avatar_url"], forged.as_str());
    assert!(!json!(seen).to_string().contains("/media/"), "{seen:?}");

    // Deleted for everyone: its files leave the store.
    let links = [&synced["media_url"], &synced["thumbnail_url"]].map(|v| v.as_str().unwrap());
    let id = synced["id"].as_i64().unwrap();
    let deleted = app.delete(&format!("/api/messages/{id}"), &ana.token).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    for link in links {
        assert_eq!(fetch(&app, link).await.status(), 404, "{link}");
    }

    // The orientation is applied and the metadata dropped.
    let (_, body) = upload(
        &app,
        &path,
        &ana,
        file("file", "phone.jpg", rotated_jpeg(400, 200)).text("message_type", "image"),
    )
    .await;
    let bytes = fetch(&app, body["message"]["media_url"].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (200, 400), "turned upright");
    assert!(!bytes.windows(4).any(|w| w == b"Exif"), "no metadata left");

    // A document keeps its bytes and a clean name; audio keeps its duration.
    let pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let (status, body) = upload(
        &app,
        &path,
        &ana,
        file("file", "../../secret/report.pdf", pdf.clone()).text("message_type", "document"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (
            body["message"]["file_name"].as_str(),
            body["message"]["media_mime_type"].as_str()
        ),
        (Some("report.pdf"), Some("application/pdf"))
    );
    let res = fetch(&app, body["message"]["media_url"].as_str().unwrap()).await;
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment",
        "a document downloads, it never opens as a page of the server's"
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf);
    // Players fetch parts of a file; a range outside it is refused.
    let link = body["message"]["media_url"].as_str().unwrap();
    let part = fetch_range(&app, link, Some("bytes=2-5")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes 2-5/{}", pdf.len())
    );
    assert_eq!(part.bytes().await.unwrap().to_vec(), pdf[2..6].to_vec());
    let tail = fetch_range(&app, link, Some("bytes=-4")).await;
    assert_eq!(
        tail.bytes().await.unwrap().to_vec(),
        pdf[pdf.len() - 4..].to_vec()
    );
    let outside = fetch_range(&app, link, Some("bytes=100000-")).await;
    assert_eq!(
        (
            outside.status().as_u16(),
            outside.headers()["content-range"].to_str().unwrap()
        ),
        (416, format!("bytes */{}", pdf.len()).as_str())
    );
    let mp3 = [
        b"ID3\x03\x00\x00\x00\x00\x00\x00".to_vec(),
        vec![0xFF, 0xFB, 0x90, 0x64],
        vec![0u8; 600],
    ]
    .concat();
    let (status, body) = upload(
        &app,
        &path,
        &ana,
        file("file", "note.mp3", mp3)
            .text("message_type", "audio")
            .text("duration", "42"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (
            body["message"]["media_duration"].as_i64(),
            body["message"]["media_mime_type"].as_str()
        ),
        (Some(42), Some("audio/mpeg"))
    );
}

#[actix_web::test]
async fn refused_media_messages_store_nothing() {
    let app = spawn_app_with(|s| s.media.max_document_bytes = 2048).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let other = app
        .private_chat(&ana, &app.signup(&phone(3), "Cy").await)
        .await;
    let foreign = app.send_text(&ana, other, "elsewhere").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/chats/{chat}/messages");
    let pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let jpg = || picture(50, 50, ImageFormat::Jpeg);
    let cases: Vec<(Form, u16, &str, Option<&str>)> = vec![
        (
            file("file", "a.pdf", pdf.clone()).text("message_type", "image"),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            file("file", "a.jpg", jpg()).text("message_type", "video"),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            file("file", "big.pdf", [pdf.clone(), vec![b'x'; 4096]].concat())
                .text("message_type", "document"),
            413,
            "payload_too_large",
            None,
        ),
        (
            file(
                "file",
                "bad.jpg",
                b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 nope".repeat(50).to_vec(),
            )
            .text("message_type", "image"),
            422,
            "invalid_image",
            Some("file"),
        ),
        (
            file("file", "a.jpg", jpg()).text("message_type", "sticker"),
            422,
            "validation_failed",
            Some("message_type"),
        ),
        (
            Form::new().text("message_type", "image"),
            422,
            "validation_failed",
            Some("file"),
        ),
        (
            file("file", "a.jpg", jpg())
                .text("message_type", "image")
                .text("caption", "x".repeat(4097)),
            422,
            "validation_failed",
            Some("caption"),
        ),
        (
            file("file", "a.jpg", jpg())
                .text("message_type", "audio")
                .text("duration", "-1"),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            file("file", "a.jpg", jpg())
                .text("message_type", "image")
                .text("reply_to_message_id", foreign.to_string()),
            422,
            "validation_failed",
            Some("reply_to_message_id"),
        ),
    ];
    for (form, status, code, field) in cases {
        let (s, body) = upload(&app, &path, &ana, form).await;
        assert_eq!(
            (s.as_u16(), body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        if field.is_some() {
            assert_eq!(body["error"]["field"].as_str(), field, "{body}");
        }
    }
    assert!(
        app.history(&ana, chat).await.is_empty(),
        "no message was stored"
    );
    assert_eq!(
        walk(&app.settings.server.data_dir.join("media")),
        0,
        "and no file was left behind"
    );
}

/// The same uploads on an S3-compatible store: objects land in the bucket, links are presigned
/// URLs the store itself serves, and refused uploads leave nothing there.
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

    let (status, body) = upload(
        &app,
        "/api/user/avatar",
        &ana,
        file("avatar", "me.png", picture(400, 300, ImageFormat::Png)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s3.objects().await, 3);
    let link = body["avatar_url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/{}/avatars/users/", s3.endpoint, s3.bucket)),
        "a presigned URL to the store: {link}"
    );
    assert!(link.contains("X-Amz-Signature="), "{link}");
    let res = fetch(&app, link).await;
    assert_eq!(
        (
            res.status().as_u16(),
            res.headers()["content-type"].to_str().unwrap()
        ),
        (200, "image/jpeg")
    );

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

#[actix_web::test]
async fn a_group_has_a_photo_only_admins_change() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
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
