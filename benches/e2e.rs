//! End to end over loopback: real HTTP sign-ups, real WebSockets, the full server.
//!
//! 1. criterion: rounds in which each of 50 senders sends one message and the round ends when
//!    every recipient's socket has it (send → deliver throughput).
//! 2. a paced run at 1,000 messages/s for 10 s, printing send → deliver latency percentiles.
//!
//! `cargo bench --bench e2e` (SQLite); `COURIER_BENCH_DATABASE_URL=postgres://…` for PostgreSQL.

mod common;

use common::client::{private_chat, sign_up, socket, Ws};

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use courier::Application;
use courier_actors::Clock;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const PAIRS: usize = 50;

struct Pair {
    chat: i64,
    sender: SplitSink<Ws, Message>,
    sender_rx: Option<SplitStream<Ws>>,
    receiver: Option<SplitStream<Ws>>,
}

async fn setup(base: &str) -> Vec<Pair> {
    let http = reqwest::Client::new();
    let mut pairs = Vec::new();
    for i in 0..PAIRS {
        let (_, a) = sign_up(&http, base, i).await;
        let (b_id, b) = sign_up(&http, base, i + PAIRS).await;
        let chat = private_chat(&http, base, &a, b_id).await;
        let (sender, sender_rx) = socket(base, &a).await.split();
        let (_, receiver) = socket(base, &b).await.split();
        pairs.push(Pair {
            chat,
            sender,
            sender_rx: Some(sender_rx),
            receiver: Some(receiver),
        });
    }
    pairs
}

fn frame(chat: i64, id: u64, stamp: u128) -> Message {
    Message::text(
        json!({"type": "send-message", "chat_id": chat, "content": format!("t={stamp}"), "client_msg_id": format!("m{id}")})
            .to_string(),
    )
}

/// Reads a receiver until its next new-message; returns the send stamp it carries.
async fn next_delivery(rx: &mut SplitStream<Ws>) -> u128 {
    loop {
        let t = match rx.next().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue, // heartbeat pings
            other => panic!("socket closed: {other:?}"),
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["type"] == "new-message" {
            let content = v["data"]["message"]["content"].as_str().unwrap();
            return content.trim_start_matches("t=").parse().unwrap();
        }
    }
}

fn e2e(c: &mut Criterion) {
    let system = actix_rt::System::new();
    let (db, base, mut pairs) = system.block_on(async {
        let db = common::database().await;
        let app = Application::build(common::settings(&db), Clock::system())
            .await
            .unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        actix_rt::spawn(app.run_until_stopped());
        let pairs = setup(&base).await;
        (db, base, pairs)
    });
    let _ = &base;
    // Senders' acks are read and dropped in the background.
    for p in pairs.iter_mut() {
        let mut rx = p.sender_rx.take().unwrap();
        system.block_on(async {
            // Detached: the task lives as long as the socket.
            drop(actix_rt::spawn(async move {
                while let Some(Ok(_)) = rx.next().await {}
            }));
        });
    }
    let origin = Instant::now();
    let mut next_id = 0u64;

    let mut group = c.benchmark_group("e2e");
    group.throughput(Throughput::Elements(PAIRS as u64));
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));
    group.bench_function(
        format!("{}/{PAIRS}-senders-send-to-deliver", db.label()),
        |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        for p in pairs.iter_mut() {
                            next_id += 1;
                            p.sender
                                .send(frame(p.chat, next_id, origin.elapsed().as_nanos()))
                                .await
                                .unwrap();
                        }
                        for p in pairs.iter_mut() {
                            next_delivery(p.receiver.as_mut().unwrap()).await;
                        }
                    }
                    start.elapsed()
                })
            })
        },
    );
    group.finish();

    // Paced: 1,000 messages per second for 10 seconds, 20/s from each sender.
    let latencies: Rc<RefCell<Vec<u128>>> = Rc::default();
    system.block_on(async {
        let total_per_sender = 200u64;
        let mut readers = Vec::new();
        for p in pairs.iter_mut() {
            let mut rx = p.receiver.take().unwrap();
            let lat = latencies.clone();
            readers.push(actix_rt::spawn(async move {
                for _ in 0..total_per_sender {
                    let sent = next_delivery(&mut rx).await;
                    lat.borrow_mut().push(origin.elapsed().as_nanos() - sent);
                }
            }));
        }
        let mut ticker = tokio::time::interval(Duration::from_millis(50));
        for _ in 0..total_per_sender {
            ticker.tick().await;
            for p in pairs.iter_mut() {
                next_id += 1;
                p.sender
                    .send(frame(p.chat, next_id, origin.elapsed().as_nanos()))
                    .await
                    .unwrap();
            }
        }
        for r in readers {
            r.await.unwrap();
        }
    });
    let mut l = latencies.borrow().clone();
    l.sort_unstable();
    let pct = |q: f64| l[((l.len() as f64 * q) as usize).min(l.len() - 1)] as f64 / 1e6;
    println!(
        "e2e/{}: paced 1000 msg/s for 10 s, {} deliveries: send->deliver p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        db.label(),
        l.len(),
        pct(0.50),
        pct(0.95),
        pct(0.99),
        pct(1.0)
    );
}

criterion_group!(benches, e2e);
criterion_main!(benches);
