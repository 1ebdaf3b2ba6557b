//! The privacy purges the engine runs by itself: deleted accounts once their window has
//! passed, and the markers of messages deleted for everyone. Both are driven by the engine's
//! clock, so tests move a manual clock instead of waiting.

use std::time::Duration;

use chrono::TimeDelta;

use crate::engine::Engine;
use crate::store::disappearing::{PurgeExpired, PURGE_BATCH as EXPIRE_BATCH};
use crate::store::erasure::{self, PurgeAccount};
use crate::store::exports::PurgeExports;
use crate::store::message_purge::{PurgeDeletedMessages, PURGE_BATCH};
use crate::store::StoreResult;

/// Accounts one purge run removes at most; more wait for the next run.
const ACCOUNTS_PER_RUN: i64 = 100;
/// Message batches one purge run removes at most.
const MESSAGE_ROUNDS: usize = 100;

/// Purge windows and the chat list's pin limit (the `[privacy]` configuration).
#[derive(Debug, Clone)]
pub struct Policy {
    /// A deleted account is purged this long after its deletion.
    pub account_purge_after: TimeDelta,
    /// A message deleted for everyone leaves its marker this long.
    pub message_purge_after: TimeDelta,
    /// How often the purge runs; zero: never on this node.
    pub purge_every: Duration,
    /// How often messages whose disappearing timer ran out are purged; zero: never on this
    /// node.
    pub expire_every: Duration,
    /// Chats one user may pin at once.
    pub max_pinned_chats: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            account_purge_after: TimeDelta::days(30),
            message_purge_after: TimeDelta::days(30),
            purge_every: Duration::from_secs(3600),
            expire_every: Duration::from_secs(60),
            max_pinned_chats: 3,
        }
    }
}

/// What one purge run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub accounts: usize,
    pub messages: usize,
    pub files: usize,
}

impl Engine {
    /// Purges deleted accounts whose window has passed, then messages deleted for everyone
    /// long enough ago. The server runs this every `privacy.purge_every_secs` (see
    /// [`spawn_purge`]); tests call it directly after moving the clock.
    pub async fn purge_privacy(&self) -> StoreResult<Purged> {
        let policy = &self.realtime.privacy;
        let now = self.clock.now();
        let mut purged = Purged::default();
        let due = {
            let mut conn = self.db.get().await?;
            erasure::due(
                &mut conn.conn(),
                now - policy.account_purge_after,
                ACCOUNTS_PER_RUN,
            )
            .await?
        };
        for user_id in due {
            if let Some((keys, chats)) = self.write(PurgeAccount { user_id }).await? {
                purged.accounts += 1;
                for chat_id in chats {
                    self.membership_changed(chat_id);
                }
                purged.files += self.remove_unreferenced(keys).await?;
            }
        }
        // Exports past their download window go, with their archives.
        let keys = self.write(PurgeExports { now }).await?;
        purged.files += self.remove_unreferenced(keys).await?;
        let before = now - policy.message_purge_after;
        for _ in 0..MESSAGE_ROUNDS {
            let n = self.write(PurgeDeletedMessages { before }).await?;
            purged.messages += n;
            if n < PURGE_BATCH as usize {
                break;
            }
        }
        Ok(purged)
    }

    /// Purges the messages whose disappearing timer ran out by the engine's clock, with their
    /// files. The server runs this every `privacy.expire_every_secs` (see [`spawn_expiry`]);
    /// tests call it directly after moving the clock. Answers how many messages went.
    pub async fn purge_disappeared(&self) -> StoreResult<Purged> {
        let now = self.clock.now();
        let mut purged = Purged::default();
        for _ in 0..MESSAGE_ROUNDS {
            let out = self.write(PurgeExpired { now }).await?;
            purged.messages += out.count;
            purged.files += self.remove_unreferenced(out.files).await?;
            if out.count < EXPIRE_BATCH as usize {
                break;
            }
        }
        Ok(purged)
    }

    /// Removes the stored files of `keys` that no row refers to any more (a file can be
    /// shared, a forwarded one for instance); answers how many went. One that cannot be
    /// removed now is left to the orphan sweep.
    async fn remove_unreferenced(&self, mut keys: Vec<String>) -> StoreResult<usize> {
        keys.sort_unstable();
        keys.dedup();
        let held = {
            let mut conn = self.db.get().await?;
            crate::store::media_refs::referenced(&mut conn.conn(), &keys).await?
        };
        let mut removed = 0;
        for key in keys.iter().filter(|k| !held.contains(*k)) {
            match self.storage.delete(key).await {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(key, error = %e, "purged file stays for the orphan sweep"),
            }
        }
        Ok(removed)
    }
}

/// Runs [`Engine::purge_privacy`] every `privacy.purge_every` on the engine's clock (never if
/// that is zero: another node runs it).
pub(crate) fn spawn_purge(engine: Engine) {
    if engine.realtime.privacy.purge_every.is_zero() {
        return;
    }
    actix::spawn(async move {
        loop {
            engine
                .clock
                .sleep(engine.realtime.privacy.purge_every)
                .await;
            let every = engine.realtime.privacy.purge_every;
            if !engine.runs_job("privacy-purge", every).await {
                continue;
            }
            match engine.purge_privacy().await {
                Ok(p) if p == Purged::default() => {}
                Ok(p) => tracing::info!(
                    accounts = p.accounts,
                    messages = p.messages,
                    files = p.files,
                    "purged deleted accounts and messages"
                ),
                Err(e) => tracing::warn!(error = %e, "the privacy purge failed"),
            }
        }
    });
}

/// Runs [`Engine::purge_disappeared`] every `privacy.expire_every` on the engine's clock (never if
/// that is zero).
pub(crate) fn spawn_expiry(engine: Engine) {
    let every = engine.realtime.privacy.expire_every;
    if every.is_zero() {
        return;
    }
    actix::spawn(async move {
        loop {
            engine.clock.sleep(every).await;
            if !engine.runs_job("message-expiry", every).await {
                continue;
            }
            match engine.purge_disappeared().await {
                Ok(p) if p == Purged::default() => {}
                Ok(p) => tracing::info!(
                    messages = p.messages,
                    files = p.files,
                    "purged messages whose disappearing timer ran out"
                ),
                Err(e) => tracing::warn!(error = %e, "the purge of expired messages failed"),
            }
        }
    });
}
