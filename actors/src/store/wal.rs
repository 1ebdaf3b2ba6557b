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
//! while commits come in; SQLite lets writers go on beside it. Under a steady stream of
//! commits, though, some always land while it runs, so the WAL is never wholly copied and
//! SQLite never starts it over: it would grow without end. So once the WAL holds more than
//! [`RESTART_FRAMES`], the checkpointer runs again at once until only a few frames are left,
//! and asks the writer to finish the job between two batches
//! ([`WalSync::restart_if_wanted`]): no commit can land meanwhile, and the next commit writes
//! the WAL from its start.
//!
//! If a sync fails, the kernel may have dropped the pages it could not write, so a later sync
//! that succeeds would prove nothing: every later sync fails too, until the process restarts
//! (the writer's probe, and so readiness, fails with it).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use diesel_async::SimpleAsyncConnection;

use super::{SqliteConn, StoreError, StoreResult};

/// Syncs one database's WAL file; cheap to clone.
#[derive(Clone)]
pub struct WalSync {
    inner: Arc<Inner>,
}

/// Under a steady load, the pause between two checkpoints: the WAL holds about this much of
/// the writes.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Frames (pages) in the WAL past which the writer finishes a checkpoint itself, so that the
/// WAL starts over (SQLite's own automatic checkpoint comes at the same size, about 4 MB).
pub const RESTART_FRAMES: i64 = 1000;

/// Frames the checkpointer may leave for the writer to copy (with its two syncs, the pause it
/// costs the writer).
const FINISH_FRAMES: i64 = 64;

/// Checkpoints in a row at most, catching up with a long WAL.
const MAX_ROUNDS: usize = 8;

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
    /// The WAL has grown past `restart_frames`: the writer should finish a checkpoint.
    restart: AtomicBool,
    /// See [`RESTART_FRAMES`].
    restart_frames: i64,
}

/// A commit that returned and waits for its sync.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl WalSync {
    /// For the database file at `db_path`.
    pub fn new(db_path: &str) -> Self {
        Self::restarting_after(db_path, RESTART_FRAMES)
    }

    fn restarting_after(db_path: &str, restart_frames: i64) -> Self {
        WalSync {
            inner: Arc::new(Inner {
                db_path: db_path.to_string(),
                path: PathBuf::from(format!("{db_path}-wal")),
                commits: AtomicU64::new(0),
                synced: AtomicU64::new(0),
                failed: AtomicBool::new(false),
                turn: tokio::sync::Mutex::new(()),
                written: tokio::sync::Notify::new(),
                restart: AtomicBool::new(false),
                restart_frames,
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
        // A batch alone in the writer's pipeline syncs on the writer's thread, as it ran its
        // statements there: no hop to the blocking pool and back for a lone message.
        let synced = if super::blocking::inline_now() {
            sync_file(&inner.path)
        } else {
            let path = inner.path.clone();
            tokio::task::spawn_blocking(move || sync_file(&path))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|r| r)
        };
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
            conn = self.catch_up(conn.take()).await;
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
    }

    /// One checkpoint; while the WAL is past [`RESTART_FRAMES`], more right after it (each
    /// copies only what landed during the one before), until at most [`FINISH_FRAMES`] are
    /// left: then the writer is asked to copy those and start the WAL over.
    async fn catch_up(&self, mut conn: Option<SqliteConnection>) -> Option<SqliteConnection> {
        for _ in 0..MAX_ROUNDS {
            let path = self.inner.db_path.clone();
            let wal = match tokio::task::spawn_blocking(move || checkpoint(conn, &path)).await {
                Ok((kept, Ok(wal))) => {
                    conn = kept;
                    wal
                }
                Ok((kept, Err(e))) => {
                    tracing::warn!(error = %e, "WAL checkpoint failed; the next one retries");
                    return kept;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint stopped");
                    return None;
                }
            };
            if wal.log < self.inner.restart_frames {
                return conn;
            }
            if wal.log - wal.checkpointed <= FINISH_FRAMES {
                break;
            }
        }
        // Caught up, or a reader on old frames keeps the checkpoints from catching up.
        self.inner.restart.store(true, Ordering::SeqCst);
        conn
    }

    /// Run by the writer on its connection before a batch, while no other batch runs its
    /// statements: if the checkpointer found the WAL too long, copies what is left of it into
    /// the database file, so that the batch's commit starts the WAL over. (A reader still on
    /// old frames can keep it from starting over; the next checkpoint asks again.)
    pub async fn restart_if_wanted(&self, conn: &mut SqliteConn) {
        if self.inner.restart.swap(false, Ordering::SeqCst) {
            if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);").await {
                tracing::warn!(error = %e, "the writer's WAL checkpoint failed");
            }
        }
    }
}

/// What `PRAGMA wal_checkpoint` reports: the frames in the WAL, and how many of them are
/// copied into the database file.
#[derive(QueryableByName)]
struct Checkpointed {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    log: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    checkpointed: i64,
}

/// Copies what it can of the WAL into the database file without waiting for readers or
/// writers (`PASSIVE`), on `conn` or a new connection; gives the connection back.
fn checkpoint(
    conn: Option<SqliteConnection>,
    db_path: &str,
) -> (Option<SqliteConnection>, Result<Checkpointed, String>) {
    let mut conn = match conn {
        Some(conn) => conn,
        None => {
            // NORMAL: the checkpoint syncs the WAL before copying and the database file after.
            let opened = SqliteConnection::establish(db_path)
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    c.batch_execute("PRAGMA synchronous = NORMAL;")
                        .map(|()| c)
                        .map_err(|e| e.to_string())
                });
            match opened {
                Ok(conn) => conn,
                Err(e) => return (None, Err(e)),
            }
        }
    };
    let result = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
        .get_result::<Checkpointed>(&mut conn)
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

    /// The WAL's checkpoint sequence number (bytes 12..16 of its header), one higher each
    /// time the WAL starts over.
    fn starts(db: &str) -> u32 {
        let header = std::fs::read(format!("{db}-wal")).unwrap();
        u32::from_be_bytes(header[12..16].try_into().unwrap())
    }

    #[tokio::test]
    async fn a_wal_the_checkpointer_cannot_finish_is_started_over_by_the_writer() {
        use diesel_async::AsyncConnection;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let db = db.to_str().unwrap();
        let mut writer = SqliteConn::establish(db).await.unwrap();
        let pragmas = super::super::sqlite_pragmas(Duration::from_secs(2), true);
        writer
            .batch_execute(&format!("PRAGMA journal_mode = WAL; {pragmas}"))
            .await
            .unwrap();
        writer
            .batch_execute("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .await
            .unwrap();
        let wal = WalSync::restarting_after(db, 2);
        // A reader stays on the first frames while more commits land, as commits landing
        // during a checkpoint would: the checkpoint cannot copy them all.
        let mut reader = SqliteConnection::establish(db).unwrap();
        reader
            .batch_execute("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        for _ in 0..3 {
            writer
                .batch_execute("INSERT INTO t VALUES (2);")
                .await
                .unwrap();
        }
        let _ = wal.catch_up(None).await;
        reader.batch_execute("COMMIT;").unwrap();
        let before = starts(db);
        // Left as it is, the WAL only grows.
        writer
            .batch_execute("INSERT INTO t VALUES (3);")
            .await
            .unwrap();
        assert_eq!(starts(db), before);
        // The writer finishes the checkpoint before its next batch, which starts the WAL over.
        wal.restart_if_wanted(&mut writer).await;
        writer
            .batch_execute("INSERT INTO t VALUES (4);")
            .await
            .unwrap();
        assert_eq!(starts(db), before + 1);
        let count: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM t")
            .get_result(&mut reader)
            .unwrap();
        assert_eq!(count, 6);
    }
}
