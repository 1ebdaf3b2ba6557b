//! What a write is: a command ([`WriteOp`]) applied on a transaction ([`Tx`]) that carries the
//! batch's time and allocates change-sequence numbers and message ids from the `counters`
//! rows. The store's write commands implement [`WriteOp`]; the writer (`crate::writer`) runs
//! them in group commits, so the arrows run one way: the writer drives the store.

use std::future::Future;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::on_conn;
use crate::store::schema::counters;
use crate::store::{Conn, StoreResult};

/// One write command. `apply` runs inside the batch transaction; it must leave nothing behind
/// when it decides to refuse (return the refusal in `Output`, do not write first and then
/// refuse). It may be run more than once (a failed batch is retried command by command), so
/// it must not keep state between runs.
pub trait WriteOp: Send + 'static {
    /// What the caller receives after the commit.
    type Output: Send + 'static;

    /// Performs the write on the batch's transaction.
    fn apply(&mut self, tx: &mut Tx<'_>) -> impl Future<Output = StoreResult<Self::Output>> + Send;
}

/// The transaction a batch runs in, with the batch's time and sequence allocators.
pub struct Tx<'c> {
    /// The connection, inside a transaction.
    pub conn: Conn<'c>,
    /// The time of this batch: every row written by the batch carries it.
    pub now: NaiveDateTime,
    change_seq: Counter,
    message_id: Counter,
}

/// A counter row loaded at the start of a batch and stored back at its end.
struct Counter {
    start: i64,
    current: i64,
}

impl Counter {
    fn new(value: i64) -> Self {
        Counter {
            start: value,
            current: value,
        }
    }
    fn take(&mut self, n: i64) -> i64 {
        let first = self.current + 1;
        self.current += n;
        first
    }
}

impl<'c> Tx<'c> {
    pub(crate) async fn begin(mut conn: Conn<'c>, now: NaiveDateTime) -> StoreResult<Tx<'c>> {
        // A no-op update takes the rows' write locks (serialising writers across nodes on
        // PostgreSQL) and returns the current values in the same round trip.
        let rows: Vec<(String, i64)> = on_conn!(&mut conn, |c| {
            diesel::update(counters::table)
                .set(counters::value.eq(counters::value))
                .returning((counters::name, counters::value))
                .get_results(c)
                .await?
        });
        let get = |n: &str| {
            rows.iter()
                .find(|(name, _)| name == n)
                .map(|(_, v)| *v)
                .unwrap_or(0)
        };
        Ok(Tx {
            now,
            change_seq: Counter::new(get("change_seq")),
            message_id: Counter::new(get("message_id")),
            conn,
        })
    }

    /// Allocates the next change-sequence number (what `sync` cursors count).
    pub fn next_seq(&mut self) -> i64 {
        self.change_seq.take(1)
    }

    /// Allocates `n` consecutive message ids and returns the first.
    pub fn next_message_ids(&mut self, n: i64) -> i64 {
        self.message_id.take(n)
    }

    pub(crate) async fn finish(mut self) -> StoreResult<()> {
        for (name, counter) in [
            ("change_seq", &self.change_seq),
            ("message_id", &self.message_id),
        ] {
            if counter.current != counter.start {
                let value = counter.current;
                on_conn!(&mut self.conn, |c| {
                    diesel::update(counters::table.find(name))
                        .set(counters::value.eq(value))
                        .execute(c)
                        .await?
                });
            }
        }
        Ok(())
    }
}
