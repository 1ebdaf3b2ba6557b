//! Shared bench setup: a fresh database (temp SQLite, or a new PostgreSQL database when
//! `COURIER_BENCH_DATABASE_URL` names a server), server settings without rate limits, and
//! users.

#![allow(dead_code)]

pub mod client;
#[path = "../../tests/shared/sign_up.rs"]
pub mod sign_up;

use courier::Settings;
use courier_actors::testing::ScratchDb;
use courier_actors::Engine;

/// A database for one bench run, dropped afterwards: a temporary SQLite file, or a new
/// PostgreSQL database when `COURIER_BENCH_DATABASE_URL` names a server.
pub async fn database() -> ScratchDb {
    ScratchDb::create("COURIER_BENCH_DATABASE_URL").await
}

/// Settings for a bench server: port 0, fixed code, limits out of the way.
pub fn settings(db: &ScratchDb) -> Settings {
    let mut s = Settings::default();
    s.server.bind = "127.0.0.1:0".into();
    s.metrics.bind = String::new();
    s.server.data_dir = db.dir.path().to_path_buf();
    s.database.url = db.url.clone();
    s.database.pool_size = 8;
    s.auth.fixed_otp = "123456".into();
    s.limits.otp_per_ip_per_minute = 1_000_000;
    s.limits.otp_per_phone_per_minute = 1_000_000;
    s.limits.messages_per_minute = 100_000_000;
    s.realtime.outbound_queue = 100_000;
    s
}

/// An engine on `db` (migrated first), with the system clock and default settings.
pub async fn engine(db: &ScratchDb) -> Engine {
    use courier_actors::{Clock, Realtime};
    courier_actors::store::migrate(&db.url).await.unwrap();
    let pool = courier_actors::store::Db::connect(&db.url, 8)
        .await
        .unwrap();
    let write_pool = courier_actors::store::Db::open_for_writer(
        &db.url,
        courier_actors::writer::MAX_IN_FLIGHT + 1,
        courier_actors::store::DEFAULT_TIMEOUT,
    )
    .await
    .unwrap();
    let storage = courier_actors::storage::Storage::open(
        &courier_actors::storage::Backend::Local {
            dir: db.dir.path().join("media"),
        },
        b"bench-media-key".to_vec(),
        String::new(),
        std::time::Duration::from_secs(3600),
        Clock::system(),
    )
    .unwrap();
    Engine::start(
        pool,
        write_pool,
        Clock::system(),
        Realtime::default(),
        storage,
    )
}
