//! One batch of the writer: how it runs in one transaction ([`Tx`]) and commits within its
//! deadline.

use std::future::Future;
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::time::Instant;

use super::Job;
use crate::store::message_ops::{insert_batch, SendOutcome, SendSlot};
use crate::store::tx::Tx;
use crate::store::{Conn, Db, PooledConn, StoreError, StoreResult};

/// New messages a committed `batch` stored (not counting duplicates and refusals).
fn stored(batch: &mut [Box<dyn Job>]) -> u64 {
    batch
        .iter_mut()
        .filter_map(|job| job.send_slot())
        .filter(|slot| matches!(slot.outcome, Some(SendOutcome::Stored(_))))
        .count() as u64
}

/// Commits a batch and answers every command in it, by `limit`. Answers how many new
/// messages it stored.
pub(super) async fn commit_batch(
    db: Db,
    now: NaiveDateTime,
    mut batch: Vec<Box<dyn Job>>,
    limit: Instant,
) -> u64 {
    let started = Instant::now();
    let deadline = limit.saturating_duration_since(started);
    match within(deadline, run_transaction(&db, now, &mut batch)).await {
        Ok(()) => {
            tracing::debug!(
                size = batch.len(),
                micros = started.elapsed().as_micros() as u64,
                "committed"
            );
            let count = stored(&mut batch);
            batch.into_iter().for_each(|job| job.finish(None));
            count
        }
        Err(e) if e.is_unavailable() => {
            // The database, not a command, is at fault: retrying one by one would only make
            // every caller wait once more per command.
            tracing::warn!(error = %e, size = batch.len(), "batch failed: database unavailable");
            batch.into_iter().for_each(|job| job.finish(Some(&e)));
            0
        }
        Err(e) if batch.len() > 1 => {
            tracing::warn!(error = %e, size = batch.len(), "batch failed; retrying its commands one by one");
            let mut gone: Option<StoreError> = None;
            let mut count = 0;
            for job in batch {
                if let Some(e) = &gone {
                    job.finish(Some(e));
                    continue;
                }
                let mut one = vec![job];
                let result = within(db.timeout(), run_transaction(&db, now, &mut one)).await;
                match &result {
                    Err(e) => tracing::error!(error = %e, "write failed"),
                    Ok(()) => count += stored(&mut one),
                }
                one.into_iter()
                    .for_each(|job| job.finish(result.as_ref().err()));
                gone = result.err().filter(StoreError::is_unavailable);
            }
            count
        }
        Err(e) => {
            tracing::error!(error = %e, "write failed");
            batch.into_iter().for_each(|job| job.finish(Some(&e)));
            0
        }
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

async fn run_transaction(
    db: &Db,
    now: NaiveDateTime,
    batch: &mut [Box<dyn Job>],
) -> StoreResult<()> {
    let probes_only = batch.iter().all(|job| job.is_probe());
    let mut pooled = db.get().await?;
    let result = match &mut pooled {
        // The first statement of every batch is an UPDATE, so SQLite takes its write lock at
        // once (as BEGIN IMMEDIATE would) instead of upgrading from a read lock mid-way.
        PooledConn::Sqlite(c) => {
            diesel_async::AsyncConnection::transaction(&mut **c, async |c| {
                run_jobs(Conn::Sqlite(c), now, batch, probes_only).await
            })
            .await
        }
        PooledConn::Pg(c) => {
            diesel_async::AsyncConnection::transaction(&mut **c, async |c| {
                run_jobs(Conn::Pg(c), now, batch, probes_only).await
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
    tx.finish().await?;
    if probes_only {
        // The locks were taken; nothing is kept.
        return Err(diesel::result::Error::RollbackTransaction.into());
    }
    Ok(())
}
