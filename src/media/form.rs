//! Reading an upload form: its text fields, and one file checked as it arrives (its type from
//! its first bytes, its size against that type's limit). Images are held in memory, bounded by
//! the image limit, since they are decoded and re-encoded; every other file is streamed into
//! the store while it arrives, so a 100 MB video costs a few MB of memory, not 100.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use actix_multipart::{Field, Multipart};
use actix_web::http::StatusCode;
use actix_web::web::{Bytes, BytesMut};
use chrono::TimeDelta;
use courier_actors::storage::{ObjectWriter, Storage};
use futures_util::StreamExt;
use tokio::time::Instant;

use super::{sanitize_file_name, sniff, Kind, Sniffed};
use crate::config::MediaSettings;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Most fields in one form.
const MAX_FIELDS: usize = 20;
/// Longest text field.
const MAX_TEXT: usize = 16 * 1024;
/// Bytes the type of a file is found from (fewer if the file is shorter).
const SNIFF_BYTES: usize = 512;

/// What a route takes as its file.
pub struct FileSpec<'a> {
    /// The form field that carries the file.
    pub field: &'static str,
    /// A text field that declares the file's kind; it must match the file's bytes.
    pub kind_field: Option<&'static str>,
    /// The kind the route wants, when it is fixed.
    pub declared: Option<Kind>,
    /// Where a file that is not an image is written as it arrives: its key, from its type and
    /// the kind declared so far. None: the route takes images only.
    pub stream_to: Option<&'a dyn Fn(Sniffed, Option<Kind>) -> String>,
}

impl FileSpec<'static> {
    /// An image in `field`, and nothing else.
    pub fn image(field: &'static str) -> Self {
        FileSpec {
            field,
            kind_field: None,
            declared: Some(Kind::Image),
            stream_to: None,
        }
    }
}

/// A multipart form: text fields and at most one file.
pub struct Form {
    pub fields: HashMap<String, String>,
    pub file: Option<Upload>,
}

impl Form {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// An uploaded file, within its limit.
pub struct Upload {
    pub body: Body,
    /// Bytes in the file.
    pub size: u64,
    pub sniffed: Sniffed,
    /// The client's file name, cleaned (see [`sanitize_file_name`]).
    pub file_name: Option<String>,
}

/// Where an uploaded file's bytes are.
pub enum Body {
    /// In memory: images, which are decoded before they are stored.
    Memory(Bytes),
    /// In the store already, streamed there as the file arrived.
    Stored(StoredObject),
}

impl Upload {
    /// The file's bytes, for an image (always held in memory).
    pub fn image(&self) -> ApiResult<&Bytes> {
        match &self.body {
            Body::Memory(b) if self.sniffed.kind == Kind::Image => Ok(b),
            _ => Err(ApiError::internal("an image upload was not held in memory")),
        }
    }

    /// Stores the file under `key` unless it is in the store already; answers its key, which
    /// the caller now removes if what follows fails.
    pub async fn store(self, state: &AppState, key: impl FnOnce() -> String) -> ApiResult<String> {
        match self.body {
            Body::Stored(object) => Ok(object.keep()),
            Body::Memory(data) => {
                let key = key();
                put_all(state, vec![(key.clone(), data)]).await?;
                Ok(key)
            }
        }
    }
}

/// An object an upload was streamed into. Removed again if dropped before [`keep`], so that an
/// upload refused after its file arrived (a bad field, a closed chat) leaves nothing behind;
/// inside [`detached`] that is done before the answer goes out.
///
/// [`keep`]: StoredObject::keep
pub struct StoredObject {
    key: String,
    storage: Option<Storage>,
}

impl StoredObject {
    /// The caller takes the object over (and removes it if what follows fails).
    pub fn keep(mut self) -> String {
        self.storage = None;
        std::mem::take(&mut self.key)
    }
}

impl Drop for StoredObject {
    fn drop(&mut self) {
        let Some(storage) = self.storage.take() else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        let left = (storage, key);
        if let Err(e) = LEFT_BEHIND.try_with(|l| l.borrow_mut().push(left.clone())) {
            // Outside an upload's task: removed in the background.
            tracing::debug!(error = %e, "an upload dropped outside its task");
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let (storage, key) = left;
                rt.spawn(async move { storage.delete_quietly(&[key]).await });
            }
        }
    }
}

tokio::task_local! {
    /// Objects an upload stored and then gave up, removed when its task ends.
    static LEFT_BEHIND: Rc<RefCell<Vec<(Storage, String)>>>;
}

/// Runs an upload's work as a task of its own and waits for it. If the client goes away, the
/// request's future is dropped but the task goes on, so objects stored before a failure are
/// always removed again (and a stored message is always acknowledged to the database). Objects
/// streamed in and not kept are removed before the answer is given.
pub async fn detached<T: 'static>(
    work: impl std::future::Future<Output = ApiResult<T>> + 'static,
) -> ApiResult<T> {
    actix_web::rt::spawn(async move {
        let left = Rc::new(RefCell::new(Vec::new()));
        let answer = LEFT_BEHIND.scope(left.clone(), work).await;
        let objects = std::mem::take(&mut *left.borrow_mut());
        for (storage, key) in objects {
            storage.delete_quietly(&[key]).await;
        }
        answer
    })
    .await
    .map_err(ApiError::internal)?
}

/// Reads an upload form as `spec` says, after counting it against the caller's uploads per
/// minute (checked first, so a caller over the limit makes the server take in nothing).
pub async fn receive(
    state: &AppState,
    user_id: i64,
    form: Multipart,
    spec: FileSpec<'_>,
) -> ApiResult<Form> {
    upload_limit(state, user_id).await?;
    read_form(form, spec, &state.settings.media, &state.engine.storage).await
}

/// 429 when the caller has used up their uploads for this minute.
pub async fn upload_limit(state: &AppState, user_id: i64) -> ApiResult<()> {
    let limit = state.settings.media.uploads_per_minute;
    state
        .engine
        .limiter
        .hit(&format!("upload:{user_id}"), limit, TimeDelta::minutes(1))
        .await
        .map_err(ApiError::too_many)
}

/// 503: the store refused or could not be reached.
fn store_failed(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "could not store an upload");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the file could not be stored; try again",
    )
}

/// Stores objects; on any failure removes those already stored, so nothing is left behind.
pub async fn put_all(state: &AppState, objects: Vec<(String, Bytes)>) -> ApiResult<()> {
    let mut done = Vec::new();
    for (key, data) in objects {
        if let Err(e) = state.engine.storage.put(&key, data).await {
            state.engine.storage.delete_quietly(&done).await;
            return Err(store_failed(e));
        }
        done.push(key);
    }
    Ok(())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the file is larger than {limit} bytes"),
    )
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
    )
}

fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("bad_multipart", format!("malformed multipart body: {e}"))
}

/// Reads a form. The file is checked as it arrives: its type from its first bytes (415 if
/// refused, or if the kind declared by the route or by an earlier `kind_field` does not
/// match), its size against that type's limit (413 as soon as it is passed; nothing more is
/// read). The whole form must arrive within `media.upload_timeout_ms` (408 otherwise). A form
/// refused for any reason leaves nothing in the store.
pub async fn read_form(
    mut form: Multipart,
    spec: FileSpec<'_>,
    settings: &MediaSettings,
    storage: &Storage,
) -> ApiResult<Form> {
    let window = std::time::Duration::from_millis(settings.upload_timeout_ms);
    let deadline = Instant::now() + window;
    let mut declared = spec.declared;
    let mut fields = HashMap::new();
    let mut file = None;
    let mut count = 0;
    while let Some(field) = within(deadline, window, form.next()).await? {
        let mut field = field.map_err(malformed)?;
        count += 1;
        if count > MAX_FIELDS {
            return Err(ApiError::bad_request(
                "bad_multipart",
                "too many form fields",
            ));
        }
        let name = field.name().unwrap_or("").to_string();
        if name == spec.field {
            if file.is_some() {
                return Err(ApiError::invalid(spec.field, "send one file"));
            }
            let reading = Reading {
                spec: &spec,
                declared,
                settings,
                storage,
                deadline,
                window,
            };
            file = Some(reading.file(&mut field).await?);
            continue;
        }
        let mut text = BytesMut::new();
        while let Some(chunk) = within(deadline, window, field.next()).await? {
            text.extend_from_slice(&chunk.map_err(malformed)?);
            if text.len() > MAX_TEXT {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("field {name} is too long"),
                ));
            }
        }
        let text = String::from_utf8(text.to_vec())
            .map_err(|_| ApiError::invalid(name.clone(), "must be UTF-8 text"))?;
        if Some(name.as_str()) == spec.kind_field {
            declared = Some(Kind::parse(&text).ok_or_else(|| {
                ApiError::invalid(name.clone(), "must be image, video, audio or document")
            })?);
        }
        fields.insert(name, text);
    }
    if let (Some(f), Some(d)) = (&file, declared) {
        check_kind(f.sniffed, Some(d))?;
    }
    Ok(Form { fields, file })
}

/// The next piece of what the client sends, or 408 once the form's time is up.
async fn within<T>(
    deadline: Instant,
    window: std::time::Duration,
    next: impl std::future::Future<Output = T>,
) -> ApiResult<T> {
    tokio::time::timeout_at(deadline, next)
        .await
        .map_err(|_| crate::deadline::body_too_slow(window))
}

/// One file field being read.
struct Reading<'a> {
    spec: &'a FileSpec<'a>,
    declared: Option<Kind>,
    settings: &'a MediaSettings,
    storage: &'a Storage,
    deadline: Instant,
    window: std::time::Duration,
}

impl Reading<'_> {
    async fn next(&self, field: &mut Field) -> ApiResult<Option<Bytes>> {
        match within(self.deadline, self.window, field.next()).await? {
            None => Ok(None),
            Some(chunk) => chunk.map(Some).map_err(|e| {
                ApiError::bad_request("bad_multipart", format!("upload interrupted: {e}"))
            }),
        }
    }

    async fn file(self, field: &mut Field) -> ApiResult<Upload> {
        let file_name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(sanitize_file_name);
        // The first bytes, enough to tell the type (the whole file if it is shorter).
        let mut head = BytesMut::new();
        let mut ended = false;
        while head.len() < SNIFF_BYTES {
            match self.next(field).await? {
                Some(chunk) => head.extend_from_slice(&chunk),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if head.is_empty() {
            return Err(ApiError::invalid(self.spec.field, "the file is empty"));
        }
        let sniffed = check_type(&head, self.declared)?;
        let limit = sniffed.kind.limit(self.settings);
        if head.len() > limit {
            return Err(too_large(limit));
        }
        let stream_to = self.spec.stream_to.filter(|_| sniffed.kind != Kind::Image);
        let Some(key_for) = stream_to else {
            // Held in memory, up to the limit of its type.
            let mut data = head;
            if !ended {
                while let Some(chunk) = self.next(field).await? {
                    data.extend_from_slice(&chunk);
                    if data.len() > limit {
                        return Err(too_large(limit));
                    }
                }
            }
            return Ok(Upload {
                size: data.len() as u64,
                body: Body::Memory(data.freeze()),
                sniffed,
                file_name,
            });
        };
        let mut out = self
            .storage
            .writer(&key_for(sniffed, self.declared))
            .await
            .map_err(store_failed)?;
        match self
            .stream(field, head.freeze(), ended, limit, &mut out)
            .await
        {
            Ok(()) => {
                let key = out.key().to_string();
                let size = out.finish().await.map_err(store_failed)?;
                Ok(Upload {
                    size,
                    body: Body::Stored(StoredObject {
                        key,
                        storage: Some(self.storage.clone()),
                    }),
                    sniffed,
                    file_name,
                })
            }
            Err(e) => {
                out.abort().await;
                Err(e)
            }
        }
    }

    /// Writes the rest of the file into `out` as it arrives.
    async fn stream(
        &self,
        field: &mut Field,
        head: Bytes,
        ended: bool,
        limit: usize,
        out: &mut ObjectWriter,
    ) -> ApiResult<()> {
        out.write(head).await.map_err(store_failed)?;
        if ended {
            return Ok(());
        }
        while let Some(chunk) = self.next(field).await? {
            if out.len() + chunk.len() as u64 > limit as u64 {
                return Err(too_large(limit));
            }
            out.write(chunk).await.map_err(store_failed)?;
        }
        Ok(())
    }
}

fn check_type(head: &[u8], declared: Option<Kind>) -> ApiResult<Sniffed> {
    let s = sniff(&head[..head.len().min(8192)])
        .ok_or_else(|| unsupported("this type of file is not accepted"))?;
    check_kind(s, declared)?;
    Ok(s)
}

/// A document may be any accepted file; an image must be an image, and so on.
fn check_kind(s: Sniffed, declared: Option<Kind>) -> ApiResult<()> {
    match declared {
        Some(d) if d != Kind::Document && d != s.kind => Err(unsupported(format!(
            "the file is {} ({}), not {}",
            s.kind.as_str(),
            s.mime,
            d.as_str()
        ))),
        _ => Ok(()),
    }
}
