//! Shared bench setup: a fresh database (temp SQLite, or a new PostgreSQL database when
//! `COURIER_BENCH_DATABASE_URL` names a server) and server settings without rate limits.

#![allow(dead_code)]

pub mod client;

use chrono::TimeDelta;
use courier::Settings;
use courier_actors::store::auth::{CreateOtp, VerifyOtp, VerifyOutcome};
use courier_actors::Engine;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// A database for one bench run, dropped afterwards.
pub struct BenchDb {
    pub url: String,
    pub label: &'static str,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl BenchDb {
    pub async fn create() -> BenchDb {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("COURIER_BENCH_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => {
                let name = format!("courier_bench_{}", std::process::id());
                let mut conn = AsyncPgConnection::establish(&admin)
                    .await
                    .expect("connect to COURIER_BENCH_DATABASE_URL");
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                BenchDb {
                    url: format!("{base}/{name}"),
                    label: "postgres",
                    dir,
                    pg: Some((admin, name)),
                }
            }
            _ => {
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                BenchDb {
                    url,
                    label: "sqlite",
                    dir,
                    pg: None,
                }
            }
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
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

/// Settings for a bench server: port 0, fixed code, limits out of the way.
pub fn settings(db: &BenchDb) -> Settings {
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

/// Signs up user number `n` through the writer (as the OTP flow would): answers its id.
pub async fn user(engine: &Engine, n: usize) -> i64 {
    let far = engine.clock.now() + TimeDelta::days(1);
    let phone_hash = format!("bench-phone-{n}");
    engine
        .write(CreateOtp {
            phone_hash: phone_hash.clone(),
            country_code: "+1".into(),
            code_hash: "h".into(),
            expires_at: far,
        })
        .await
        .unwrap();
    let out = engine
        .write(VerifyOtp {
            phone_hash,
            phone_number: format!("+1415{:07}", 2_000_000 + n),
            code_hash: "h".into(),
            max_attempts: 5,
            name: Some(format!("user {n}")),
            refresh_jti: format!("jti-{n}"),
            session_expires_at: far,
            user_agent: None,
        })
        .await
        .unwrap();
    match out {
        VerifyOutcome::Verified { user, .. } => user.id,
        other => panic!("{other:?}"),
    }
}

/// An engine on `db` (migrated first), with the system clock and default settings.
pub async fn engine(db: &BenchDb) -> Engine {
    use courier_actors::{Clock, Realtime};
    courier_actors::store::migrate(&db.url).await.unwrap();
    let pool = courier_actors::store::Db::connect(&db.url, 8)
        .await
        .unwrap();
    let write_pool = courier_actors::store::Db::connect(&db.url, 2)
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
