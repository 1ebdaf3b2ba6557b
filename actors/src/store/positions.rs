//! How far changes are committed: the position a `sync` cursor may reach.
//!
//! On SQLite one writer takes the `counters` rows' lock for each batch, so change numbers
//! commit in order, and the committed counter is the position.
//!
//! On PostgreSQL writers on several nodes draw change numbers from the `change_seq` sequence
//! without waiting for each other, so numbers commit out of order: a batch that drew 11 may
//! commit while the one that drew 10 is still open. A cursor must never pass a number drawn
//! but not yet committed, or the client holding it would miss that change for good. The
//! argument that [`committed_upto`] never does:
//!
//! - Before a writer's transaction draws its first number, it takes a shared advisory lock,
//!   held until the transaction ends (commit, rollback or a dropped connection alike), whose
//!   key is [`MARK`] plus the sequence's last value at that moment ([`mark`]). Every number
//!   the transaction draws is above that value.
//! - A reader first reads the sequence's last value L, then the smallest mark held, M, and
//!   takes min(L, M). Take any number n at or below that. n ≤ L, so n was drawn before the
//!   reader read L, and its writer's mark was taken before that. If the writer's
//!   transaction was still open when the reader looked at the locks, the reader saw its
//!   mark, which is below n: then M < n, a contradiction. So the transaction had ended: it
//!   committed, and PostgreSQL makes a commit visible before it lets go of the transaction's
//!   locks, so every statement the reader runs next sees it; or it rolled back, and n is a
//!   gap that nothing will ever fill.
//!
//! So everything at or below the position is committed or never will be, and the reads of
//! `sync` that follow (each a later snapshot) see all of it. The marks cost one statement per
//! batch; they never make writers wait (shared locks do not conflict), and nothing is left
//! behind by a node that dies. Tested in `store::tests::positions`.

use diesel::sql_types::{BigInt, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{Conn, StoreResult};

/// Where the marks' keys start, far above any other advisory lock's key (the migration
/// lock's is near 2^33).
pub const MARK: i64 = 1 << 62;

#[derive(diesel::QueryableByName)]
struct Value {
    #[diesel(sql_type = Nullable<BigInt>)]
    v: Option<i64>,
}

/// The sequence's last value, whether or not it was ever drawn from.
const LAST_DRAWN: &str =
    "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS v FROM change_seq";

/// Marks the writer's transaction on `c` (see the module docs); call before drawing.
pub(super) async fn mark(c: &mut AsyncPgConnection) -> StoreResult<()> {
    diesel::sql_query(format!(
        "SELECT pg_advisory_xact_lock_shared({MARK} + v) FROM ({LAST_DRAWN}) AS last"
    ))
    .execute(c)
    .await?;
    Ok(())
}

/// The position up to which every change is committed (or never will be).
pub async fn committed_upto(conn: &mut Conn<'_>) -> StoreResult<i64> {
    let c = match conn {
        Conn::Sqlite(c) => {
            use super::schema::counters;
            use diesel::{OptionalExtension, QueryDsl};
            let value: Option<i64> = counters::table
                .find("change_seq")
                .select(counters::value)
                .first(&mut **c)
                .await
                .optional()?;
            return Ok(value.unwrap_or(0));
        }
        Conn::Pg(c) => &mut **c,
    };
    // The order matters: the sequence first, then the marks.
    let last: Vec<Value> = diesel::sql_query(LAST_DRAWN).load(c).await?;
    let last = last.into_iter().next().and_then(|r| r.v).unwrap_or(0);
    let marks: Vec<Value> = diesel::sql_query(format!(
        "SELECT min((classid::bigint << 32) | objid::bigint) - {MARK} AS v FROM pg_locks \
         WHERE locktype = 'advisory' AND objsubid = 1 AND classid::bigint >= {} \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        MARK >> 32
    ))
    .load(c)
    .await?;
    let marked = marks
        .into_iter()
        .next()
        .and_then(|r| r.v)
        .unwrap_or(i64::MAX);
    Ok(last.min(marked))
}

#[cfg(test)]
mod tests {
    use diesel_async::RunQueryDsl;
    use tokio::sync::oneshot;

    use crate::store::message_ops::SendOutcome;
    use crate::store::tx::Tx;
    use crate::store::{sync, Conn, PooledConn, DEFAULT_TIMEOUT};
    use crate::testing::{engine_at, text, two_in_a_chat, ScratchDb};
    use crate::writer::SendMessage;

    /// A cursor stops below a change number that a writer drew and has not committed, though
    /// a later number is committed meanwhile (by a writer that did not wait); once the first
    /// commits, `sync` from that cursor hands it over.
    #[actix::test]
    async fn a_cursor_never_passes_a_change_drawn_but_not_committed() {
        let db = ScratchDb::create("COURIER_TEST_DATABASE_URL").await;
        if db.label() != "postgres" {
            eprintln!("needs PostgreSQL (COURIER_TEST_DATABASE_URL); not run");
            return;
        }
        let engine = engine_at(&db.url, &db.dir, DEFAULT_TIMEOUT).await;
        let (ana, bo, chat) = two_in_a_chat(&engine).await;
        let send = |content: &'static str| {
            let (reply, answer) = oneshot::channel();
            engine.writer.do_send(SendMessage {
                message: text(chat, ana, content),
                reply,
            });
            async move {
                match answer.await.unwrap() {
                    Ok(SendOutcome::Stored(s)) => s.message,
                    other => panic!("not stored: {other:?}"),
                }
            }
        };
        let first = send("first").await;

        // Another writer (another node's) draws a number and holds its transaction open:
        // Bo hides the first message on some device.
        let (drawn, number) = oneshot::channel();
        let (go, release) = oneshot::channel::<()>();
        let (pool, now, hidden) = (engine.db.clone(), engine.clock.now(), first.id);
        let held = tokio::spawn(async move {
            let mut pooled = pool.get().await.unwrap();
            let PooledConn::Pg(c) = &mut pooled else {
                unreachable!("PostgreSQL")
            };
            diesel_async::AsyncConnection::transaction(&mut **c, async |c| {
                let mut tx = Tx::begin(Conn::Pg(c), now).await?;
                let seq = tx.next_seq().await?;
                let Conn::Pg(c) = &mut tx.conn else {
                    unreachable!()
                };
                diesel::sql_query(format!(
                    "INSERT INTO message_hides (message_id, user_id, seq, hidden_at) \
                     VALUES ({hidden}, {bo}, {seq}, now())"
                ))
                .execute(&mut **c)
                .await?;
                let _ = drawn.send(seq);
                let _ = release.await;
                tx.finish().await
            })
            .await
        });
        let drawn = number.await.unwrap();

        // Our writer does not wait for it: a later message commits with a higher number.
        let second = tokio::time::timeout(std::time::Duration::from_secs(10), send("second"))
            .await
            .expect("the writer waited for another writer's open transaction");
        assert!(second.seq > drawn, "{} > {drawn}", second.seq);

        let mut reader = engine.db.get().await.unwrap();
        let page = sync::since(&mut reader.conn(), bo, first.seq, 100)
            .await
            .unwrap();
        assert!(page.cursor < drawn, "cursor {} passed {drawn}", page.cursor);
        assert!(page.messages.is_empty() && page.hidden.is_empty());
        let latest = sync::latest(&mut reader.conn()).await.unwrap();
        assert!(latest < drawn, "latest {latest} passed {drawn}");

        // It commits: from the same cursor, Bo gets both changes, in order.
        go.send(()).unwrap();
        held.await.unwrap().unwrap();
        let page = sync::since(&mut reader.conn(), bo, page.cursor, 100)
            .await
            .unwrap();
        assert_eq!(page.hidden, vec![(first.id, drawn)]);
        let ids: Vec<i64> = page.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![second.id]);
        assert_eq!(page.cursor, second.seq);
    }
}
