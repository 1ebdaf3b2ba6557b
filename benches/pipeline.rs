//! In-process pipeline: chat rooms → writer (group commit) → fan-out, without sockets.
//! Many senders in many chats submit at once; a message counts when its sender has the
//! answer, which comes only after the commit (persisted).
//!
//! `cargo bench --bench pipeline` (SQLite); with `COURIER_BENCH_DATABASE_URL=postgres://…`
//! on PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use courier_actors::room::RoomCmd;
use courier_actors::store::auth::{CreateOtp, VerifyOtp, VerifyOutcome};
use courier_actors::store::chats::GetOrCreatePrivate;
use courier_actors::store::messages::NewMessage;
use courier_actors::{Clock, Engine, Realtime};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::sync::oneshot;

const SENDERS: usize = 100;
const PER_SENDER: usize = 10;

async fn user(engine: &Engine, n: usize) -> i64 {
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
            phone_number: format!("+1555{n:07}"),
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

/// Sender `i` talks in the private chat with user `i + SENDERS`.
async fn setup(engine: &Engine) -> Vec<(i64, i64)> {
    let mut pairs = Vec::new();
    for i in 0..SENDERS {
        let a = user(engine, i).await;
        let b = user(engine, i + SENDERS).await;
        let (chat, _) = engine
            .write(GetOrCreatePrivate {
                user_id: a,
                other_id: b,
            })
            .await
            .unwrap();
        pairs.push((a, chat.id));
    }
    pairs
}

async fn round(engine: &Engine, pairs: &[(i64, i64)], round: u64) {
    let mut answers = Vec::with_capacity(SENDERS * PER_SENDER);
    for k in 0..PER_SENDER {
        for (sender, chat) in pairs {
            let (reply, answer) = oneshot::channel();
            let message = NewMessage {
                chat_id: *chat,
                sender_id: *sender,
                client_msg_id: Some(format!("{round}-{k}")),
                reply_to_message_id: None,
                message_type: "text".into(),
                content: Some("a message of ordinary length, like most are".into()),
                latitude: None,
                longitude: None,
                location_name: None,
                contact_data: None,
                media: None,
                forward_count: 0,
            };
            engine.room(
                *chat,
                RoomCmd::Send {
                    message,
                    conn: None,
                    reply,
                },
            );
            answers.push(answer);
        }
    }
    for a in answers {
        let sent = a.await.unwrap().unwrap();
        assert!(!sent.duplicate);
    }
}

fn pipeline(c: &mut Criterion) {
    let system = actix_rt::System::new();
    let (db, engine, pairs) = system.block_on(async {
        let db = common::BenchDb::create().await;
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
        let engine = Engine::start(
            pool,
            write_pool,
            Clock::system(),
            Realtime::default(),
            storage,
        );
        let pairs = setup(&engine).await;
        (db, engine, pairs)
    });
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements((SENDERS * PER_SENDER) as u64));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let mut counter = 0u64;
    group.bench_function(
        format!("{}/{SENDERS}-senders-x{PER_SENDER}", db.label),
        |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        counter += 1;
                        round(&engine, &pairs, counter).await;
                    }
                    start.elapsed()
                })
            })
        },
    );
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
