//! Storage: one schema on two backends (SQLite embedded, PostgreSQL for scale).
//!
//! [`Db`] is a pool of either backend. Query code is written once against a [`Conn`] and
//! expanded for both backends by [`on_conn!`](crate::on_conn), so every query is type-checked
//! for SQLite and for PostgreSQL. Reads use the pool directly; every write goes through the
//! [`Writer`](crate::writer::Writer) actor.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod auth_purge;
pub mod backup;
mod blocking;
pub mod calls;
pub mod chat_settings;
pub mod chats;
pub mod contacts;
pub mod disappearing;
pub mod erasure;
pub mod exports;
pub mod former;
pub mod groups;
pub mod media_refs;
pub mod message_ops;
pub mod message_purge;
pub mod messages;
mod pg_bulk;
pub mod pg_tls;
pub mod positions;
pub mod presence;
pub mod push;
pub mod reactions;
pub mod receipts;
pub mod reports;
pub mod schema;
pub mod search;
mod send_reads;
pub mod stars;
pub mod statuses;
pub mod sync;
mod timeouts;
pub mod tx;
pub mod users;
pub mod views;
pub mod wal;

pub use blocking::{inline_if, FinishOnDrop};

use std::time::Duration;

use diesel::{Connection as _, SqliteConnection};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

/// SQLite connection usable from async code (queries run on tokio's blocking pool, or inline:
/// [`inline_if`]).
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection, FinishOnDrop>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Pragmas every connection needs: a busy timeout first (so a reader waits for the writer
/// instead of failing), foreign keys (off by default in SQLite), and full fsync at commit (an
/// acknowledged write survives power loss; group commit amortises the cost). Pooled
/// connections wait for a lock as long as the database deadline ([`sqlite_pragmas`]). Deleted
/// content is overwritten in the file (`secure_delete`), not left in free pages.
const SQLITE_CONN_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
     PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;";

/// The pragmas of a pooled SQLite connection: a lock held by another process (or a stuck
/// writer) is waited for at most `timeout`, then the statement fails as unavailable. The
/// writer's own connections (`for_writer`) commit with `synchronous = NORMAL` and never
/// checkpoint: the writer syncs and checkpoints the WAL itself ([`wal`]); when a commit starts
/// the WAL over, a file grown past 64 MB by a burst is cut back to that. Every other
/// connection syncs at commit.
fn sqlite_pragmas(timeout: Duration, for_writer: bool) -> String {
    let wal = match for_writer {
        true => {
            "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA journal_size_limit = 67108864;"
        }
        false => "PRAGMA synchronous = FULL;",
    };
    format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; {wal} PRAGMA secure_delete = ON;",
        timeout.as_millis().max(1)
    )
}

/// How long a caller waits for the database when nothing else is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Set once, by migrations: WAL lets readers run beside the writer. The mode is stored in the
/// database file, so pooled connections need not (and, while the writer holds a lock, cannot)
/// set it again.
const SQLITE_WAL: &str = "PRAGMA journal_mode = WAL;";

/// An infrastructure failure: the database is unreachable or a query failed. Never caused
/// by client input (input problems are answered before anything reaches the store).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database pool: {0}")]
    Pool(String),
    /// The database did not answer in time, is locked, or the connection to it broke: the
    /// request may succeed later, unchanged.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("query: {0}")]
    Query(diesel::result::Error),
    #[error("migration: {0}")]
    Migration(String),
    #[error("bad database url: {0}")]
    Url(String),
    #[error("writer stopped")]
    WriterGone,
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Whether the database, not the request, is at fault (503 rather than 500; a write
    /// batch that fails this way is not retried command by command).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Pool(_) | StoreError::WriterGone
        )
    }

    /// The same failure for another caller of a read that served several (a query error
    /// keeps its kind, as text).
    pub fn copy(&self) -> StoreError {
        match self {
            StoreError::Pool(m) => StoreError::Pool(m.clone()),
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            StoreError::Query(e) => StoreError::Query(diesel::result::Error::QueryBuilderError(
                e.to_string().into(),
            )),
            StoreError::Migration(m) => StoreError::Migration(m.clone()),
            StoreError::Url(m) => StoreError::Url(m.clone()),
            StoreError::WriterGone => StoreError::WriterGone,
        }
    }
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        if timeouts::is_unavailable(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Query(e)
        }
    }
}

/// Which backend a database URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A file path (the `sqlite://` prefix removed).
    Sqlite(String),
    /// A full `postgres://` URL.
    Postgres(String),
}

impl Backend {
    /// Parses `sqlite://path/to/file.db` or `postgres://…` / `postgresql://…`.
    pub fn from_url(url: &str) -> StoreResult<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains(":memory:") {
                return Err(StoreError::Url(
                    "sqlite needs a file path (an in-memory database is private to one connection)"
                        .into(),
                ));
            }
            Ok(Backend::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres(url.to_string()))
        } else {
            Err(StoreError::Url(
                "expected sqlite://<file> or postgres://…".into(),
            ))
        }
    }
}

/// A pool of connections to one of the two backends, with the deadline every wait for the
/// database is held to.
#[derive(Clone)]
pub struct Db {
    pools: Pools,
    timeout: Duration,
    /// Where the time spent waiting for a connection is observed (see [`Db::observe_waits`]).
    waits: Option<prometheus_client::metrics::histogram::Histogram>,
    /// SQLite opened for the writer ([`Db::open_for_writer`]): commits return unsynced, and
    /// this syncs them.
    wal: Option<wal::WalSync>,
}

#[derive(Clone)]
enum Pools {
    Sqlite(Pool<SqliteConn>),
    Pg(Pool<AsyncPgConnection>),
}

/// A pooled connection, returned to the pool on drop. Held on the stack for one request,
/// so the size of the PostgreSQL variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum PooledConn {
    Sqlite(Object<SqliteConn>),
    Pg(Object<AsyncPgConnection>),
}

/// A borrowed connection of either backend: what query functions take.
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConn),
    Pg(&'a mut AsyncPgConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection of whichever backend `$conn`
/// (a `&mut Conn`) holds. The body is compiled once per backend.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::Conn::Sqlite(inner) => {
                let $c: &mut $crate::store::SqliteConn = &mut **inner;
                $body
            }
            $crate::store::Conn::Pg(inner) => {
                let $c: &mut diesel_async::AsyncPgConnection = &mut **inner;
                $body
            }
        }
    };
}

impl PooledConn {
    /// Borrows the connection for query functions.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            PooledConn::Sqlite(c) => Conn::Sqlite(&mut *c),
            PooledConn::Pg(c) => Conn::Pg(&mut *c),
        }
    }
}

/// A pool of at most `$size` connections whose waits (for a free slot, a new connection, the
/// ping of an idle one) each last at most `$timeout`. The connection used last goes out first:
/// with SQLite, a connection's page cache is dropped whenever another connection wrote, so
/// taking the same one again (the writer, one batch after another) keeps its cache warm.
macro_rules! build_pool {
    ($manager:expr, $size:expr, $timeout:expr) => {
        Pool::builder($manager)
            .max_size($size)
            .queue_mode(deadpool::managed::QueueMode::Lifo)
            .wait_timeout(Some($timeout))
            .create_timeout(Some($timeout))
            .recycle_timeout(Some($timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?
    };
}

impl Db {
    /// Opens a pool for `url` (creating the SQLite file and its folder if needed), with the
    /// default deadline.
    pub async fn connect(url: &str, pool_size: usize) -> StoreResult<Db> {
        Self::open(url, pool_size, DEFAULT_TIMEOUT).await
    }

    /// Opens a pool for `url` whose callers wait at most `timeout` for the database: for a
    /// connection and, on PostgreSQL, for each statement (`statement_timeout` on the server;
    /// TCP keepalive and a connect timeout on the client; taking a connection from the pool
    /// pings it, so a dead or frozen one is dropped). On SQLite a lock is waited for at most
    /// `timeout`.
    pub async fn open(url: &str, pool_size: usize, timeout: Duration) -> StoreResult<Db> {
        let pools = Self::pools(url, pool_size, timeout, false).await?;
        Ok(Db {
            pools,
            timeout,
            waits: None,
            wal: None,
        })
    }

    /// Like [`Db::open`], for the writer alone: on SQLite its commits return before the WAL is
    /// synced, and the writer answers after [`Db::wal`] has synced it, so the next batch runs
    /// while one commit's sync is under way. On PostgreSQL the same as [`Db::open`].
    pub async fn open_for_writer(
        url: &str,
        pool_size: usize,
        timeout: Duration,
    ) -> StoreResult<Db> {
        let wal = match Backend::from_url(url)? {
            Backend::Sqlite(path) => Some(wal::WalSync::new(&path)),
            Backend::Postgres(_) => None,
        };
        let pools = Self::pools(url, pool_size, timeout, wal.is_some()).await?;
        Ok(Db {
            pools,
            timeout,
            waits: None,
            wal,
        })
    }

    /// The WAL sync a commit on this handle still needs before it is durable, if any.
    pub fn wal(&self) -> Option<&wal::WalSync> {
        self.wal.as_ref()
    }

    async fn pools(
        url: &str,
        pool_size: usize,
        timeout: Duration,
        for_writer: bool,
    ) -> StoreResult<Pools> {
        match Backend::from_url(url)? {
            Backend::Sqlite(path) => {
                if let Some(dir) = std::path::Path::new(&path).parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            StoreError::Url(format!("cannot create {}: {e}", dir.display()))
                        })?;
                    }
                }
                let mut config = ManagerConfig::default();
                // A checkout does not ping: a SQLite connection is a file handle, which cannot
                // drop the way a network connection does, and the ping would cost a trip to
                // the blocking pool and back. (One left in a transaction is still dropped.)
                config.recycling_method = RecyclingMethod::Fast;
                let pragmas = sqlite_pragmas(timeout, for_writer);
                config.custom_setup = Box::new(move |url| {
                    let url = url.to_string();
                    let pragmas = pragmas.clone();
                    async move {
                        let mut conn = SqliteConn::establish(&url).await?;
                        conn.batch_execute(&pragmas)
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager =
                    AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
                Ok(Pools::Sqlite(build_pool!(manager, pool_size, timeout)))
            }
            Backend::Postgres(url) => {
                // Checkouts ping the connection (diesel-async's default, "verified").
                let target = pg_tls::target(&timeouts::pg_url(&url, timeout))?;
                let mut config = ManagerConfig::default();
                let tls = target.tls.clone();
                config.custom_setup =
                    Box::new(move |url| pg_tls::connect(url.to_string(), tls.clone()).boxed());
                let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
                    target.url, config,
                );
                Ok(Pools::Pg(build_pool!(manager, pool_size, timeout)))
            }
        }
    }

    /// Takes a connection from the pool, or fails as unavailable after the deadline (a
    /// checkout may try several idle connections and open a new one; together they get one
    /// deadline).
    pub async fn get(&self) -> StoreResult<PooledConn> {
        let started = std::time::Instant::now();
        let get = async {
            match &self.pools {
                Pools::Sqlite(p) => p.get().await.map(PooledConn::Sqlite),
                Pools::Pg(p) => p.get().await.map(PooledConn::Pg),
            }
            .map_err(|e| StoreError::Unavailable(e.to_string()))
        };
        let conn = tokio::time::timeout(self.timeout, get)
            .await
            .unwrap_or_else(|_| Err(timeouts::late(self.timeout)));
        if let Some(waits) = &self.waits {
            waits.observe(started.elapsed().as_secs_f64());
        }
        conn
    }

    /// Observes every wait for a connection of this handle into `waits`.
    pub fn observe_waits(
        mut self,
        waits: prometheus_client::metrics::histogram::Histogram,
    ) -> Self {
        self.waits = Some(waits);
        self
    }

    /// The deadline of every wait for this database.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `"sqlite"` or `"postgres"`, for logs and health output.
    pub fn backend_name(&self) -> &'static str {
        match self.pools {
            Pools::Sqlite(_) => "sqlite",
            Pools::Pg(_) => "postgres",
        }
    }
}

/// A read that proves the schema is there and readable (health checks).
pub async fn ping(conn: &mut Conn<'_>) -> StoreResult<()> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let _: Vec<i64> = on_conn!(conn, |c| {
        schema::counters::table
            .select(schema::counters::value)
            .limit(1)
            .load(c)
            .await?
    });
    Ok(())
}

/// Runs `work` within `limit`, or fails as unavailable: a database that stopped answering
/// mid-query must not hold its caller.
pub async fn within<T>(
    limit: Duration,
    work: impl std::future::Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(timeouts::late(limit)))
}

/// Applies pending migrations for the backend `url` names; returns how many ran.
pub async fn migrate(url: &str) -> StoreResult<usize> {
    // A PostgreSQL connection is opened here, on the runtime, and driven from the blocking
    // thread that migrates.
    enum Open {
        Sqlite(String),
        Postgres(Box<AsyncPgConnection>),
    }
    let backend = match Backend::from_url(url)? {
        Backend::Sqlite(path) => Open::Sqlite(path),
        Backend::Postgres(url) => {
            let target = pg_tls::target(&url)?;
            let conn = pg_tls::connect(target.url, target.tls)
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            Open::Postgres(Box::new(conn))
        }
    };
    tokio::task::spawn_blocking(move || -> StoreResult<usize> {
        let mig =
            |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
        match backend {
            Open::Sqlite(path) => {
                if let Some(dir) = std::path::Path::new(&path).parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            StoreError::Url(format!("cannot create {}: {e}", dir.display()))
                        })?;
                    }
                }
                let mut conn = SqliteConnection::establish(&path)
                    .map_err(|e| StoreError::Migration(e.to_string()))?;
                diesel::connection::SimpleConnection::batch_execute(
                    &mut conn,
                    SQLITE_CONN_PRAGMAS,
                )?;
                diesel::connection::SimpleConnection::batch_execute(&mut conn, SQLITE_WAL)?;
                conn.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|v| v.len())
                    .map_err(mig)
            }
            Open::Postgres(conn) => {
                let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(*conn);
                // Nodes of a cluster may start together: one migrates, the others wait for
                // it and then find nothing left to do. (The lock goes with the connection.)
                diesel::connection::SimpleConnection::batch_execute(
                    &mut conn,
                    "SELECT pg_advisory_lock(7422003001)",
                )?;
                conn.run_pending_migrations(PG_MIGRATIONS)
                    .map(|v| v.len())
                    .map_err(mig)
            }
        }
    })
    .await
    .map_err(|e| StoreError::Migration(e.to_string()))?
}
