//! What a write is: a command ([`WriteOp`]) applied on a transaction ([`Tx`]) that carries the
//! batch's time and allocates change-sequence numbers and message ids (from the `counters`
//! rows on SQLite, from sequences on PostgreSQL; see [`super::positions`] for how `sync`
//! cursors stay behind numbers drawn but not yet committed). The store's write commands
//! implement [`WriteOp`]; the writer (`crate::writer`) runs them in group commits, so the
//! arrows run one way: the writer drives the store.

use std::future::Future;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::on_conn;
use crate::store::schema::counters;
use crate::store::{Conn, StoreError, StoreResult};

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
    numbers: Numbers,
}

/// Where a batch's change-sequence numbers and message ids come from.
enum Numbers {
    /// SQLite: the `counters` rows, loaded at the start of a batch (taking the write lock)
    /// and stored back at its end. One writer, so they grow in commit order.
    Counters {
        change_seq: Counter,
        message_id: Counter,
    },
    /// PostgreSQL: the `change_seq` and `message_id` sequences, which writers on several
    /// nodes draw from without waiting for each other. Numbers drawn but not used (a batch
    /// rolled back, a draw not used up) are gaps, which readers skip. Change numbers are
    /// drawn ahead (`drawn`, ascending, popped from the end), 8 at first and twice as many
    /// at each further draw of the batch, so a small batch leaves small gaps and a large one
    /// few round trips.
    Sequences { drawn: Vec<i64>, next_draw: i64 },
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

/// Change numbers a batch draws first, and most at a time.
const FIRST_DRAW: i64 = 8;
const MAX_DRAW: i64 = 1024;

/// Draws `n` message ids and `n` change numbers in one statement, each ascending: what a
/// batch of `n` sends carries, in one round trip (the change numbers go to
/// [`Tx::add_drawn_seqs`]).
pub(super) async fn draw_send_numbers(
    c: &diesel_async::AsyncPgConnection,
    n: i64,
) -> StoreResult<(Vec<i64>, Vec<i64>)> {
    #[derive(QueryableByName)]
    struct Pair {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seq: i64,
    }
    let rows: Vec<Pair> = diesel::sql_query(
        "SELECT nextval('message_id') AS id, nextval('change_seq') AS seq \
         FROM generate_series(1, $1)",
    )
    .bind::<diesel::sql_types::BigInt, _>(n)
    .load(&mut &*c)
    .await?;
    let (mut ids, mut seqs): (Vec<i64>, Vec<i64>) = rows.into_iter().map(|p| (p.id, p.seq)).unzip();
    ids.sort_unstable();
    seqs.sort_unstable();
    Ok((ids, seqs))
}

/// Draws `n` numbers from sequence `name` (`change_seq` or `message_id`), ascending.
async fn draw(
    c: &mut diesel_async::AsyncPgConnection,
    name: &str,
    n: i64,
) -> StoreResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Drawn {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        v: i64,
    }
    let sql = match name {
        "change_seq" => "SELECT nextval('change_seq') AS v FROM generate_series(1, $1)",
        _ => "SELECT nextval('message_id') AS v FROM generate_series(1, $1)",
    };
    let rows: Vec<Drawn> = diesel::sql_query(sql)
        .bind::<diesel::sql_types::BigInt, _>(n)
        .load(c)
        .await?;
    let mut drawn: Vec<i64> = rows.into_iter().map(|r| r.v).collect();
    drawn.sort_unstable();
    Ok(drawn)
}

impl<'c> Tx<'c> {
    pub(crate) async fn begin(mut conn: Conn<'c>, now: NaiveDateTime) -> StoreResult<Tx<'c>> {
        let numbers = match &mut conn {
            Conn::Sqlite(c) => {
                // A no-op update takes the rows' write lock and returns the current values
                // in the same round trip.
                let rows: Vec<(String, i64)> = diesel::update(counters::table)
                    .set(counters::value.eq(counters::value))
                    .returning((counters::name, counters::value))
                    .get_results(&mut **c)
                    .await?;
                let get = |n: &str| {
                    rows.iter()
                        .find(|(name, _)| name == n)
                        .map(|(_, v)| *v)
                        .unwrap_or(0)
                };
                Numbers::Counters {
                    change_seq: Counter::new(get("change_seq")),
                    message_id: Counter::new(get("message_id")),
                }
            }
            Conn::Pg(c) => {
                super::positions::mark(c).await?;
                Numbers::Sequences {
                    drawn: Vec::new(),
                    next_draw: FIRST_DRAW,
                }
            }
        };
        Ok(Tx { now, numbers, conn })
    }

    /// Allocates the next change-sequence number (what `sync` cursors count).
    pub async fn next_seq(&mut self) -> StoreResult<i64> {
        match (&mut self.numbers, &mut self.conn) {
            (Numbers::Counters { change_seq, .. }, _) => Ok(change_seq.take(1)),
            (Numbers::Sequences { drawn, next_draw }, Conn::Pg(c)) => {
                if drawn.is_empty() {
                    *drawn = draw(c, "change_seq", *next_draw).await?;
                    drawn.reverse();
                    *next_draw = (*next_draw * 2).min(MAX_DRAW);
                }
                drawn
                    .pop()
                    .ok_or_else(|| StoreError::Pool("no change number drawn".into()))
            }
            (Numbers::Sequences { .. }, Conn::Sqlite(_)) => {
                Err(StoreError::Pool("sequences on SQLite".into()))
            }
        }
    }

    /// Adds change numbers drawn for this batch elsewhere ([`draw_send_numbers`]), ascending,
    /// to those [`next_seq`](Self::next_seq) hands out. They were drawn after any it holds.
    pub(super) fn add_drawn_seqs(&mut self, mut seqs: Vec<i64>) {
        if let Numbers::Sequences { drawn, .. } = &mut self.numbers {
            // `drawn` is popped from its end, smallest first: the new, larger numbers go in
            // front.
            seqs.reverse();
            seqs.append(drawn);
            *drawn = seqs;
        }
    }

    /// Allocates `n` message ids, ascending (consecutive on SQLite; on PostgreSQL other
    /// nodes may draw between them).
    pub async fn message_ids(&mut self, n: i64) -> StoreResult<Vec<i64>> {
        match (&mut self.numbers, &mut self.conn) {
            (Numbers::Counters { message_id, .. }, _) => {
                let first = message_id.take(n);
                Ok((first..first + n).collect())
            }
            (Numbers::Sequences { .. }, Conn::Pg(c)) => draw(c, "message_id", n).await,
            (Numbers::Sequences { .. }, Conn::Sqlite(_)) => {
                Err(StoreError::Pool("sequences on SQLite".into()))
            }
        }
    }

    pub(crate) async fn finish(mut self) -> StoreResult<()> {
        let Numbers::Counters {
            change_seq,
            message_id,
        } = &self.numbers
        else {
            return Ok(());
        };
        for (name, counter) in [("change_seq", change_seq), ("message_id", message_id)] {
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
