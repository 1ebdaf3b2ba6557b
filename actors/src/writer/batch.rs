//! One batch of the writer: how it runs in one transaction ([`Tx`]) and commits within its
//! deadline.

use std::future::Future;
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Job;
use crate::store::message_ops::{insert_batch, SendOutcome, SendSlot};
use crate::store::tx::Tx;
use crate::store::wal::{Ticket, WalSync};
use crate::store::{Conn, Db, PooledConn, StoreError, StoreResult};

/// New messages a committed `batch` stored (not counting duplicates and refusals).
fn stored(batch: &mut [Box<dyn Job>]) -> u64 {
    batch
        .iter_mut()
        .filter_map(|job| job.send_slot())
        .filter(|slot| matches!(slot.outcome, Some(SendOutcome::Stored(_))))
        .count() as u64
}

/// Where a batch stands with the batches around it.
pub(super) struct Links {
    /// Sent (or dropped) once the batch will take no more locks: its statements have run and
    /// only its commit's durability is awaited. The writer then starts the next batch.
    pub turn: oneshot::Sender<()>,
    /// Fires once the batch before this one has answered its commands: answers go out in
    /// batch order.
    pub previous: Option<oneshot::Receiver<()>>,
    /// Sent once this batch has answered its commands.
    pub answered: oneshot::Sender<()>,
}

/// Commits a batch and answers every command in it, by `limit`. Answers how many new
/// messages it stored.
pub(super) async fn commit_batch(
    db: Db,
    now: NaiveDateTime,
    mut batch: Vec<Box<dyn Job>>,
    limit: Instant,
    links: Links,
) -> u64 {
    let Links {
        turn,
        previous,
        answered,
    } = links;
    let mut turn = Turn::new(turn);
    let started = Instant::now();
    let deadline = limit.saturating_duration_since(started);
    let result = within(deadline, run_transaction(&db, now, &mut batch, &mut turn)).await;
    let committed = started.elapsed();
    let result = match result {
        Ok(()) => {
            let ticket = db.wal().map(WalSync::committed);
            turn.hand_over();
            let left = limit.saturating_duration_since(Instant::now());
            within(left, durable(&db, ticket)).await
        }
        Err(e) if e.is_unavailable() => Err(e),
        // The commit itself failed after the next batch started: run again now, the commands
        // would land after that batch's, out of their order.
        Err(e) if turn.given() => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
        Err(e) => Err(e),
    };
    let (count, failures) = match result {
        Ok(()) => {
            tracing::debug!(
                size = batch.len(),
                micros = started.elapsed().as_micros() as u64,
                statements_micros = turn.given_after(started).as_micros() as u64,
                committed_micros = committed.as_micros() as u64,
                "committed"
            );
            (stored(&mut batch), Failures::None)
        }
        Err(e) if e.is_unavailable() => {
            // The database, not a command, is at fault: retrying one by one would only make
            // every caller wait once more per command.
            tracing::warn!(error = %e, size = batch.len(), "batch failed: database unavailable");
            (0, Failures::All(e))
        }
        Err(e) if batch.len() > 1 => {
            tracing::warn!(error = %e, size = batch.len(), "batch failed; retrying its commands one by one");
            one_by_one(&db, now, &mut batch).await
        }
        Err(e) => {
            tracing::error!(error = %e, "write failed");
            (0, Failures::All(e))
        }
    };
    drop(turn);
    if let Some(previous) = previous {
        // An error means that batch's task is gone, and so are its commands' callers.
        let _ = previous.await;
    }
    match failures {
        Failures::None => batch.into_iter().for_each(|job| job.finish(None)),
        Failures::All(e) => batch.into_iter().for_each(|job| job.finish(Some(&e))),
        Failures::Each(each) => batch
            .into_iter()
            .zip(each)
            .for_each(|(job, e)| job.finish(e.as_ref())),
    }
    let _ = answered.send(());
    count
}

/// How the commands of a batch fared.
enum Failures {
    None,
    All(StoreError),
    Each(Vec<Option<StoreError>>),
}

/// Retries a failed batch's commands, each in a transaction of its own (and synced, like any
/// commit, before any is answered). Answers how many new messages they stored.
async fn one_by_one(db: &Db, now: NaiveDateTime, batch: &mut [Box<dyn Job>]) -> (u64, Failures) {
    let mut each = Vec::with_capacity(batch.len());
    let mut gone: Option<StoreError> = None;
    let mut count = 0;
    let mut ticket = None;
    for job in batch.iter_mut() {
        if let Some(e) = &gone {
            each.push(Some(e.copy()));
            continue;
        }
        let one = std::slice::from_mut(job);
        let result = within(
            db.timeout(),
            run_transaction(db, now, one, &mut Turn::new_none()),
        )
        .await;
        match &result {
            Err(e) => tracing::error!(error = %e, "write failed"),
            Ok(()) => {
                count += stored(one);
                ticket = db.wal().map(WalSync::committed);
            }
        }
        gone = result
            .as_ref()
            .err()
            .filter(|e| e.is_unavailable())
            .map(StoreError::copy);
        each.push(result.err());
    }
    if let Err(e) = within(db.timeout(), durable(db, ticket)).await {
        return (0, Failures::All(e));
    }
    (count, Failures::Each(each))
}

/// Makes the commit of `ticket` durable (on SQLite opened for the writer, commits return
/// before their WAL pages are synced; elsewhere they already are, and there is no ticket).
async fn durable(db: &Db, ticket: Option<Ticket>) -> StoreResult<()> {
    match (db.wal(), ticket) {
        (Some(wal), Some(ticket)) => wal.sync(ticket).await,
        _ => Ok(()),
    }
}

/// What lets the next batch start (see [`Links::turn`]), and when it was given.
struct Turn {
    next: Option<oneshot::Sender<()>>,
    given_at: Option<Instant>,
}

impl Turn {
    fn new(next: oneshot::Sender<()>) -> Turn {
        Turn {
            next: Some(next),
            given_at: None,
        }
    }

    /// No next batch waits (a command retried on its own).
    fn new_none() -> Turn {
        Turn {
            next: None,
            given_at: None,
        }
    }

    /// Lets the next batch start, the first time only.
    fn hand_over(&mut self) {
        if let Some(next) = self.next.take() {
            let _ = next.send(());
            self.given_at = Some(Instant::now());
        }
    }

    /// Whether the next batch may have started.
    fn given(&self) -> bool {
        self.next.is_none()
    }

    /// How long after `started` the turn was given (zero if it was not).
    fn given_after(&self, started: Instant) -> Duration {
        self.given_at
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(started))
    }
}

/// Runs `work` within `limit`, or fails as unavailable.
async fn within(limit: Duration, work: impl Future<Output = StoreResult<()>>) -> StoreResult<()> {
    crate::store::within(limit, work).await
}

/// The error a batch of probes only ends with on purpose: its transaction is rolled back.
fn is_rollback(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Query(diesel::result::Error::RollbackTransaction)
    )
}

/// Runs `batch` in one transaction. On PostgreSQL the turn is handed over once every
/// statement has run, before the commit: the next batch's statements then overlap this
/// commit, and wait for it only on rows both write. (SQLite has one write lock: its next
/// batch starts once the commit has returned.)
async fn run_transaction(
    db: &Db,
    now: NaiveDateTime,
    batch: &mut [Box<dyn Job>],
    turn: &mut Turn,
) -> StoreResult<()> {
    let probes_only = batch.iter().all(|job| job.is_probe());
    let mut pooled = db.get().await?;
    let result = match &mut pooled {
        PooledConn::Sqlite(c) => {
            if let Some(wal) = db.wal() {
                wal.restart_if_wanted(c).await;
            }
            // The first statement of every batch is an UPDATE, so SQLite takes its write lock
            // at once (as BEGIN IMMEDIATE would) instead of upgrading from a read lock mid-way.
            diesel_async::AsyncConnection::transaction(&mut **c, async |c| {
                run_jobs(
                    Conn::Sqlite(c),
                    now,
                    batch,
                    probes_only,
                    &mut Turn::new_none(),
                )
                .await
            })
            .await
        }
        PooledConn::Pg(c) => {
            diesel_async::AsyncConnection::transaction(&mut **c, async |c| {
                run_jobs(Conn::Pg(c), now, batch, probes_only, turn).await
            })
            .await
        }
    };
    match result {
        Err(e) if probes_only && is_rollback(&e) => Ok(()),
        other => other,
    }
}

async fn run_jobs(
    conn: Conn<'_>,
    now: NaiveDateTime,
    batch: &mut [Box<dyn Job>],
    probes_only: bool,
    turn: &mut Turn,
) -> StoreResult<()> {
    let mut tx = Tx::begin(conn, now).await?;
    // In queue order, so ids and sequence numbers follow the order commands were accepted
    // (rooms publish in that order); each run of consecutive sends is one insert, and each
    // run of consecutive presence changes one update per state.
    let mut rest = batch;
    while let Some(first) = rest.first_mut() {
        if first.presence_slot().is_some() {
            let run = rest
                .iter_mut()
                .position(|job| job.presence_slot().is_none())
                .unwrap_or(rest.len());
            let (changes, after) = rest.split_at_mut(run);
            let mut slots: Vec<_> = changes
                .iter_mut()
                .filter_map(|job| job.presence_slot())
                .collect();
            super::presence::record(&mut tx, &mut slots).await?;
            rest = after;
            continue;
        }
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
    tx.finish().await?;
    turn.hand_over();
    if probes_only {
        // The locks were taken; nothing is kept.
        return Err(diesel::result::Error::RollbackTransaction.into());
    }
    Ok(())
}
