//! In-process pipeline: chat rooms → writer (group commit) → fan-out, without sockets.
//! Many senders in many chats submit at once; a message counts when its sender has the
//! answer, which comes only after the commit (persisted).
//!
//! `cargo bench --bench pipeline` (SQLite); with `COURIER_BENCH_DATABASE_URL=postgres://…`
//! on PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use courier_actors::room::RoomCmd;
use courier_actors::store::chats::GetOrCreatePrivate;
use courier_actors::store::messages::NewMessage;
use courier_actors::testing::user;
use courier_actors::Engine;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::sync::oneshot;

const SENDERS: usize = 100;
const PER_SENDER: usize = 10;

/// Sender `i` talks in the private chat with user `i + SENDERS`.
async fn setup(engine: &Engine) -> Vec<(i64, i64)> {
    let mut pairs = Vec::new();
    for i in 0..SENDERS {
        let a = user(engine, i as u32).await;
        let b = user(engine, (i + SENDERS) as u32).await;
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
                flagged: false,
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
        let db = common::database().await;
        let engine = common::engine(&db).await;
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
        format!("{}/{SENDERS}-senders-x{PER_SENDER}", db.label()),
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
