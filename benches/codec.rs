//! The native wire codec on its own: decoding the frames clients send most, and encoding an
//! event (once per event, whatever the number of recipients).
//!
//! `cargo bench --bench codec`

use courier_actors::event::Event;
use courier_actors::protocol::decode;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use std::hint::black_box;

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    let send = json!({"type": "send-message", "chat_id": 4_503_599_627_370_495_i64,
        "content": "On my way, see you at the harbour in ten minutes", "client_msg_id": "c-8f2b1e",
        "ref": "r-17"})
    .to_string();
    group.bench_function("decode send-message", |b| {
        b.iter(|| black_box(decode(black_box(&send))))
    });
    let typing = json!({"type": "typing", "chat_id": 42, "is_typing": true}).to_string();
    group.bench_function("decode typing", |b| {
        b.iter(|| black_box(decode(black_box(&typing))))
    });
    let bad = "{\"type\": \"send-message\", \"chat_id\": \"forty-two\"}";
    group.bench_function("decode a malformed frame", |b| {
        b.iter(|| black_box(decode(black_box(bad))))
    });
    let data = json!({"message": {"id": 1_234_567, "chat_id": 42, "sender": {"id": 7,
        "name": "Ana", "avatar_url": null}, "message_type": "text",
        "content": "On my way, see you at the harbour in ten minutes", "reply_to": null,
        "status": "sent", "reactions": [], "sent_at": "2026-12-01T10:00:00Z",
        "client_msg_id": "c-8f2b1e"}});
    group.bench_function(
        "encode new-message (one event, any number of recipients)",
        |b| {
            b.iter(|| {
                let event = Event::new(
                    "new-message",
                    "private-chat.42".into(),
                    Some(991),
                    black_box(data.clone()),
                );
                black_box(event.native())
            })
        },
    );
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
