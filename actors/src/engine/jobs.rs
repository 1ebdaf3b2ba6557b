//! The engine's periodic jobs: the janitor (sockets of ended sessions, expired statuses, old
//! codes and sessions) and the sweep of stored files no row refers to. Each runs on one node
//! at a time in a cluster; tests call the jobs' methods directly.

use std::time::Duration;

use chrono::TimeDelta;
use futures_util::StreamExt;

use super::Engine;
use crate::storage::StorageError;
use crate::store::{StoreError, StoreResult};

/// Stored objects checked against the database at a time (a fixed number of queries each).
const SWEEP_BATCH: usize = 500;
/// Most orphans one sweep removes; any more wait for the next run.
const SWEEP_MAX: usize = 10_000;

/// How often the janitor runs (expired statuses, dead codes and sessions, sockets of sessions
/// ended by another process).
pub const JANITOR_EVERY: Duration = Duration::from_secs(60);
/// How far back each janitor run looks for ended sessions beyond the previous run: an
/// operator's command may run on a clock a little behind the server's.
const JANITOR_OVERLAP: TimeDelta = TimeDelta::seconds(60);
/// Expired codes and ended sessions are kept this long (a late `verify-otp` still hears that
/// its code expired), then purged.
pub const AUTH_RETENTION: TimeDelta = TimeDelta::hours(1);
/// Purge transactions one janitor run makes at most; a longer backlog waits for the next run.
const PURGE_ROUNDS: usize = 100;

/// Why a sweep of orphan files stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Runs the janitor every [`JANITOR_EVERY`].
pub(super) fn spawn_janitor(engine: &Engine) {
    let janitor = engine.clone();
    actix::spawn(async move {
        // Sessions ended from this moment on (less a tick, for another process's clock).
        let mut since = janitor.clock.now() - JANITOR_OVERLAP;
        loop {
            janitor.clock.sleep(JANITOR_EVERY).await;
            let started = janitor.clock.now();
            // Every node closes its own sockets of ended sessions.
            match janitor.close_ended_sessions(since).await {
                Ok(()) => since = started - JANITOR_OVERLAP,
                Err(e) => tracing::warn!(error = %e, "looking up ended sessions failed"),
            }
            if !janitor.runs_job("janitor", JANITOR_EVERY).await {
                continue;
            }
            if let Err(e) = janitor.purge_expired().await {
                tracing::warn!(error = %e, "purging expired statuses failed");
            }
            match janitor.purge_auth().await {
                Ok((0, 0)) => {}
                Ok((codes, sessions)) => {
                    tracing::info!(codes, sessions, "purged expired codes and ended sessions")
                }
                Err(e) => tracing::warn!(error = %e, "purging codes and sessions failed"),
            }
        }
    });
}

/// Runs the orphan sweep every `OrphanSweep::every`, when the store has one.
pub(super) fn spawn_orphan_sweep(engine: &Engine) {
    if let Some(sweep) = engine.storage.orphan_sweep() {
        let sweeper = engine.clone();
        actix::spawn(async move {
            loop {
                sweeper.clock.sleep(sweep.every).await;
                if !sweeper.runs_job("orphan-sweep", sweep.every).await {
                    continue;
                }
                match sweeper.sweep_orphans().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(count = n, "removed stored files no row refers to"),
                    Err(e) => tracing::warn!(error = %e, "sweeping orphan files failed"),
                }
            }
        });
    }
}

impl Engine {
    /// Whether this node runs periodic job `job` (every `period`) this time: always when
    /// alone, and on one node at a time in a cluster (see [`Cluster::holds_job`](crate::cluster::Cluster::holds_job)).
    pub async fn runs_job(&self, job: &str, period: Duration) -> bool {
        match &self.cluster {
            Some(cluster) => cluster.holds_job(job, period).await,
            None => true,
        }
    }

    /// Deletes expired statuses and their files; answers how many files went. Files go first:
    /// a status whose file could not be removed (the store unreachable) stays, expired and
    /// never shown, until a later run removes both. The server runs this every minute (see
    /// [`Engine::start`]); tests call it directly.
    pub async fn purge_expired(&self) -> StoreResult<usize> {
        let mut removed = 0;
        loop {
            let batch = {
                let mut conn = self.db.get().await?;
                crate::store::statuses::expired(&mut conn.conn(), self.clock.now(), 500).await?
            };
            if batch.is_empty() {
                return Ok(removed);
            }
            let mut gone = Vec::with_capacity(batch.len());
            for (id, media) in &batch {
                match media.as_deref().and_then(crate::storage::key_of) {
                    None => gone.push(*id),
                    Some(key) => match self.storage.delete(key).await {
                        Ok(()) => {
                            removed += 1;
                            gone.push(*id);
                        }
                        Err(e) => {
                            tracing::warn!(key, error = %e, "expired status file stays for now")
                        }
                    },
                }
            }
            let complete = gone.len() == batch.len();
            self.write(crate::store::statuses::PurgeExpired { ids: gone })
                .await?;
            if !complete {
                // The rest is retried on the next run, not in a loop against a failing store.
                return Ok(removed);
            }
        }
    }

    /// Deletes one-time codes that expired, and device sessions that expired or were revoked,
    /// more than [`AUTH_RETENTION`] ago, a batch per transaction; answers (codes, sessions)
    /// deleted. The janitor runs this every [`JANITOR_EVERY`]; tests may call it directly.
    pub async fn purge_auth(&self) -> StoreResult<(usize, usize)> {
        use crate::store::auth_purge::{PurgeAuth, PURGE_BATCH};
        let before = self.clock.now() - AUTH_RETENTION;
        let (mut codes, mut sessions) = (0, 0);
        for _ in 0..PURGE_ROUNDS {
            let (c, s) = self.write(PurgeAuth { before }).await?;
            codes += c;
            sessions += s;
            if c < PURGE_BATCH as usize && s < PURGE_BATCH as usize {
                break;
            }
        }
        Ok((codes, sessions))
    }

    /// Closes the sockets of sessions revoked at `since` or later, wherever they were revoked
    /// (an operator's `courier users suspend` or `sign-out` runs in another process). A
    /// session closed here already is not there any more: telling the registry again is free.
    pub async fn close_ended_sessions(&self, since: chrono::NaiveDateTime) -> StoreResult<()> {
        let ended = {
            let mut conn = self.db.get().await?;
            crate::store::auth_purge::revoked_since(&mut conn.conn(), since, 10_000).await?
        };
        for (user_id, auth_session) in ended {
            self.end_auth_session(user_id, auth_session);
        }
        Ok(())
    }

    /// Removes stored files that no row refers to (an upload stores its files before writing
    /// the row that refers to them: a crash in between leaves them behind), once they are
    /// older than the grace of [`OrphanSweep`](crate::storage::OrphanSweep); answers how many
    /// went. A younger file may be one whose row is being written right now, so it is not even
    /// looked at; nothing writes a new reference to a file that is already older. Object times
    /// come from the store, the grace is measured on the engine's clock. Keys are checked
    /// against the database a batch at a time, and removed once the listing is read (at most
    /// 10,000 a run; the next run goes on). The server runs this every `OrphanSweep::every`
    /// (see [`Engine::start`]); tests call it directly.
    pub async fn sweep_orphans(&self) -> Result<usize, SweepError> {
        let Some(sweep) = self.storage.orphan_sweep() else {
            return Ok(0);
        };
        let cutoff = TimeDelta::from_std(sweep.grace)
            .ok()
            .and_then(|grace| self.clock.now_utc().checked_sub_signed(grace));
        let Some(cutoff) = cutoff else {
            // A grace reaching before any time there is: nothing is old enough.
            return Ok(0);
        };
        let mut orphans = Vec::new();
        let mut batch = Vec::with_capacity(SWEEP_BATCH);
        let mut listing = self.storage.list();
        while let Some(object) = listing.next().await {
            let object = object?;
            if object.last_modified <= cutoff {
                batch.push(object.key);
            }
            if batch.len() == SWEEP_BATCH {
                self.unreferenced(&mut batch, &mut orphans).await?;
                if orphans.len() >= SWEEP_MAX {
                    break;
                }
            }
        }
        drop(listing);
        self.unreferenced(&mut batch, &mut orphans).await?;
        let mut removed = 0;
        for key in &orphans {
            match self.storage.delete(key).await {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(key, error = %e, "orphan file stays for now"),
            }
        }
        Ok(removed + self.storage.remove_partial_files(cutoff).await?)
    }

    /// Moves the keys of `batch` that no row refers to into `orphans`.
    async fn unreferenced(
        &self,
        batch: &mut Vec<String>,
        orphans: &mut Vec<String>,
    ) -> Result<(), SweepError> {
        if batch.is_empty() {
            return Ok(());
        }
        let held = {
            let mut conn = self.db.get().await?;
            crate::store::media_refs::referenced(&mut conn.conn(), batch).await?
        };
        orphans.extend(batch.drain(..).filter(|k| !held.contains(k)));
        Ok(())
    }
}
