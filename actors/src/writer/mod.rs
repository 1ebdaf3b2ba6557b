//! The Writer actor: the only code that writes to the database.
//!
//! Commands ([`WriteOp`]s) that arrive while a batch runs wait in a queue; everything queued
//! goes into the next transaction together (group commit). Each sender gets its answer only
//! after the transaction that holds its write is durable, so an answer means "durable". If a
//! whole batch fails on a query error, each command is retried in a transaction of its own, so
//! one failing command cannot take its neighbours down with it.
//!
//! Batches are pipelined: the next one starts as soon as the current one has run its
//! statements and waits only for its commit to reach the disk (PostgreSQL's commit; on SQLite
//! the WAL sync, [`crate::store::wal`]). At most [`MAX_IN_FLIGHT`] batches are under way,
//! only one of them running statements, and batches answer in the order they started. A
//! batch alone in the pipeline runs its SQLite statements and its WAL sync on the writer's own
//! thread ([`inline_if`]); one behind another runs them on the blocking pool, leaving the
//! thread free to answer the batch before it.
//!
//! Every command is answered within the database deadline ([`Db::timeout`]) of being queued:
//! a batch's transaction gets what is left of its oldest command's deadline, and one that runs
//! past it (a frozen or locked database) fails its whole batch at once as unavailable, without
//! retries, which would only multiply the wait; the writer then carries on with the next
//! batch. Commands left waiting too long to have a chance are refused before they run.
//!
//! Commands run in the order they arrived; consecutive new messages are inserted together, with
//! one multi-row INSERT. On SQLite they join the search index a few batches later, and always
//! before a search runs ([`IndexForSearch`]).
//!
//! On SQLite every transaction first locks the `counters` rows (change sequence and message
//! ids), so they grow in commit order. On PostgreSQL they come from sequences, so writers on
//! several nodes do not wait for each other: change numbers may commit out of order, and
//! `sync` cursors stop below any number drawn but not committed (`store::positions`); a
//! batch locks the rows of the chats it sends to, so each chat's messages still commit in id
//! order.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::message_ops::{SendOutcome, SendSlot};
use crate::store::messages::NewMessage;
use crate::store::{inline_if, Db, StoreError, StoreResult};

/// Most commands in one transaction; more wait for the next one.
const MAX_BATCH: usize = 2048;

/// Batches under way at once: one running its statements, the others waiting for their
/// commits to be durable. (The writer's pool needs a connection for each, and one more.)
pub const MAX_IN_FLIGHT: usize = 2;

/// A command with less than this share of its deadline left is refused rather than run.
const MIN_LEFT_DIVISOR: u32 = 4;

/// A queued command with the channel its answer goes to.
trait Job: Send {
    fn apply<'a>(&'a mut self, tx: &'a mut Tx<'_>) -> BoxFuture<'a, StoreResult<()>>;
    fn finish(self: Box<Self>, failure: Option<&StoreError>);
    /// A new message, inserted together with the batch's other new messages.
    fn send_slot(&mut self) -> Option<&mut SendSlot> {
        None
    }
    /// A presence change, recorded together with the presence changes next to it.
    fn presence_slot(&mut self) -> Option<&mut presence::PresenceSlot> {
        None
    }
    /// A health probe: writes nothing; a batch of probes only is rolled back.
    fn is_probe(&self) -> bool {
        false
    }
}

/// What a command that was not committed is answered.
fn not_committed(failure: &StoreError) -> StoreError {
    if failure.is_unavailable() {
        StoreError::Unavailable(failure.to_string())
    } else {
        StoreError::Pool(format!("transaction failed: {failure}"))
    }
}

/// A health probe: answered once a transaction that takes the writer's locks has run.
struct ProbeJob {
    reply: oneshot::Sender<StoreResult<()>>,
}

impl Job for ProbeJob {
    fn apply<'a>(&'a mut self, _: &'a mut Tx<'_>) -> BoxFuture<'a, StoreResult<()>> {
        futures_util::future::ready(Ok(())).boxed()
    }

    fn finish(self: Box<Self>, failure: Option<&StoreError>) {
        let _ = self
            .reply
            .send(failure.map_or(Ok(()), |e| Err(not_committed(e))));
    }

    fn is_probe(&self) -> bool {
        true
    }
}

/// A queued job and when it was queued.
struct Waiting {
    since: Instant,
    job: Box<dyn Job>,
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
            (Some(e), _) => Err(not_committed(e)),
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
            (Some(e), _) => Err(not_committed(e)),
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
        self.push(Box::new(Queued {
            op: msg.op,
            output: None,
            reply: msg.reply,
        }));
        self.kick(ctx);
    }
}

/// Answers once the writer could take its locks in a transaction (a batch of its own, rolled
/// back, or whichever batch is next): proof that writes are not stuck.
pub struct Probe;

impl Message for Probe {
    type Result = StoreResult<()>;
}

impl Handler<Probe> for Writer {
    type Result = ResponseFuture<StoreResult<()>>;

    fn handle(&mut self, _: Probe, ctx: &mut Self::Context) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        self.push(Box::new(ProbeJob { reply }));
        self.kick(ctx);
        Box::pin(async move { answer.await.unwrap_or(Err(StoreError::WriterGone)) })
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
    queue: Vec<Waiting>,
    /// The batch that is running its statements, if any: no other may start.
    running: Option<u64>,
    /// Batches started and not yet answered.
    in_flight: usize,
    /// The number of the next batch.
    next_batch: u64,
    /// Fires once the latest batch started has answered its commands.
    last_answered: Option<oneshot::Receiver<()>>,
    drained: Vec<oneshot::Sender<()>>,
    /// How long a command may wait for its answer (the database deadline).
    deadline: Duration,
    metrics: Arc<Metrics>,
    /// When the writer adds stored messages to the search index by itself.
    search_index: search_index::Schedule,
}

impl Writer {
    pub fn new(db: Db, clock: Clock, metrics: Arc<Metrics>) -> Self {
        Self::indexing_every(db, clock, metrics, search_index::INDEX_EVERY)
    }

    /// A writer that indexes stored messages for search by itself `every` so often.
    pub fn indexing_every(db: Db, clock: Clock, metrics: Arc<Metrics>, every: Duration) -> Self {
        let sqlite = db.backend_name() == "sqlite";
        Writer {
            search_index: search_index::Schedule::new(sqlite, every),
            metrics,
            deadline: db.timeout(),
            db,
            clock,
            queue: Vec::new(),
            running: None,
            in_flight: 0,
            next_batch: 0,
            last_answered: None,
            drained: Vec::new(),
        }
    }

    fn push(&mut self, job: Box<dyn Job>) {
        self.queue.push(Waiting {
            since: Instant::now(),
            job,
        });
    }

    /// Starts the next batch if the pipeline has room for it.
    fn kick(&mut self, ctx: &mut Context<Self>) {
        if self.queue.is_empty() {
            if self.in_flight == 0 {
                for tx in self.drained.drain(..) {
                    let _ = tx.send(());
                }
            }
            return;
        }
        if self.running.is_some() || self.in_flight >= MAX_IN_FLIGHT {
            return;
        }
        let take = self.queue.len().min(MAX_BATCH);
        let now = Instant::now();
        let min_left = self.deadline / MIN_LEFT_DIVISOR;
        let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(take);
        let mut limit: Option<Instant> = None;
        for w in self.queue.drain(..take) {
            let due = w.since + self.deadline;
            if due.saturating_duration_since(now) < min_left {
                // Its caller is about to give up: refused, never run (and never committed
                // after its caller was told it failed).
                w.job.finish(Some(&StoreError::Unavailable(
                    "waited too long for the database".into(),
                )));
                continue;
            }
            limit = Some(limit.map_or(due, |l| l.min(due)));
            batch.push(w.job);
        }
        let Some(limit) = limit else {
            return self.kick(ctx);
        };
        self.index_with(&mut batch, ctx);
        let id = self.next_batch;
        self.next_batch += 1;
        // Alone in the pipeline, a batch runs its SQLite statements and its sync on this
        // thread: a single message's commit then costs no hop to the blocking pool and back.
        // Behind another batch, it runs them on the pool, so that this thread stays free to
        // answer the batch before it as soon as its sync ends.
        let inline = self.in_flight == 0;
        self.running = Some(id);
        self.in_flight += 1;
        let (turn, turned) = oneshot::channel();
        let (answered, last_answered) = oneshot::channel();
        let links = Links {
            turn,
            previous: self.last_answered.replace(last_answered),
            answered,
        };
        let db = self.db.clone();
        let now = self.clock.now();
        self.metrics
            .writer_batch_commands
            .observe(batch.len() as f64);
        self.metrics.writer_queued.set(self.queue.len() as i64);
        let started = Instant::now();
        // The turn comes back (or its sender is dropped) before the batch ends.
        ctx.spawn(turned.into_actor(self).map(move |_, act, ctx| {
            act.let_next_start(id);
            act.kick(ctx);
        }));
        ctx.spawn(
            inline_if(inline, commit_batch(db, now, batch, limit, links))
                .into_actor(self)
                .map(move |stored, act, ctx| {
                    let m = &act.metrics;
                    m.writer_commit_seconds
                        .observe(started.elapsed().as_secs_f64());
                    m.messages_stored.inc_by(stored);
                    act.in_flight -= 1;
                    act.let_next_start(id);
                    act.kick(ctx);
                }),
        );
    }

    /// Batch `id` takes no more locks: the next may run its statements.
    fn let_next_start(&mut self, id: u64) {
        if self.running == Some(id) {
            self.running = None;
        }
    }
}

impl Actor for Writer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Senders wait (backpressure) only when this many commands are queued in the mailbox.
        ctx.set_mailbox_capacity(4096);
        if let Some(wal) = self.db.wal() {
            ctx.spawn(wal.clone().checkpoints().into_actor(self));
        }
        self.index_leftovers(ctx);
    }
}

impl<O: WriteOp> Handler<Write<O>> for Writer {
    type Result = ResponseFuture<StoreResult<O::Output>>;

    fn handle(&mut self, msg: Write<O>, ctx: &mut Self::Context) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        self.push(Box::new(Queued {
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
        self.push(Box::new(SendJob {
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

mod batch;
mod presence;
mod search_index;
#[cfg(test)]
mod tests;

pub use crate::store::tx::{Tx, WriteOp};
use batch::{commit_batch, Links};
pub use presence::SetPresence;
pub use search_index::{IndexForSearch, INDEX_EVERY};
