//! Large files are streamed into the store as they arrive: they come back byte for byte (sealed
//! or not, local or S3), and one refused at any point, mid-file included, leaves nothing in
//! the store, no half-written object and no unfinished multipart upload.

use base64::Engine as _;
use reqwest::multipart::{Form, Part};
use tokio::io::AsyncWriteExt;

use super::{fetch, file, stored_files, upload};
use crate::helpers::{phone, spawn_app_with, TestApp, TestUser};

/// An MP4 (as the upload sniffs it) of `len` bytes that do not repeat.
fn video(len: usize) -> Vec<u8> {
    let mut v = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom".to_vec();
    let mut seed = 0x9E37_79B9u32;
    while v.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(len);
    v
}

async fn pair(app: &TestApp) -> (TestUser, i64) {
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    (ana, chat)
}

/// Sends a video message and checks that the receiver's link gives back every byte.
async fn send_and_fetch(app: &TestApp, ana: &TestUser, chat: i64, data: &[u8]) {
    let form = Form::new()
        .text("message_type", "video")
        .part("file", Part::bytes(data.to_vec()).file_name("clip.mp4"))
        .text("duration", "12");
    let (status, body) = upload(app, &format!("/api/chats/{chat}/messages"), ana, form).await;
    assert_eq!(status, 201, "{body}");
    let m = &body["message"];
    assert_eq!(m["media_size"].as_u64(), Some(data.len() as u64), "{m}");
    assert_eq!(m["media_mime_type"], "video/mp4");
    let res = fetch(app, m["media_url"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    let got = res.bytes().await.unwrap();
    assert!(
        got[..] == data[..],
        "the stored video differs from the sent one"
    );
}

#[actix_web::test]
async fn a_large_video_comes_back_byte_for_byte_plain_and_sealed() {
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    for sealed in [false, true] {
        let app = spawn_app_with(|s| {
            s.media.max_video_bytes = 8 * 1024 * 1024;
            if sealed {
                s.media.encryption_key = key.as_str().into();
            }
        })
        .await;
        let (ana, chat) = pair(&app).await;
        // Not a whole number of parts or of sealed chunks.
        send_and_fetch(&app, &ana, chat, &video(6 * 1024 * 1024 + 4321)).await;
        assert_eq!(stored_files(&app), 1, "one object, no staging file left");
    }
}

#[actix_web::test]
async fn a_large_video_is_streamed_into_an_s3_compatible_store() {
    let Some(s3) = crate::helpers::S3Server::start().await else {
        return;
    };
    let app = spawn_app_with(|s| {
        s3.configure(s);
        s.media.max_video_bytes = 16 * 1024 * 1024;
    })
    .await;
    let (ana, chat) = pair(&app).await;
    // Three parts of a multipart upload (S3 parts are 5 MiB).
    send_and_fetch(&app, &ana, chat, &video(12 * 1024 * 1024 + 99)).await;
    assert_eq!(s3.objects().await, 1);
    assert_eq!(s3.unfinished_uploads().await, 0);

    // Refused after two parts had gone to the store: nothing stays, not even the parts.
    let form = file("file", "big.mp4", video(15 * 1024 * 1024)).text("message_type", "video");
    let app = spawn_app_with(|s| {
        s3.configure(s);
        s.media.max_video_bytes = 11 * 1024 * 1024;
    })
    .await;
    let ana = app.signup(&phone(3), "Cy").await;
    let bo = app.signup(&phone(4), "Di").await;
    let chat = app.private_chat(&ana, &bo).await;
    let (status, body) = upload(&app, &format!("/api/chats/{chat}/messages"), &ana, form).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(s3.objects().await, 1, "only the first video");
    assert_eq!(
        s3.unfinished_uploads().await,
        0,
        "the multipart upload was aborted"
    );
}

/// Refusals that come while the file arrives, or after it arrived whole (a field after it),
/// store nothing.
#[actix_web::test]
async fn a_streamed_file_refused_at_any_point_leaves_nothing() {
    let app = spawn_app_with(|s| s.media.max_video_bytes = 1024 * 1024).await;
    let (ana, chat) = pair(&app).await;
    let path = format!("/api/chats/{chat}/messages");
    let clip = || Part::bytes(video(300 * 1024)).file_name("clip.mp4");
    let cases: Vec<(&str, Form, u16, &str)> = vec![
        (
            "over the limit, mid-file",
            file("file", "big.mp4", video(3 * 1024 * 1024)).text("message_type", "video"),
            413,
            "payload_too_large",
        ),
        (
            "a caption too long, after the file",
            Form::new()
                .text("message_type", "video")
                .part("file", clip())
                .text("caption", "x".repeat(5000)),
            422,
            "validation_failed",
        ),
        (
            "declared after the file, and not what it is",
            Form::new()
                .part("file", clip())
                .text("message_type", "audio"),
            415,
            "unsupported_media_type",
        ),
        (
            "a second file",
            Form::new()
                .text("message_type", "video")
                .part("file", clip())
                .part("file", clip()),
            422,
            "validation_failed",
        ),
    ];
    for (what, form, status, code) in cases {
        let (s, body) = upload(&app, &path, &ana, form).await;
        assert_eq!(
            (s.as_u16(), body["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {body}"
        );
        assert_eq!(stored_files(&app), 0, "{what}: nothing stored");
    }

    // A status video declared as a photo after the file, and one that is not a status type.
    for (content_type, status) in [("image", 415), ("document", 422)] {
        let form = Form::new()
            .part("media", clip())
            .text("content_type", content_type);
        let (s, body) = upload(&app, "/api/status", &ana, form).await;
        assert_eq!(s.as_u16(), status, "{content_type}: {body}");
        assert_eq!(stored_files(&app), 0, "{content_type}: nothing stored");
    }
    let form = Form::new()
        .part("media", clip())
        .text("content_type", "video");
    let (s, body) = upload(&app, "/api/status", &ana, form).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(stored_files(&app), 1, "a status video is stored");
    assert!(
        app.history(&ana, chat).await.is_empty(),
        "no message was sent"
    );
}

/// A file that stops arriving halfway is cut off at the form's deadline; what had been
/// written is removed.
#[actix_web::test]
async fn a_streamed_file_that_stalls_gets_408_and_leaves_nothing() {
    let app = spawn_app_with(|s| s.media.upload_timeout_ms = 600).await;
    let (ana, chat) = pair(&app).await;
    let clip = video(2 * 1024 * 1024);
    let head =
        "--b0undary\r\ncontent-disposition: form-data; name=\"message_type\"\r\n\r\nvideo\r\n\
                --b0undary\r\ncontent-disposition: form-data; name=\"file\"; filename=\"c.mp4\"\r\n\
                content-type: video/mp4\r\n\r\n";
    let addr = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api/chats/{chat}/messages HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
         content-type: multipart/form-data; boundary=b0undary\r\ncontent-length: {}\r\n\r\n",
        ana.token,
        head.len() + clip.len() + 100
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // Half the file, then nothing more.
    stream.write_all(&clip[..clip.len() / 2]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        use tokio::io::AsyncReadExt;
        let _ = stream.read_to_end(&mut answer).await;
    })
    .await
    .expect("answered and closed within the deadline");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(stored_files(&app), 0, "nothing stored");
    assert!(app.history(&ana, chat).await.is_empty());
}
