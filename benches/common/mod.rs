//! Shared bench setup: a fresh database (temp SQLite, or a new PostgreSQL database when
//! `COURIER_BENCH_DATABASE_URL` names a server) and server settings without rate limits.

#![allow(dead_code)]

pub mod client;

use courier::Settings;
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
