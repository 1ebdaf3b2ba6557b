//! The `[privacy]` section: how long deleted accounts and messages deleted for everyone wait
//! for their purge, how often the purge runs, and the chat list's pin limit.

use std::time::Duration;

use courier_actors::privacy::Policy;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The PRD's promise: a deleted account, and a message deleted for everyone, are gone from
/// storage within 30 days. No setting may break it.
const MAX_DAYS: u32 = 30;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// A deleted account's messages, media, statuses, contacts and phone number are purged
    /// this many days after the deletion (0 to 30).
    pub account_purge_after_days: u32,
    /// The marker a message deleted for everyone leaves is purged this many days after the
    /// deletion (0 to 30); its content and files go at once.
    pub message_purge_after_days: u32,
    /// How often the purge looks for work (60 s to 1 day); 0: never on this node (with several
    /// nodes, one is enough).
    pub purge_every_secs: u64,
    /// How often messages whose disappearing timer ran out are purged (1 s to 1 hour); 0:
    /// never on this node. Clients hide them at `expires_at` by themselves.
    pub expire_every_secs: u64,
    /// Chats one user may pin at once.
    pub max_pinned_chats: u32,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings {
            account_purge_after_days: 30,
            message_purge_after_days: 30,
            purge_every_secs: 3600,
            expire_every_secs: 60,
            max_pinned_chats: 3,
        }
    }
}

impl PrivacySettings {
    /// The engine's policy.
    pub fn policy(&self) -> Policy {
        let days = |d: u32| chrono::TimeDelta::days(i64::from(d));
        Policy {
            account_purge_after: days(self.account_purge_after_days),
            message_purge_after: days(self.message_purge_after_days),
            purge_every: Duration::from_secs(self.purge_every_secs),
            expire_every: Duration::from_secs(self.expire_every_secs),
            max_pinned_chats: self.max_pinned_chats as usize,
        }
    }

    /// Refuses windows beyond the PRD's 30 days and purge intervals out of range.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.account_purge_after_days > MAX_DAYS || self.message_purge_after_days > MAX_DAYS {
            return Err(ConfigError(format!(
                "privacy: account_purge_after_days and message_purge_after_days are at most {MAX_DAYS} (deleted data is gone within 30 days)"
            )));
        }
        if self.purge_every_secs != 0 && !(60..=86_400).contains(&self.purge_every_secs) {
            return Err(ConfigError(
                "privacy.purge_every_secs must be 0 (off) or between 60 and 86400".into(),
            ));
        }
        if self.expire_every_secs > 3600 {
            return Err(ConfigError(
                "privacy.expire_every_secs must be 0 (off) or between 1 and 3600".into(),
            ));
        }
        if self.max_pinned_chats == 0 || self.max_pinned_chats > 100 {
            return Err(ConfigError(
                "privacy.max_pinned_chats must be between 1 and 100".into(),
            ));
        }
        Ok(())
    }
}
