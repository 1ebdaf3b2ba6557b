//! Media messages: processing, storage, sharing with members only, serving (ranges,
//! attachments), deletion, and refusals that store nothing.

use image::ImageFormat;
use reqwest::multipart::Form;
use serde_json::json;

use super::{fetch, fetch_range, file, picture, upload, walk};
use crate::helpers::{phone, spawn_app, spawn_app_with};

/// The stored key a local link points at.
fn links_key(link: &str) -> &str {
    let path = link.split('?').next().unwrap();
    &path[path.find("/media/").unwrap() + "/media/".len()..]
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
    // Made first: on a busy machine this takes about as long as the server's keep-alive
    // (5 s), and a pooled connection the server closes just as it is reused fails the upload.
    let holiday = picture(2400, 1600, ImageFormat::Jpeg);
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let eve = app.signup(&phone(3), "Eve").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut bo_ws = crate::ws::WsClient::connect(&app, &bo.token).await;
    let path = format!("/api/chats/{chat}/messages");

    let form = file("file", "holiday.jpg", holiday)
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
