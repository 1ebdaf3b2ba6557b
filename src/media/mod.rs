//! Uploads: the kinds of media Courier takes, finding a file's type from its bytes (never
//! from what the client says), and reading upload forms ([`form`]).

mod form;
pub mod images;

pub use form::{
    detached, put_all, receive, upload_limit, Body, FileSpec, Form, StoredObject, Upload,
};

use crate::config::MediaSettings;

/// Whether a request carries a multipart form (a route guard: uploads go one way, JSON another).
pub fn is_multipart(ctx: &actix_web::guard::GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"multipart/form-data"))
}

/// What kind of media a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    Video,
    Audio,
    Document,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "image" => Some(Kind::Image),
            "video" => Some(Kind::Video),
            "audio" => Some(Kind::Audio),
            "document" => Some(Kind::Document),
            _ => None,
        }
    }

    /// Folder of the PRD's storage layout (`messages/images/…`).
    pub fn folder(self) -> &'static str {
        match self {
            Kind::Image => "images",
            Kind::Video => "videos",
            Kind::Audio => "audio",
            Kind::Document => "documents",
        }
    }

    pub fn limit(self, m: &MediaSettings) -> usize {
        match self {
            Kind::Image => m.max_image_bytes,
            Kind::Video => m.max_video_bytes,
            Kind::Audio => m.max_audio_bytes,
            Kind::Document => m.max_document_bytes,
        }
    }
}

/// A file's type as its bytes show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub kind: Kind,
    pub mime: &'static str,
    pub ext: &'static str,
}

/// Finds the type from the first bytes. None: a type Courier does not accept (executables,
/// archives it cannot vouch for, unknown binary data).
pub fn sniff(head: &[u8]) -> Option<Sniffed> {
    let t = infer::get(head);
    let found = |kind, mime, ext| Some(Sniffed { kind, mime, ext });
    match t.map(|t| t.mime_type()) {
        Some("image/jpeg") => found(Kind::Image, "image/jpeg", "jpg"),
        Some("image/png") => found(Kind::Image, "image/png", "png"),
        Some("image/webp") => found(Kind::Image, "image/webp", "webp"),
        Some("image/gif") => found(Kind::Image, "image/gif", "gif"),
        Some("video/mp4") => found(Kind::Video, "video/mp4", "mp4"),
        Some("video/webm") => found(Kind::Video, "video/webm", "webm"),
        Some("video/quicktime") => found(Kind::Video, "video/quicktime", "mov"),
        Some("video/3gpp") => found(Kind::Video, "video/3gpp", "3gp"),
        Some("video/x-matroska") => found(Kind::Video, "video/x-matroska", "mkv"),
        Some("audio/mpeg") => found(Kind::Audio, "audio/mpeg", "mp3"),
        Some("audio/ogg") | Some("audio/opus") => found(Kind::Audio, "audio/ogg", "ogg"),
        Some("audio/x-wav") | Some("audio/wav") => found(Kind::Audio, "audio/wav", "wav"),
        Some("audio/aac") => found(Kind::Audio, "audio/aac", "aac"),
        Some("audio/m4a") => found(Kind::Audio, "audio/mp4", "m4a"),
        Some("audio/amr") => found(Kind::Audio, "audio/amr", "amr"),
        Some("audio/x-flac") => found(Kind::Audio, "audio/flac", "flac"),
        Some("application/pdf") => found(Kind::Document, "application/pdf", "pdf"),
        Some("application/rtf") => found(Kind::Document, "application/rtf", "rtf"),
        Some("application/epub+zip") => found(Kind::Document, "application/epub+zip", "epub"),
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document") => found(
            Kind::Document,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") => found(
            Kind::Document,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        Some("application/vnd.openxmlformats-officedocument.presentationml.presentation") => found(
            Kind::Document,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "pptx",
        ),
        Some("application/x-ole-storage") | Some("application/msword") => {
            found(Kind::Document, "application/msword", "doc")
        }
        Some("application/zip") => found(Kind::Document, "application/zip", "zip"),
        Some(_) => None,
        // No signature: plain text is a document; anything else binary is refused.
        None if !head.contains(&0) && is_text(head) => found(Kind::Document, "text/plain", "txt"),
        None => None,
    }
}

/// Whether `head`, the start of a file, is UTF-8 text: a character cut in two at its end (where
/// the file was cut to sniff it) does not count against it.
fn is_text(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// A file name safe to show and to send back: no directories, no control characters, at most
/// 255 characters.
pub fn sanitize_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| {
            !c.is_control()
                && !crate::validate::is_format(*c)
                && !matches!(c, '"' | '<' | '>' | ':' | '*' | '?' | '|')
        })
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(255)
        .collect();
    if clean.is_empty() {
        "file".to_string()
    } else {
        clean
    }
}

/// A random id for an object key (the message or status id is assigned only once the upload is
/// stored, after it).
pub fn upload_id() -> String {
    let bytes: [u8; 12] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("C:\\Users\\a\\report.pdf"), "report.pdf");
        assert_eq!(sanitize_file_name("a\u{0}b<c>.txt"), "abc.txt");
        assert_eq!(sanitize_file_name(".hidden"), "hidden");
        assert_eq!(sanitize_file_name("///"), "file");
        assert_eq!(
            sanitize_file_name("invoice\u{202E}fdp.exe"),
            "invoicefdp.exe",
            "no direction overrides"
        );
        assert_eq!(sanitize_file_name("отчёт.pdf"), "отчёт.pdf");
    }

    #[test]
    fn text_cut_inside_a_character_is_still_text() {
        let text = "привет ".repeat(700);
        let bytes = text.as_bytes();
        let cut = &bytes[..8191];
        assert!(
            std::str::from_utf8(cut).is_err(),
            "the cut splits a character"
        );
        assert_eq!(sniff(cut).map(|s| s.mime), Some("text/plain"));
        assert_eq!(
            sniff(b"abc\xFF\xFEdef"),
            None,
            "invalid UTF-8 inside is not text"
        );
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00").map(|s| s.kind),
            Some(Kind::Image)
        );
        assert_eq!(sniff(b"%PDF-1.7\n").map(|s| s.ext), Some("pdf"));
        assert_eq!(
            sniff(b"hello, plain text").map(|s| s.mime),
            Some("text/plain")
        );
        assert_eq!(
            sniff(b"\x7FELF\x02\x01\x01\x00\x00\x00\x00\x00"),
            None,
            "executables are refused"
        );
        assert_eq!(
            sniff(&[0u8, 1, 2, 3, 0, 9]),
            None,
            "unknown binary is refused"
        );
    }
}
