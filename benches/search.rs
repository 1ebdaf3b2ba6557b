//! Full-text search over a million messages: 100 private chats of 10,000 messages each, one
//! user searching the chat they are in (SQLite FTS5, or PostgreSQL's GIN index when
//! `COURIER_BENCH_DATABASE_URL` names a server). The messages go in with one INSERT … SELECT
//! and are indexed as in production (on SQLite by the writer's indexing step, on PostgreSQL by
//! the index itself);
//! each measured call is one `store::search::messages` query for a page of 20.
//!
//! `cargo bench --bench search` (SQLite); `COURIER_BENCH_MESSAGES=100000` for a smaller run.

mod common;

use std::time::{Duration, Instant};

use courier_actors::store::chats::GetOrCreatePrivate;
use courier_actors::store::search::{self, Query};
use courier_actors::store::Conn;
use courier_actors::testing::user;
use criterion::{criterion_group, criterion_main, Criterion};
use diesel_async::RunQueryDsl;

const CHATS: usize = 100;

/// `n` messages spread over the chats (`bench_chats(k, chat_id, sender_id)`), each a sentence
/// with a word every message has (`lorem`), one of 1,000 topics and one of 97 themes.
async fn fill(conn: &mut Conn<'_>, n: usize) {
    let body = "'note ' || i || ' topic' || (i % 1000) || ' theme' || (i % 97) \
                || ' lorem ipsum dolor sit amet'";
    let (rows, at) = match conn {
        Conn::Sqlite(_) => (
            format!("(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s)"),
            "'2099-01-01 00:00:00'",
        ),
        Conn::Pg(_) => (
            format!("(SELECT i FROM generate_series(1, {n}) AS g(i))"),
            "TIMESTAMP '2099-01-01 00:00:00'",
        ),
    };
    let sql = format!(
        "INSERT INTO messages (id, chat_id, sender_id, message_type, content, seq, sent_at, updated_at) \
         SELECT 1000000 + n.i, b.chat_id, b.sender_id, 'text', {body}, 1000000 + n.i, {at}, {at} \
         FROM {rows} AS n JOIN bench_chats b ON b.k = n.i % {CHATS}"
    );
    if let Conn::Pg(c) = conn {
        // Far past the pool's statement deadline; back to it afterwards.
        diesel::sql_query("SET statement_timeout = 0")
            .execute(&mut **c)
            .await
            .unwrap();
    }
    courier_actors::on_conn!(conn, |c| {
        diesel::sql_query(&sql).execute(c).await.unwrap();
    });
    if let Conn::Pg(c) = conn {
        diesel::sql_query("RESET statement_timeout")
            .execute(&mut **c)
            .await
            .unwrap();
    }
}

fn search_bench(c: &mut Criterion) {
    let n: usize = std::env::var("COURIER_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let system = actix_rt::System::new();
    let (db, engine, me, my_chat) = system.block_on(async {
        let db = common::database().await;
        let engine = common::engine(&db).await;
        let mut chats = Vec::new();
        for k in 0..CHATS {
            let a = user(&engine, k as u32).await;
            let b = user(&engine, (k + CHATS) as u32).await;
            let (chat, _) = engine
                .write(GetOrCreatePrivate {
                    user_id: a,
                    other_id: b,
                })
                .await
                .unwrap();
            chats.push((k, chat.id, a));
        }
        let mut pooled = engine.db.get().await.unwrap();
        let mut conn = pooled.conn();
        courier_actors::on_conn!(&mut conn, |c| {
            diesel::sql_query(
                "CREATE TABLE bench_chats (k BIGINT, chat_id BIGINT, sender_id BIGINT)",
            )
            .execute(c)
            .await
            .unwrap();
            for (k, chat, sender) in &chats {
                diesel::sql_query(format!(
                    "INSERT INTO bench_chats VALUES ({k}, {chat}, {sender})"
                ))
                .execute(c)
                .await
                .unwrap();
            }
        });
        let start = Instant::now();
        fill(&mut conn, n).await;
        search::index_pending(&mut conn).await.unwrap();
        println!("{n} messages stored and indexed in {:.1?}", start.elapsed());
        if let Conn::Pg(c) = &mut conn {
            diesel::sql_query("ANALYZE")
                .execute(&mut **c)
                .await
                .unwrap();
        }
        drop(pooled);
        let (_, chat, me) = chats[0];
        (db, engine, me, chat)
    });
    let mut group = c.benchmark_group("search");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    // The last word is matched as a prefix too (the word being typed).
    let cases: [(&str, &str, bool); 6] = [
        ("common-word", "lorem", false),
        ("rare-word", "topic100", false),
        ("two-words", "lorem theme5", false),
        ("short-prefix", "topi", false),
        ("long-prefix", "topic10", false),
        ("common-word-in-chat", "lorem", true),
    ];
    for (name, q, in_chat) in cases {
        let query = Query {
            user_id: me,
            terms: search::terms(q),
            chat_id: in_chat.then_some(my_chat),
            before: None,
            limit: 21,
        };
        group.bench_function(format!("{}/{n}/{name}", db.label()), |b| {
            b.iter(|| {
                system.block_on(async {
                    let mut pooled = engine.db.get().await.unwrap();
                    let found = search::messages(&mut pooled.conn(), &query).await.unwrap();
                    assert!(!found.is_empty());
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, search_bench);
criterion_main!(benches);
