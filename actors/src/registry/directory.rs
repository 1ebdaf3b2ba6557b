//! Which sessions each user has live, readable from every thread. The registry alone adds
//! and removes sessions (so "first socket" and "last socket" are decided in one place, in
//! order), but deliveries do not pass through the registry's mailbox: whoever publishes one
//! (a room on its engine thread, an HTTP worker) looks the recipients up here and hands the
//! event to their sessions itself. Fan-out then runs on as many threads as there are
//! publishers, and one busy chat's fan-out does not hold up connects, presence or calls.
//!
//! The map is split into shards by user id, each behind its own mutex: a lookup locks one
//! shard for as long as it takes to queue the event for that user's few sessions.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::bus::Delivery;
use crate::session::{ConnId, Push};
use crate::sink::SessionAddr;

/// Shards of the map; a power of two well above the number of threads that publish.
const SHARDS: usize = 64;

/// One live session of a user.
pub(crate) struct Entry {
    pub conn: ConnId,
    pub auth_session: i64,
    pub addr: SessionAddr,
}

/// One shard: users (whose id falls in it) and their live sessions.
type Shard = HashMap<i64, Vec<Entry>>;

/// The live sessions of every user; see the module docs.
pub struct Directory {
    shards: Box<[Mutex<Shard>]>,
}

impl Default for Directory {
    fn default() -> Self {
        Directory {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl Directory {
    fn shard(&self, user_id: i64) -> MutexGuard<'_, Shard> {
        let shard = &self.shards[user_id.rem_euclid(SHARDS as i64) as usize];
        // A panic while holding the lock leaves a map that is still whole: keep using it.
        shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands `d.event` to every addressed session (see [`Delivery`] for `skip` and `only`).
    pub fn deliver(&self, d: &Delivery) {
        for &user in &d.users {
            let shard = self.shard(user);
            for entry in shard.get(&user).into_iter().flatten() {
                let wanted = d.only.is_none_or(|only| only == entry.conn);
                if wanted && Some(entry.conn) != d.skip {
                    entry.addr.do_send(Push(d.event.clone()));
                }
            }
        }
    }

    /// Live sessions, all users together.
    pub fn sessions(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .map(Vec::len)
                    .sum::<usize>()
            })
            .sum()
    }

    /// Every user with a live session here.
    pub fn users(&self) -> Vec<i64> {
        self.shards
            .iter()
            .flat_map(|s| {
                let shard = s.lock().unwrap_or_else(|p| p.into_inner());
                shard.keys().copied().collect::<Vec<_>>()
            })
            .collect()
    }

    /// Whether `user_id` has a live session.
    pub fn is_online(&self, user_id: i64) -> bool {
        self.shard(user_id).contains_key(&user_id)
    }

    /// Whether device session `auth_session` of `user_id` has a live socket here.
    pub fn has_device(&self, user_id: i64, auth_session: i64) -> bool {
        self.shard(user_id)
            .get(&user_id)
            .is_some_and(|entries| entries.iter().any(|e| e.auth_session == auth_session))
    }

    /// Adds a session; `true` if it is the user's first.
    pub(super) fn add(&self, user_id: i64, entry: Entry) -> bool {
        let mut shard = self.shard(user_id);
        let entries = shard.entry(user_id).or_default();
        entries.push(entry);
        entries.len() == 1
    }

    /// Removes a session: `None` if it was not there (a session reports its end twice),
    /// otherwise whether it was the user's last.
    pub(super) fn remove(&self, user_id: i64, conn: ConnId) -> Option<bool> {
        let mut shard = self.shard(user_id);
        let entries = shard.get_mut(&user_id)?;
        let before = entries.len();
        entries.retain(|e| e.conn != conn);
        if entries.len() == before {
            return None;
        }
        let last = entries.is_empty();
        if last {
            shard.remove(&user_id);
        }
        Some(last)
    }

    /// Calls `f` with each live session of `user_id`.
    pub(super) fn each_of(&self, user_id: i64, mut f: impl FnMut(&Entry)) {
        for entry in self.shard(user_id).get(&user_id).into_iter().flatten() {
            f(entry);
        }
    }

    /// Calls `f` with every live session (one shard locked at a time).
    pub(super) fn each(&self, mut f: impl FnMut(&Entry)) {
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for entry in shard.values().flatten() {
                f(entry);
            }
        }
    }

    /// Forgets every session (the node is shutting down).
    pub(super) fn clear(&self) {
        for shard in self.shards.iter() {
            shard.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }
}
