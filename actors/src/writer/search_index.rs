//! New messages join SQLite's full-text index in batches ([`crate::store::search::index_pending`]):
//! a transaction that indexes messages writes an FTS5 segment of its own, which was about half
//! of what a lone send wrote.
//!
//! The contract: every message a search could find is indexed before that search runs. The
//! search asks the writer first ([`IndexForSearch`], queued behind every write already
//! answered), so it finds every message acknowledged before it. Meanwhile the writer indexes
//! by itself at most [`INDEX_EVERY`] after a batch stored messages, or as soon as [`INDEX_AT`]
//! wait: the search's own request then finds little left to do, and the index never lags far.
//!
//! On PostgreSQL the index follows each insert, and nothing here runs.

use std::time::Duration;

use actix::prelude::*;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::time::Instant;

use super::{Job, Tx, WriteOp, Writer};
use crate::store::{search, StoreError, StoreResult};

/// How long a stored message may wait for the writer to index it by itself.
pub const INDEX_EVERY: Duration = Duration::from_millis(250);

/// Messages waiting to be indexed past which the next batch indexes them (and its own) at
/// once: a large batch pays for its segment as before, and no indexing step grows long
/// enough to hold up the batches behind it.
const INDEX_AT: usize = 256;

/// Indexes every stored message that is not in the search index yet; answered once they are
/// (on PostgreSQL at once: there are none).
pub struct IndexForSearch;

impl WriteOp for IndexForSearch {
    type Output = ();

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<()> {
        search::index_pending(&mut tx.conn).await
    }
}

/// The writer's own indexing, added to a batch; nobody waits for its answer.
struct IndexJob;

impl Job for IndexJob {
    fn apply<'a>(&'a mut self, tx: &'a mut Tx<'_>) -> BoxFuture<'a, StoreResult<()>> {
        search::index_pending(&mut tx.conn).boxed()
    }

    fn finish(self: Box<Self>, failure: Option<&StoreError>) {
        if let Some(e) = failure {
            // What it left is indexed by the next run, or by the next search's request.
            tracing::warn!(error = %e, "messages could not be indexed for search");
        }
    }
}

/// When the writer indexes by itself.
pub(super) struct Schedule {
    /// [`INDEX_EVERY`], shorter in tests.
    every: Duration,
    /// Messages were stored and are not indexed yet: index them by this time.
    due: Option<Instant>,
    /// New messages in the batches since the last indexing (at most; some may be refused).
    waiting: usize,
    /// A timer will look at `due` (at most one is pending).
    timer: bool,
    /// Whether the database needs it at all (SQLite).
    enabled: bool,
}

impl Schedule {
    pub(super) fn new(enabled: bool, every: Duration) -> Schedule {
        Schedule {
            every,
            due: None,
            waiting: 0,
            timer: false,
            enabled,
        }
    }
}

impl Writer {
    /// Called with each batch about to start: notes the messages it stores, and adds the
    /// writer's indexing to it once they are due (after its sends, so it indexes them too).
    pub(super) fn index_with(&mut self, batch: &mut Vec<Box<dyn Job>>, ctx: &mut Context<Self>) {
        let schedule = &mut self.search_index;
        if !schedule.enabled {
            return;
        }
        let now = Instant::now();
        let sends = batch.iter_mut().filter_map(|job| job.send_slot()).count();
        if sends == 0 && schedule.due.is_none() {
            return;
        }
        schedule.waiting += sends;
        if schedule.waiting >= INDEX_AT || schedule.due.is_some_and(|due| due <= now) {
            schedule.due = None;
            schedule.waiting = 0;
            batch.push(Box::new(IndexJob));
        } else if schedule.due.is_none() {
            schedule.due = Some(now + schedule.every);
            self.arm_index_timer(ctx);
        }
    }

    /// Makes sure messages due for indexing are indexed even if no batch comes to take them.
    pub(super) fn arm_index_timer(&mut self, ctx: &mut Context<Self>) {
        let schedule = &mut self.search_index;
        let Some(due) = schedule.due else {
            return;
        };
        if schedule.timer {
            return;
        }
        schedule.timer = true;
        ctx.run_later(due.saturating_duration_since(Instant::now()), |act, ctx| {
            act.search_index.timer = false;
            match act.search_index.due {
                Some(due) if due <= Instant::now() => {
                    act.search_index.due = None;
                    act.search_index.waiting = 0;
                    act.push(Box::new(IndexJob));
                    act.kick(ctx);
                }
                Some(_) => act.arm_index_timer(ctx),
                None => {}
            }
        });
    }

    /// Indexes at once whatever an earlier run of the server stored and left unindexed:
    /// the writer's first batch, before any command.
    pub(super) fn index_leftovers(&mut self, ctx: &mut Context<Self>) {
        if self.search_index.enabled {
            self.push(Box::new(IndexJob));
            self.kick(ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use actix::prelude::*;
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, SqliteConnection};
    use tokio::sync::oneshot;

    use super::IndexForSearch;
    use crate::clock::Clock;
    use crate::engine::Engine;
    use crate::metrics::Metrics;
    use crate::store::message_ops::{DeleteForEveryone, EditMessage, SendOutcome};
    use crate::store::search::{self, Query};
    use crate::store::{Db, DEFAULT_TIMEOUT};
    use crate::testing::{db_path, engine, text, two_in_a_chat, TempDir};
    use crate::writer::{SendMessage, Write, Writer};

    /// An engine with two users in a chat, and a writer of the test's own on its database
    /// that indexes by itself only every `every`.
    struct Setup {
        dir: TempDir,
        engine: Engine,
        ana: i64,
        bo: i64,
        chat: i64,
        writer: Addr<Writer>,
    }

    async fn setup(every: Duration) -> Setup {
        let dir = TempDir::new().unwrap();
        let engine = engine(&dir).await;
        let (ana, bo, chat) = two_in_a_chat(&engine).await;
        let url = format!("sqlite://{}", db_path(&dir).display());
        let db = Db::open_for_writer(&url, 1, DEFAULT_TIMEOUT).await.unwrap();
        let metrics = Arc::new(Metrics::new());
        let writer = Writer::indexing_every(db, Clock::system(), metrics, every).start();
        Setup {
            dir,
            engine,
            ana,
            bo,
            chat,
            writer,
        }
    }

    async fn send(writer: &Addr<Writer>, chat: i64, from: i64, content: &str) -> i64 {
        let (reply, stored) = oneshot::channel();
        writer.do_send(SendMessage {
            message: text(chat, from, content),
            reply,
        });
        match stored.await.unwrap() {
            Ok(SendOutcome::Stored(s)) => s.message.id,
            _ => panic!("{content}: not stored"),
        }
    }

    async fn edit(writer: &Addr<Writer>, chat: i64, id: i64, user: i64, content: &str) {
        let edit = EditMessage {
            chat_id: chat,
            message_id: id,
            user_id: user,
            content: content.into(),
        };
        writer.send(Write(edit)).await.unwrap().unwrap().unwrap();
    }

    /// What `user` finds for `words` (ids, newest first).
    async fn found(db: &Db, user: i64, words: &str) -> Vec<i64> {
        let query = Query {
            user_id: user,
            terms: search::terms(words),
            chat_id: None,
            before: None,
            limit: 1000,
        };
        let mut conn = db.get().await.unwrap();
        let found = search::messages(&mut conn.conn(), &query).await.unwrap();
        found.into_iter().map(|m| m.id).collect()
    }

    /// Sends are not indexed one by one; a search's request indexes them as they now stand,
    /// and edits and deletions of messages not indexed yet leave the index whole.
    #[actix::test]
    async fn a_search_finds_every_message_stored_before_it_and_nothing_gone() {
        let t = setup(Duration::from_secs(3600)).await;
        let (ana, bo, chat) = (t.ana, t.bo, t.chat);

        let kept = send(&t.writer, chat, ana, "kept words").await;
        let edited = send(&t.writer, chat, bo, "words before the edit").await;
        let unsent = send(&t.writer, chat, ana, "words deleted for everyone").await;
        let purged = send(&t.writer, chat, bo, "words purged").await;
        assert!(
            found(&t.engine.db, ana, "words").await.is_empty(),
            "indexed with each send"
        );

        edit(&t.writer, chat, edited, bo, "changed text").await;
        let unsend = DeleteForEveryone {
            chat_id: chat,
            message_id: unsent,
            user_id: ana,
        };
        t.writer
            .send(Write(unsend))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        // As a disappearing message's purge removes it.
        let mut sqlite = SqliteConnection::establish(db_path(&t.dir).to_str().unwrap()).unwrap();
        sqlite
            .batch_execute(&format!("DELETE FROM messages WHERE id = {purged}"))
            .unwrap();

        t.writer.send(Write(IndexForSearch)).await.unwrap().unwrap();
        assert_eq!(found(&t.engine.db, ana, "words").await, vec![kept]);
        assert_eq!(found(&t.engine.db, bo, "changed").await, vec![edited]);
        assert!(found(&t.engine.db, bo, "edit").await.is_empty());
        // FTS5 compares its index with the messages table: a deletion applied to a message
        // it never held would show here.
        sqlite
            .batch_execute(
                "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)",
            )
            .expect("the index matches the messages");

        // Indexed messages follow their edits and deletions at once.
        edit(&t.writer, chat, kept, ana, "other text").await;
        assert!(found(&t.engine.db, ana, "words").await.is_empty());
        assert_eq!(found(&t.engine.db, ana, "other").await, vec![kept]);
        sqlite
            .batch_execute(
                "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)",
            )
            .expect("the index matches the messages");
    }

    /// Once enough messages wait, the batch that stores the last of them indexes them all,
    /// without waiting for the timer.
    #[actix::test]
    async fn many_waiting_messages_are_indexed_with_the_batch_that_completes_them() {
        let t = setup(Duration::from_secs(3600)).await;
        let (ana, chat) = (t.ana, t.chat);
        let mut answers = Vec::new();
        for i in 0..super::INDEX_AT {
            let (reply, stored) = oneshot::channel();
            t.writer.do_send(SendMessage {
                message: text(chat, ana, &format!("crowd {i}")),
                reply,
            });
            answers.push(stored);
        }
        for stored in answers {
            assert!(matches!(stored.await.unwrap(), Ok(SendOutcome::Stored(_))));
        }
        assert_eq!(
            found(&t.engine.db, ana, "crowd").await.len(),
            super::INDEX_AT
        );
    }

    /// Without any search, the writer indexes what it stored by itself.
    #[actix::test]
    async fn the_writer_indexes_stored_messages_by_itself() {
        let t = setup(Duration::from_millis(20)).await;
        let (ana, chat) = (t.ana, t.chat);
        let id = send(&t.writer, chat, ana, "indexed later").await;
        let give_up = std::time::Instant::now() + Duration::from_secs(10);
        while found(&t.engine.db, ana, "later").await != vec![id] {
            assert!(std::time::Instant::now() < give_up, "never indexed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
