//! Test support for the engine: an engine on a temporary SQLite database, users, messages.

use std::time::Duration;

use chrono::TimeDelta;

use crate::storage::{Backend, Storage};
use crate::store::auth::{CreateOtp, VerifyOtp, VerifyOutcome};
use crate::store::chats::GetOrCreatePrivate;
use crate::store::messages::NewMessage;
use crate::store::{migrate, Db};
use crate::{Clock, Engine, Realtime};

/// A folder of its own under the system's temporary folder, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn engine(dir: &TempDir) -> Engine {
    engine_with_timeout(dir, crate::store::DEFAULT_TIMEOUT).await
}

/// The database file of an engine made by [`engine`] in `dir`.
pub fn db_path(dir: &TempDir) -> std::path::PathBuf {
    dir.0.join("rooms.db")
}

/// An engine whose waits for the database last at most `timeout`.
pub async fn engine_with_timeout(dir: &TempDir, timeout: Duration) -> Engine {
    let url = format!("sqlite://{}", db_path(dir).display());
    migrate(&url).await.unwrap();
    let storage = Storage::open(
        &Backend::Local {
            dir: dir.0.join("media"),
        },
        b"room-test-key".to_vec(),
        String::new(),
        Duration::from_secs(3600),
        Clock::system(),
    )
    .unwrap();
    Engine::start(
        Db::open(&url, 2, timeout).await.unwrap(),
        Db::open(&url, 1, timeout).await.unwrap(),
        Clock::system(),
        Realtime::default(),
        storage,
    )
}

pub async fn user(engine: &Engine, n: u32) -> i64 {
    let phone_hash = format!("room-test-{n}");
    let far = engine.clock.now() + TimeDelta::days(1);
    engine
        .write(CreateOtp {
            phone_hash: phone_hash.clone(),
            country_code: "+1".into(),
            code_hash: "h".into(),
            expires_at: far,
        })
        .await
        .unwrap();
    let verified = engine
        .write(VerifyOtp {
            phone_hash,
            phone_number: format!("+1415555000{n}"),
            code_hash: "h".into(),
            max_attempts: 5,
            name: Some(format!("user {n}")),
            refresh_jti: format!("jti-{n}"),
            session_expires_at: far,
            user_agent: None,
        })
        .await
        .unwrap();
    match verified {
        VerifyOutcome::Verified { user, .. } => user.id,
        other => panic!("{other:?}"),
    }
}

impl TempDir {
    /// A fresh folder (removed on drop).
    pub fn new() -> TempDir {
        TempDir(std::env::temp_dir().join(format!(
            "courier-test-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )))
    }
}

/// A text message whose `client_msg_id` is its text.
pub fn text(chat_id: i64, sender_id: i64, content: &str) -> NewMessage {
    NewMessage {
        chat_id,
        sender_id,
        client_msg_id: Some(content.into()),
        reply_to_message_id: None,
        message_type: "text".into(),
        content: Some(content.into()),
        latitude: None,
        longitude: None,
        location_name: None,
        contact_data: None,
        media: None,
        forward_count: 0,
        flagged: false,
    }
}

/// Two users (numbers 1 and 2) and their private chat: `(first, second, chat id)`.
pub async fn two_in_a_chat(engine: &Engine) -> (i64, i64, i64) {
    let (a, b) = (user(engine, 1).await, user(engine, 2).await);
    let (chat, _) = engine
        .write(GetOrCreatePrivate {
            user_id: a,
            other_id: b,
        })
        .await
        .unwrap();
    (a, b, chat.id)
}
