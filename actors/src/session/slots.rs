//! Each user's share of the realtime server: how many sockets they hold open (capped per user)
//! and the one frame [`Budget`] those sockets draw on together. A slot is taken before a
//! WebSocket is upgraded (so a user over the cap gets a clear refusal, not a socket) and given
//! back when the session that holds it ends.
//!
//! The budget belongs to the user, not to a socket, and outlives their sockets until it has
//! refilled: opening more sockets, or reconnecting after a `4029`, buys no fresh allowance.
//! What one account costs the server is bounded by its rates, however it spreads its frames.
//!
//! In a cluster the cap holds across nodes: each node records its users' counts in Redis (see
//! `cluster::sockets`), and a slot is taken only if the user's sockets on every node leave room
//! for it. With Redis away each node counts alone again, so the cap still holds per node. The
//! budget stays the node's own.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::NaiveDateTime;
use tokio::sync::Notify;

use super::budget::{Budget, FrameLimits};
use crate::cluster::Cluster;
use crate::protocol::FrameKind;

/// Users are spread over this many locks, so sockets on different threads rarely wait.
const SHARDS: usize = 16;

/// Connects between two sweeps of a shard for users with no socket and a rested budget.
const SWEEP_EVERY: u32 = 1024;

/// Open sockets and frame budgets per user; see the module docs.
#[derive(Debug)]
pub struct SocketSlots {
    max_per_user: usize,
    limits: FrameLimits,
    shards: [Mutex<Shard>; SHARDS],
    /// Where the counts every node shares are kept, in a cluster.
    shared: Option<Shared>,
}

/// A node's side of the counts the cluster shares: the users whose count here changed since
/// it was last recorded in Redis, recorded by [`SocketSlots::keep_recorded`].
struct Shared {
    cluster: Arc<Cluster>,
    changed: Mutex<Changed>,
    wake: Notify,
}

/// Counts waiting to be recorded.
#[derive(Debug, Default)]
struct Changed {
    users: HashSet<i64>,
    /// Every count is recorded again (Redis was away, or lost them).
    all: bool,
}

#[derive(Debug, Default)]
struct Shard {
    users: HashMap<i64, Share>,
    takes_since_sweep: u32,
}

/// One user's sockets and budget.
#[derive(Debug)]
struct Share {
    open: usize,
    budget: Budget,
}

/// One open socket's place, given back on drop; frames are charged to its user through it.
#[derive(Debug)]
pub struct SocketSlot {
    slots: Arc<SocketSlots>,
    user_id: i64,
}

impl SocketSlots {
    pub fn new(max_per_user: usize, limits: FrameLimits) -> Self {
        SocketSlots {
            max_per_user,
            limits,
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            shared: None,
        }
    }

    /// Counts with the other nodes of `cluster` from now on (when there is a cluster); its
    /// counts are recorded once [`SocketSlots::keep_recorded`] runs.
    pub fn shared_by(mut self, cluster: Option<Arc<Cluster>>) -> Self {
        self.shared = cluster.map(|cluster| Shared {
            cluster,
            changed: Mutex::default(),
            wake: Notify::new(),
        });
        self
    }

    fn shard(&self, user_id: i64) -> MutexGuard<'_, Shard> {
        self.shards[user_id.rem_euclid(SHARDS as i64) as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot for `user_id`, or `None` if they already hold the most allowed, on every
    /// node together in a cluster (on this one alone while Redis is away).
    pub async fn take(self: &Arc<Self>, user_id: i64, now: NaiveDateTime) -> Option<SocketSlot> {
        let (slot, here) = self.take_here(user_id, now)?;
        let Some(shared) = &self.shared else {
            return Some(slot);
        };
        match shared
            .cluster
            .take_socket(user_id, here, self.max_per_user)
            .await
        {
            // Refused: dropping the slot gives its place back here.
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) => {
                tracing::warn!(error = %e, "shared socket counts unavailable: counting on this node")
            }
        }
        // A socket of the user may have closed here while the count went to Redis.
        self.changed(user_id);
        Some(slot)
    }

    /// Takes a slot for `user_id` on this node alone; answers it and how many the user holds
    /// here with it.
    fn take_here(
        self: &Arc<Self>,
        user_id: i64,
        now: NaiveDateTime,
    ) -> Option<(SocketSlot, usize)> {
        let mut shard = self.shard(user_id);
        shard.takes_since_sweep += 1;
        if shard.takes_since_sweep >= SWEEP_EVERY {
            shard.takes_since_sweep = 0;
            // A budget left alone for a minute is full: forgetting it gives nothing away.
            shard
                .users
                .retain(|_, s| s.open > 0 || !s.budget.rested(now));
        }
        let share = shard.users.entry(user_id).or_insert_with(|| Share {
            open: 0,
            budget: Budget::new(&self.limits, now),
        });
        if share.open >= self.max_per_user {
            return None;
        }
        share.open += 1;
        let slot = SocketSlot {
            slots: self.clone(),
            user_id,
        };
        Some((slot, share.open))
    }

    /// The most sockets one user may hold.
    pub fn max_per_user(&self) -> usize {
        self.max_per_user
    }

    /// Runs `f` on the budget of `user_id` (who holds a slot, so it exists).
    fn with_budget<T>(
        &self,
        user_id: i64,
        f: impl FnOnce(&mut Budget, &FrameLimits) -> T,
        missing: T,
    ) -> T {
        match self.shard(user_id).users.get_mut(&user_id) {
            Some(share) => f(&mut share.budget, &self.limits),
            None => missing,
        }
    }
}

/// Keeping this node's counts recorded in the cluster's Redis.
impl SocketSlots {
    /// Notes that `user_id`'s count here changed, for [`SocketSlots::keep_recorded`].
    fn changed(&self, user_id: i64) {
        if let Some(shared) = &self.shared {
            shared.lock().users.insert(user_id);
            shared.wake.notify_one();
        }
    }

    /// Records every count of this node again (Redis was away: it may have restarted empty, or
    /// another node may have buried this one and deleted its counts).
    pub fn record_all_again(&self) {
        if let Some(shared) = &self.shared {
            shared.lock().all = true;
            shared.wake.notify_one();
        }
    }

    /// Records this node's changed counts in Redis as they change, for as long as it runs (in
    /// a cluster; without one it returns at once). Each round reads the counts as they are then, so the
    /// latest round always writes what this node holds. When Redis fails a round, every
    /// count is recorded again in the next one.
    pub async fn keep_recorded(self: Arc<Self>) {
        let Some(shared) = &self.shared else {
            return;
        };
        loop {
            shared.wake.notified().await;
            let Changed { users, all } = std::mem::take(&mut *shared.lock());
            let counts: Vec<(i64, usize)> = match all {
                true => self
                    .shards
                    .iter()
                    .flat_map(|shard| {
                        let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
                        let open = shard.users.iter().filter(|(_, s)| s.open > 0);
                        open.map(|(id, s)| (*id, s.open)).collect::<Vec<_>>()
                    })
                    .collect(),
                false => users.into_iter().map(|id| (id, self.open(id))).collect(),
            };
            if let Err(e) = shared.cluster.record_sockets(&counts, all).await {
                tracing::warn!(error = %e, "socket counts not recorded in Redis yet");
                shared.lock().all = true;
            }
        }
    }

    /// How many sockets `user_id` holds on this node.
    fn open(&self, user_id: i64) -> usize {
        self.shard(user_id)
            .users
            .get(&user_id)
            .map_or(0, |s| s.open)
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("node", &self.cluster.node())
            .field("changed", &self.changed)
            .finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Changed> {
        self.changed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SocketSlot {
    /// Charges one frame of `kind` to the user, or answers the seconds until one is allowed.
    pub fn take_frame(&self, kind: FrameKind, now: NaiveDateTime) -> Result<(), u64> {
        if self.slots.limits.of(kind) == u32::MAX {
            return Ok(());
        }
        self.slots
            .with_budget(self.user_id, |b, l| b.take(kind, l, now), Err(1))
    }

    /// Counts one refused frame against the user; `false` once they have used them all up.
    pub fn refuse(&self, now: NaiveDateTime) -> bool {
        self.slots
            .with_budget(self.user_id, |b, l| b.refuse(l, now), false)
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut shard = self.slots.shard(self.user_id);
        if let Some(share) = shard.users.get_mut(&self.user_id) {
            // The budget stays until it has rested (see the sweep in `take`).
            share.open = share.open.saturating_sub(1);
        }
        drop(shard);
        self.slots.changed(self.user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    impl SocketSlots {
        /// Takes a slot on this node (there is no cluster here).
        fn take_now(self: &Arc<Self>, user_id: i64, now: NaiveDateTime) -> Option<SocketSlot> {
            self.take_here(user_id, now).map(|(slot, _)| slot)
        }
    }

    fn now() -> NaiveDateTime {
        chrono::Utc::now().naive_utc()
    }

    #[test]
    fn caps_per_user_and_gives_back_on_drop() {
        let slots = Arc::new(SocketSlots::new(2, FrameLimits::default()));
        let t = now();
        let a = slots.take_now(1, t).unwrap();
        let _b = slots.take_now(1, t).unwrap();
        assert!(slots.take_now(1, t).is_none());
        assert!(
            slots.take_now(2, t).is_some(),
            "other users have their own slots"
        );
        drop(a);
        assert!(slots.take_now(1, t).is_some());
    }

    #[test]
    fn a_users_sockets_share_one_budget_that_outlives_them() {
        let slots = Arc::new(SocketSlots::new(10, FrameLimits::default()));
        let t = now();
        let (a, b) = (slots.take_now(1, t).unwrap(), slots.take_now(1, t).unwrap());
        // Typing bursts 15 per user, whichever socket sends them.
        for i in 0..15 {
            let via = if i % 2 == 0 { &a } else { &b };
            assert!(via.take_frame(FrameKind::Typing, t).is_ok());
        }
        assert!(a.take_frame(FrameKind::Typing, t).is_err());
        assert!(b.take_frame(FrameKind::Typing, t).is_err());
        // Another user is not charged.
        let c = slots.take_now(2, t).unwrap();
        assert!(c.take_frame(FrameKind::Typing, t).is_ok());
        // Closing every socket and coming back buys nothing.
        drop((a, b));
        let again = slots.take_now(1, t).unwrap();
        assert!(again.take_frame(FrameKind::Typing, t).is_err());
        // Refusals are the user's too: a reconnect does not reset them.
        while again.refuse(t) {}
        drop(again);
        assert!(!slots.take_now(1, t).unwrap().refuse(t));
        // Time refills the budget as usual.
        let later = t + TimeDelta::seconds(2);
        let s = slots.take_now(1, later).unwrap();
        assert!(s.take_frame(FrameKind::Typing, later).is_ok());
        assert!(s.refuse(later));
    }

    #[test]
    fn rested_budgets_of_users_without_sockets_are_forgotten() {
        let slots = Arc::new(SocketSlots::new(10, FrameLimits::default()));
        let t = now();
        drop(slots.take_now(1, t).unwrap());
        let held = slots.take_now(33, t).unwrap(); // also in user 1's shard
        let later = t + TimeDelta::minutes(2);
        for _ in 0..SWEEP_EVERY {
            drop(slots.take_now(17, later)); // user 17 shares user 1's shard
        }
        let shard = slots.shard(1);
        assert!(!shard.users.contains_key(&1), "rested and without sockets");
        assert!(shard.users.contains_key(&17), "just used");
        assert!(shard.users.contains_key(&33), "a socket is open");
        drop(shard);
        drop(held);
    }
}
