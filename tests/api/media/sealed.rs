//! Encryption at rest: a local media folder sealed with `media.encryption_key` holds no
//! plaintext (the test greps every file for a marker), while clients get their files, Range
//! requests included; on S3, objects are stored with the configured server-side encryption.

use base64::Engine as _;
use courier::config::S3Sse;

use super::{fetch, fetch_range, file, upload};
use crate::helpers::{phone, spawn_app_with};

const MARKER: &[u8] = b"PLAINTEXT-MARKER-7f3a";

/// A PDF (as the upload sniffs it) of `len` bytes with the marker all through it.
fn document(len: usize) -> Vec<u8> {
    let mut doc = b"%PDF-1.4\n".to_vec();
    while doc.len() < len {
        doc.extend_from_slice(MARKER);
        doc.extend_from_slice(format!(" {} ", doc.len()).as_bytes());
    }
    doc.truncate(len);
    doc
}

/// Every file under `dir`, with its bytes.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(files(&e.path()));
        } else {
            out.push((e.path(), std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

#[actix_web::test]
async fn a_sealed_media_folder_holds_no_plaintext_and_serves_every_byte_range() {
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let app = spawn_app_with(|s| s.media.encryption_key = key.as_str().into()).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    // Three chunks and a bit: ranges inside one, across two, and the tail.
    let doc = document(3 * 65536 + 1234);
    let form = file("file", "notes.pdf", doc.clone()).text("message_type", "document");
    let (status, body) = upload(&app, &format!("/api/chats/{chat}/messages"), &ana, form).await;
    assert_eq!(status, 201, "{body}");
    let link = body["message"]["media_url"].as_str().unwrap().to_string();
    let (status, body) = upload(
        &app,
        "/api/user/avatar",
        &ana,
        file(
            "avatar",
            "me.png",
            super::picture(300, 300, image::ImageFormat::Png),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let stored = files(&app.settings.server.data_dir.join("media"));
    assert!(
        stored.len() >= 4,
        "the document and the photo's sizes: {}",
        stored.len()
    );
    for (path, bytes) in &stored {
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER),
            "{} holds plaintext",
            path.display()
        );
        assert_eq!(&bytes[..4], b"CRS1", "{} is sealed", path.display());
    }

    let res = fetch(&app, &link).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.bytes().await.unwrap().to_vec(),
        doc,
        "served whole, opened"
    );
    for (from, to) in [
        (0, 99),
        (65530, 65545),
        (65536, 65536),
        (100_000, 200_000),
        (196_600, 197_841),
    ] {
        let res = fetch_range(&app, &link, Some(&format!("bytes={from}-{to}"))).await;
        assert_eq!(res.status(), 206, "bytes={from}-{to}");
        let to = to.min(doc.len() - 1);
        assert_eq!(
            res.bytes().await.unwrap().to_vec(),
            doc[from..=to],
            "bytes={from}-{to}"
        );
    }
    let res = fetch_range(&app, &link, Some("bytes=-10")).await;
    assert_eq!(res.bytes().await.unwrap().to_vec(), doc[doc.len() - 10..]);
    let photo = body["avatar_url"].as_str().unwrap();
    let res = fetch(&app, photo).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        &res.bytes().await.unwrap()[..2],
        &[0xFF, 0xD8],
        "a JPEG again"
    );
}

#[actix_web::test]
async fn on_s3_every_object_is_stored_with_server_side_encryption() {
    s3_objects_are_encrypted(S3Sse::SseS3, "", "AES256").await;
}

#[actix_web::test]
async fn on_s3_with_kms_every_object_names_its_key() {
    s3_objects_are_encrypted(S3Sse::SseKms, "courier-media-key", "aws:kms").await;
}

/// Uploads a document with `media.s3_sse = sse` (and `kms_key`) and checks how the store says
/// it keeps it.
async fn s3_objects_are_encrypted(sse: S3Sse, kms_key: &str, header: &str) {
    let Some(s3) = crate::helpers::S3Server::start().await else {
        return;
    };
    let kms_key = kms_key.to_string();
    let app = spawn_app_with(|s| {
        s3.configure(s);
        s.media.s3_sse = sse;
        s.media.s3_sse_kms_key_id = kms_key.clone();
    })
    .await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let form = file("file", "notes.pdf", document(5000)).text("message_type", "document");
    let (status, body) = upload(&app, &format!("/api/chats/{chat}/messages"), &ana, form).await;
    assert_eq!(status, 201, "{body}");
    // The store says how it keeps the object when it hands it out (where the link redirects).
    let link = body["message"]["media_url"].as_str().unwrap();
    let res = fetch(&app, link).await;
    assert_eq!(res.status(), 200, "{link}");
    assert_eq!(
        res.headers()
            .get("x-amz-server-side-encryption")
            .map(|v| v.to_str().unwrap().to_string()),
        Some(header.to_string()),
        "{:?}",
        res.headers()
    );
    if !kms_key.is_empty() {
        assert_eq!(
            res.headers()
                .get("x-amz-server-side-encryption-aws-kms-key-id")
                .map(|v| v.to_str().unwrap().to_string()),
            Some(kms_key),
            "{:?}",
            res.headers()
        );
    }
    assert_eq!(
        res.bytes().await.unwrap().to_vec(),
        document(5000),
        "clients see nothing of it"
    );
}
