//! The writer's own sync of SQLite's write-ahead log, so a commit's fsync can overlap the next
//! batch.
//!
//! The writer's SQLite connections commit with `synchronous = NORMAL`: a commit writes its
//! pages to the WAL file and returns without syncing it, and the next batch may start at once.
//! Its commands are answered only after [`WalSync::sync`] has synced the WAL file, which makes
//! the commit as durable as `synchronous = FULL` would have (SQLite syncs the WAL itself before
//! every checkpoint, and the database file after it). One sync covers every commit that
//! returned before it began, so batches that committed while one sync ran share the next.
//!
//! Between its commit and that sync a message can be read by others (a sync or a history
//! read), before its sender is answered; a power cut in that window (not a killed process:
//! the pages are in the kernel) loses it, unanswered.
//!
//! The writer's connections never checkpoint (`wal_autocheckpoint = 0`): a checkpoint run
//! inside a commit held up every batch behind it. [`WalSync::checkpoints`] copies the WAL into
//! the database file on a connection of its own instead, at most every [`CHECKPOINT_EVERY`]
//! while commits come in; SQLite lets writers go on beside it.
//!
//! If a sync fails, the kernel may have dropped the pages it could not write, so a later sync
//! that succeeds would prove nothing: every later sync fails too, until the process restarts
//! (the writer's probe, and so readiness, fails with it).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use super::{StoreError, StoreResult};

/// Syncs one database's WAL file; cheap to clone.
#[derive(Clone)]
pub struct WalSync {
    inner: Arc<Inner>,
}

/// Under a steady load, the pause between two checkpoints: the WAL holds about this much of
/// the writes.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

struct Inner {
    /// The database file.
    db_path: String,
    /// The `-wal` file beside it.
    path: PathBuf,
    /// Commits that returned (the ticket of the latest).
    commits: AtomicU64,
    /// Every commit up to this ticket is synced.
    synced: AtomicU64,
    /// A sync failed: nothing is durable any more until a restart.
    failed: AtomicBool,
    /// One sync at a time: the next one waits and may find itself covered.
    turn: tokio::sync::Mutex<()>,
    /// Told after each sync: there is something to checkpoint.
    written: tokio::sync::Notify,
}

/// A commit that returned and waits for its sync.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl WalSync {
    /// For the database file at `db_path`.
    pub fn new(db_path: &str) -> Self {
        WalSync {
            inner: Arc::new(Inner {
                db_path: db_path.to_string(),
                path: PathBuf::from(format!("{db_path}-wal")),
                commits: AtomicU64::new(0),
                synced: AtomicU64::new(0),
                failed: AtomicBool::new(false),
                turn: tokio::sync::Mutex::new(()),
                written: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Records a commit that has just returned; [`WalSync::sync`] with its ticket makes it
    /// durable.
    pub fn committed(&self) -> Ticket {
        Ticket(self.inner.commits.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Returns once the commit of `ticket` is on disk.
    pub async fn sync(&self, ticket: Ticket) -> StoreResult<()> {
        let inner = &self.inner;
        let _turn = inner.turn.lock().await;
        if inner.failed.load(Ordering::SeqCst) {
            return Err(failed());
        }
        if inner.synced.load(Ordering::SeqCst) >= ticket.0 {
            return Ok(());
        }
        // Every commit counted so far has written its pages; the sync covers them all.
        let upto = inner.commits.load(Ordering::SeqCst);
        let path = inner.path.clone();
        let synced = tokio::task::spawn_blocking(move || sync_file(&path))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r);
        match synced {
            Ok(()) => {
                inner.synced.store(upto, Ordering::SeqCst);
                inner.written.notify_one();
                Ok(())
            }
            Err(e) => {
                inner.failed.store(true, Ordering::SeqCst);
                tracing::error!(error = %e, path = %inner.path.display(),
                    "cannot sync the write-ahead log: writes are refused until a restart");
                Err(failed())
            }
        }
    }

    /// Checkpoints the WAL whenever commits were synced, at most every [`CHECKPOINT_EVERY`],
    /// for as long as the future is polled (the writer drops it when it stops).
    pub async fn checkpoints(self) {
        let mut conn: Option<SqliteConnection> = None;
        loop {
            self.inner.written.notified().await;
            let path = self.inner.db_path.clone();
            let taken = conn.take();
            match tokio::task::spawn_blocking(move || checkpoint(taken, &path)).await {
                Ok((kept, Ok(()))) => conn = kept,
                Ok((kept, Err(e))) => {
                    conn = kept;
                    tracing::warn!(error = %e, "WAL checkpoint failed; the next one retries");
                }
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint stopped"),
            }
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
    }
}

/// Copies what it can of the WAL into the database file without waiting for readers or
/// writers (`PASSIVE`), on `conn` or a new connection; gives the connection back.
fn checkpoint(
    conn: Option<SqliteConnection>,
    db_path: &str,
) -> (Option<SqliteConnection>, Result<(), String>) {
    let mut conn = match conn {
        Some(conn) => conn,
        None => match SqliteConnection::establish(db_path) {
            Ok(conn) => conn,
            Err(e) => return (None, Err(e.to_string())),
        },
    };
    // NORMAL: the checkpoint syncs the WAL before copying and the database file after.
    let result = conn
        .batch_execute("PRAGMA synchronous = NORMAL; PRAGMA wal_checkpoint(PASSIVE);")
        .map_err(|e| e.to_string());
    (Some(conn), result)
}

#[cfg(test)]
impl WalSync {
    /// Holds every sync back while the guard lives.
    pub(crate) async fn hold(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.turn.lock().await
    }

    /// Commits that have returned so far.
    pub(crate) fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::SeqCst)
    }
}

fn failed() -> StoreError {
    StoreError::Unavailable("the write-ahead log could not be synced; restart the server".into())
}

/// Syncs the file's data. A missing WAL was checkpointed into the database file and removed
/// by SQLite, which synced the database file first: nothing is left to sync.
fn sync_file(path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::File::open(path) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sync_covers_every_commit_before_it_and_not_after() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let db = db.to_str().unwrap();
        std::fs::write(format!("{db}-wal"), b"frames").unwrap();
        let wal = WalSync::new(db);
        let (a, b) = (wal.committed(), wal.committed());
        wal.sync(a).await.unwrap();
        assert_eq!(
            wal.inner.synced.load(Ordering::SeqCst),
            2,
            "b was covered by a's sync"
        );
        wal.sync(b).await.unwrap();
        let c = wal.committed();
        assert_eq!(wal.inner.synced.load(Ordering::SeqCst), 2);
        wal.sync(c).await.unwrap();
        assert_eq!(wal.inner.synced.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn after_a_failed_sync_nothing_is_durable_again() {
        let dir = tempfile::tempdir().unwrap();
        // The database's folder is a plain file: the WAL cannot be opened (ENOTDIR).
        let folder = dir.path().join("data");
        std::fs::write(&folder, b"not a folder").unwrap();
        let db = folder.join("c.db");
        let db = db.to_str().unwrap();
        let wal = WalSync::new(db);
        let e = wal.sync(wal.committed()).await.unwrap_err();
        assert!(e.is_unavailable(), "{e}");
        // The folder is repaired and the WAL is there: still refused, until a restart.
        std::fs::remove_file(&folder).unwrap();
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(format!("{db}-wal"), b"frames").unwrap();
        let e = wal.sync(wal.committed()).await.unwrap_err();
        assert!(e.is_unavailable(), "{e}");
        assert_eq!(wal.inner.synced.load(Ordering::SeqCst), 0);
        assert!(WalSync::new(db).sync(Ticket(1)).await.is_ok());
    }
}
