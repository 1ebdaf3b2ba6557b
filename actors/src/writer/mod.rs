//! The Writer actor: the only code that writes to the database.
//!
//! Commands ([`WriteOp`]s) that arrive while a commit is in flight wait in a queue; when the
//! commit finishes, everything queued goes into the next transaction together (group commit).
//! Each sender gets its answer only after the transaction that holds its write has committed,
//! so an answer means "durable". If a whole batch fails, each command is retried in a
//! transaction of its own, so one failing command cannot take its neighbours down with it.
//!
//! Commands run in the order they arrived; consecutive new messages are inserted together, with
//! one multi-row INSERT.
//!
//! Every transaction first locks the `counters` rows (change sequence and message ids). On
//! PostgreSQL that row lock serialises writer transactions across nodes, so ids and sequence
//! numbers grow in commit order everywhere.

use std::future::Future;

use actix::prelude::*;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::on_conn;
use crate::store::message_ops::{insert_batch, SendOutcome, SendSlot};
use crate::store::messages::NewMessage;
use crate::store::schema::counters;
use crate::store::{Conn, Db, PooledConn, StoreError, StoreResult};

/// Most commands in one transaction; more wait for the next one.
const MAX_BATCH: usize = 2048;

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
    async fn begin(mut conn: Conn<'c>, now: NaiveDateTime) -> StoreResult<Tx<'c>> {
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

    async fn finish(mut self) -> StoreResult<()> {
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

/// A queued command with the channel its answer goes to.
trait Job: Send {
    fn apply<'a>(&'a mut self, tx: &'a mut Tx<'_>) -> BoxFuture<'a, StoreResult<()>>;
    fn finish(self: Box<Self>, failure: Option<&StoreError>);
    /// A new message, inserted together with the batch's other new messages.
    fn send_slot(&mut self) -> Option<&mut SendSlot> {
        None
    }
}

/// A new message waiting for its batch.
struct SendJob {
    slot: SendSlot,
    reply: oneshot::Sender<StoreResult<SendOutcome>>,
}

impl Job for SendJob {
    fn apply<'a>(&'a mut self, _: &'a mut Tx<'_>) -> BoxFuture<'a, StoreResult<()>> {
        // Inserted by `insert_batch` with the rest of the batch.
        futures_util::future::ready(Ok(())).boxed()
    }

    fn finish(self: Box<Self>, failure: Option<&StoreError>) {
        let answer = match (failure, self.slot.outcome) {
            (None, Some(outcome)) => Ok(outcome),
            (Some(e), _) => Err(StoreError::Pool(format!("transaction failed: {e}"))),
            (None, None) => Err(StoreError::Pool("message was not stored".into())),
        };
        let _ = self.reply.send(answer);
    }

    fn send_slot(&mut self) -> Option<&mut SendSlot> {
        Some(&mut self.slot)
    }
}

struct Queued<O: WriteOp> {
    op: O,
    output: Option<O::Output>,
    reply: oneshot::Sender<StoreResult<O::Output>>,
}

impl<O: WriteOp> Job for Queued<O> {
    fn apply<'a>(&'a mut self, tx: &'a mut Tx<'_>) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            self.output = Some(self.op.apply(tx).await?);
            Ok(())
        }
        .boxed()
    }

    fn finish(self: Box<Self>, failure: Option<&StoreError>) {
        let answer = match (failure, self.output) {
            (None, Some(output)) => Ok(output),
            (Some(e), _) => Err(StoreError::Pool(format!("transaction failed: {e}"))),
            (None, None) => Err(StoreError::Pool("command was not run".into())),
        };
        let _ = self.reply.send(answer);
    }
}

/// Asks the writer to perform `O` and answer after the commit.
pub struct Write<O: WriteOp>(pub O);

impl<O: WriteOp> Message for Write<O> {
    type Result = StoreResult<O::Output>;
}

/// Queues a new message without waiting for mailbox room (use with `do_send`): messages a
/// chat room submits are stored in the order it submits them. The answer (after the commit)
/// goes to `reply`.
pub struct SendMessage {
    pub message: NewMessage,
    pub reply: oneshot::Sender<StoreResult<SendOutcome>>,
}

impl Message for SendMessage {
    type Result = ();
}

/// Queues any write without waiting for mailbox room (use with `do_send`); the answer goes to
/// `reply` after the commit. Chat rooms submit this way so their writes keep their order.
pub struct Submit<O: WriteOp> {
    pub op: O,
    pub reply: oneshot::Sender<StoreResult<O::Output>>,
}

impl<O: WriteOp> Message for Submit<O> {
    type Result = ();
}

impl<O: WriteOp> Handler<Submit<O>> for Writer {
    type Result = ();

    fn handle(&mut self, msg: Submit<O>, ctx: &mut Self::Context) {
        self.queue.push(Box::new(Queued {
            op: msg.op,
            output: None,
            reply: msg.reply,
        }));
        self.kick(ctx);
    }
}

/// Resolves when everything queued before it has been committed (used on shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

/// The writer actor. Start one per node with [`Writer::start_on`].
pub struct Writer {
    db: Db,
    clock: Clock,
    queue: Vec<Box<dyn Job>>,
    busy: bool,
    drained: Vec<oneshot::Sender<()>>,
}

impl Writer {
    pub fn new(db: Db, clock: Clock) -> Self {
        Writer {
            db,
            clock,
            queue: Vec::new(),
            busy: false,
            drained: Vec::new(),
        }
    }

    /// Starts the next batch if none is in flight.
    fn kick(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        if self.queue.is_empty() {
            for tx in self.drained.drain(..) {
                let _ = tx.send(());
            }
            return;
        }
        self.busy = true;
        let take = self.queue.len().min(MAX_BATCH);
        let batch: Vec<Box<dyn Job>> = self.queue.drain(..take).collect();
        let db = self.db.clone();
        let now = self.clock.now();
        ctx.spawn(
            commit_batch(db, now, batch)
                .into_actor(self)
                .map(|(), act, ctx| {
                    act.busy = false;
                    act.kick(ctx);
                }),
        );
    }
}

impl Actor for Writer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Senders wait (backpressure) only when this many commands are queued in the mailbox.
        ctx.set_mailbox_capacity(4096);
    }
}

impl<O: WriteOp> Handler<Write<O>> for Writer {
    type Result = ResponseFuture<StoreResult<O::Output>>;

    fn handle(&mut self, msg: Write<O>, ctx: &mut Self::Context) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        self.queue.push(Box::new(Queued {
            op: msg.0,
            output: None,
            reply,
        }));
        self.kick(ctx);
        Box::pin(async move { answer.await.unwrap_or(Err(StoreError::WriterGone)) })
    }
}

impl Handler<SendMessage> for Writer {
    type Result = ();

    fn handle(&mut self, msg: SendMessage, ctx: &mut Self::Context) {
        self.queue.push(Box::new(SendJob {
            slot: SendSlot {
                message: msg.message,
                outcome: None,
            },
            reply: msg.reply,
        }));
        self.kick(ctx);
    }
}

impl Handler<Drain> for Writer {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.drained.push(tx);
        self.kick(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

/// Commits a batch and answers every command in it.
async fn commit_batch(db: Db, now: NaiveDateTime, mut batch: Vec<Box<dyn Job>>) {
    let started = std::time::Instant::now();
    match run_transaction(&db, now, &mut batch).await {
        Ok(()) => {
            tracing::debug!(
                size = batch.len(),
                micros = started.elapsed().as_micros() as u64,
                "committed"
            );
            batch.into_iter().for_each(|job| job.finish(None))
        }
        Err(e) if batch.len() > 1 => {
            tracing::warn!(error = %e, size = batch.len(), "batch failed; retrying its commands one by one");
            for job in batch {
                let mut one = vec![job];
                let result = run_transaction(&db, now, &mut one).await;
                if let Err(e) = &result {
                    tracing::error!(error = %e, "write failed");
                }
                one.into_iter()
                    .for_each(|job| job.finish(result.as_ref().err()));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "write failed");
            batch.into_iter().for_each(|job| job.finish(Some(&e)));
        }
    }
}

async fn run_transaction(
    db: &Db,
    now: NaiveDateTime,
    batch: &mut [Box<dyn Job>],
) -> StoreResult<()> {
    let mut pooled = db.get().await?;
    match &mut pooled {
        // The first statement of every batch is an UPDATE, so SQLite takes its write lock at
        // once (as BEGIN IMMEDIATE would) instead of upgrading from a read lock mid-way.
        PooledConn::Sqlite(c) => {
            diesel_async::AsyncConnection::transaction(&mut **c, async |c| {
                run_jobs(Conn::Sqlite(c), now, batch).await
            })
            .await
        }
        PooledConn::Pg(c) => {
            diesel_async::AsyncConnection::transaction(&mut **c, async |c| {
                run_jobs(Conn::Pg(c), now, batch).await
            })
            .await
        }
    }
}

async fn run_jobs(
    conn: Conn<'_>,
    now: NaiveDateTime,
    batch: &mut [Box<dyn Job>],
) -> StoreResult<()> {
    let mut tx = Tx::begin(conn, now).await?;
    // In queue order, so ids and sequence numbers follow the order commands were accepted
    // (rooms publish in that order); each run of consecutive sends is one insert.
    let mut rest = batch;
    while let Some(first) = rest.first_mut() {
        if first.send_slot().is_none() {
            first.apply(&mut tx).await?;
            rest = &mut rest[1..];
            continue;
        }
        let run = rest
            .iter_mut()
            .position(|job| job.send_slot().is_none())
            .unwrap_or(rest.len());
        let (sends, after) = rest.split_at_mut(run);
        let mut slots: Vec<&mut SendSlot> =
            sends.iter_mut().filter_map(|job| job.send_slot()).collect();
        for slot in slots.iter_mut() {
            slot.outcome = None;
        }
        insert_batch(&mut tx, &mut slots).await?;
        rest = after;
    }
    tx.finish().await
}

#[cfg(test)]
mod tests;
