//! Operator commands that run beside a live server, in a process of their own, on the same
//! database: `courier backup`, `courier users …`, `courier stats`. Each opens a small pool (on
//! SQLite: WAL, and a busy timeout of `database.timeout_ms`, so it waits for the server's
//! writer instead of failing) and writes through a writer of its own, with the same
//! transactions the server uses. Each answers the text to print, or an [`AdminError`] whose
//! message is one line.

pub mod admins;
pub mod backup;
pub mod stats;
pub mod users;

use std::path::Path;
use std::time::Duration;

use actix::prelude::*;
use courier_actors::store::{self, Backend, Db, StoreError};
use courier_actors::writer::{Write, WriteOp, Writer};
use courier_actors::Clock;

use crate::config::Settings;
use crate::secrets::Secrets;

/// Why a command failed: a one-line message, and the exit status the binary returns.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    pub message: String,
    /// 1: the command could not be done (unknown user, a file in the way, the database);
    /// 2: it was given wrong arguments.
    pub exit: u8,
}

impl AdminError {
    pub fn failed(message: impl Into<String>) -> AdminError {
        AdminError {
            message: message.into(),
            exit: 1,
        }
    }

    pub fn usage(message: impl Into<String>) -> AdminError {
        AdminError {
            message: message.into(),
            exit: 2,
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::failed(one_line(&e.to_string()))
    }
}

/// The first line of a message (database errors may run over several).
fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

pub type AdminResult<T> = Result<T, AdminError>;

/// What a command works with: the database, a writer, the secrets (phone numbers are looked
/// up by their keyed hash) and a clock.
pub struct Admin {
    pub settings: Settings,
    pub db: Db,
    writer: Addr<Writer>,
    pub secrets: Secrets,
    pub clock: Clock,
}

impl Admin {
    /// Opens the configured database, which must exist already (a command never creates an
    /// empty one), and brings its schema up to date as `courier serve` would. Must run inside
    /// an actix system (the writer is an actor).
    pub async fn open(settings: &Settings, clock: Clock) -> AdminResult<Admin> {
        let url = &settings.database.url;
        if let Backend::Sqlite(path) = Backend::from_url(url)? {
            if !Path::new(&path).exists() {
                return Err(AdminError::failed(format!(
                    "no database at {path}; start the server or run `courier migrate` first"
                )));
            }
        }
        store::migrate(url).await?;
        let timeout = Duration::from_millis(settings.database.timeout_ms);
        let db = Db::open(url, 2, timeout).await?;
        let write_db = Db::open_for_writer(url, 1, timeout).await?;
        let writer_clock = clock.clone();
        // A command's writer counts into metrics nobody scrapes.
        let metrics = std::sync::Arc::new(courier_actors::metrics::Metrics::new());
        let writer = Writer::new(write_db, writer_clock, metrics).start();
        let secrets = Secrets::load(
            &settings.server.data_dir,
            &settings.auth.jwt_secret,
            &settings.auth.phone_hash_key,
        )
        .map_err(|e| AdminError::failed(e.to_string()))?;
        Ok(Admin {
            settings: settings.clone(),
            db,
            writer,
            secrets,
            clock,
        })
    }

    /// Performs a write and waits for its commit.
    pub async fn write<O: WriteOp>(&self, op: O) -> AdminResult<O::Output> {
        let out = self
            .writer
            .send(Write(op))
            .await
            .map_err(|_| StoreError::WriterGone)??;
        Ok(out)
    }
}
