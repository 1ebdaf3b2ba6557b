//! Test support: an engine on a temporary SQLite database, users, messages, and a scratch
//! database for one test or bench run. The engine's tests use it, and (through the `testing`
//! feature, a dev-dependency only) the server's integration tests and the benches.

use std::time::Duration;

use chrono::TimeDelta;

use crate::storage::{Backend, Storage};
use crate::store::auth::{CreateOtp, VerifyOtp, VerifyOutcome};
use crate::store::chats::GetOrCreatePrivate;
use crate::store::messages::NewMessage;
use crate::store::{migrate, Db};
use crate::{Clock, Engine, Realtime};

pub use tempfile::TempDir;

/// An engine on a SQLite database in `dir`, with the system clock and default settings.
pub async fn engine(dir: &TempDir) -> Engine {
    engine_with_timeout(dir, crate::store::DEFAULT_TIMEOUT).await
}

/// The database file of an engine made by [`engine`] in `dir`.
pub fn db_path(dir: &TempDir) -> std::path::PathBuf {
    dir.path().join("rooms.db")
}

/// An engine whose waits for the database last at most `timeout`.
pub async fn engine_with_timeout(dir: &TempDir, timeout: Duration) -> Engine {
    let url = format!("sqlite://{}", db_path(dir).display());
    engine_at(&url, dir, timeout).await
}

/// An engine on the database at `url` (migrated here), its media in `dir`.
pub async fn engine_at(url: &str, dir: &TempDir, timeout: Duration) -> Engine {
    migrate(url).await.unwrap();
    let write_db = Db::open_for_writer(url, 1, timeout).await.unwrap();
    engine_writing_to(url, dir, write_db).await
}

/// An engine on the migrated database at `url` whose writer uses `write_db`.
pub async fn engine_writing_to(url: &str, dir: &TempDir, write_db: Db) -> Engine {
    let timeout = write_db.timeout();
    let storage = Storage::open(
        &Backend::Local {
            dir: dir.path().join("media"),
        },
        b"room-test-key".to_vec(),
        String::new(),
        Duration::from_secs(3600),
        Clock::system(),
    )
    .unwrap();
    Engine::start(
        Db::open(url, 2, timeout).await.unwrap(),
        write_db,
        Clock::system(),
        Realtime::default(),
        storage,
    )
}

/// Signs up user number `n` through the writer, as the sign-in flow would: their id.
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
            phone_number: phone(n),
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

/// A phone number unique to `n`: `+1 415`, and an exchange from 200 on (valid numbers, as the
/// server requires).
pub fn phone(n: u32) -> String {
    format!("+1415{:07}", 2_000_000 + n)
}

/// A database of its own for one test or bench run: a temporary SQLite file, or a new
/// PostgreSQL database when the environment variable given to [`create`](Self::create) names
/// a server (dropped with this).
pub struct ScratchDb {
    pub url: String,
    /// A temporary folder for the SQLite file, data and media.
    pub dir: TempDir,
    pg: Option<(String, String)>,
}

impl ScratchDb {
    /// A fresh database; `env` names the variable holding a PostgreSQL server's URL.
    pub async fn create(env: &str) -> ScratchDb {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var(env) {
            Ok(admin) if !admin.is_empty() => {
                let id: u64 = rand::random();
                let name = format!("courier_scratch_{id:016x}");
                let mut conn = AsyncPgConnection::establish(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("connect to {env}: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create a scratch database");
                ScratchDb {
                    url: replace_db_name(&admin, &name),
                    dir,
                    pg: Some((admin, name)),
                }
            }
            _ => ScratchDb {
                url: format!("sqlite://{}", dir.path().join("courier.db").display()),
                dir,
                pg: None,
            },
        }
    }

    /// `postgres` or `sqlite`.
    pub fn label(&self) -> &'static str {
        if self.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        if let Some((admin, name)) = self.pg.take() {
            // Drop runs outside any async context we may block: use a thread of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = AsyncPgConnection::establish(&admin).await {
                        let _ = diesel::sql_query(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// `url` with its database name replaced by `name` (the query string kept).
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
