//! Membership changes that take effect on every node before the request that made them is
//! answered: the node broadcasts the reload with a number, and each other live node answers
//! once the reload is queued ahead of any later command for the chat.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::wire::Body;
use super::Cluster;

/// A reload waiting for nodes: those yet to answer, and whom to tell when none is left.
type Waiting = (HashSet<String>, oneshot::Sender<()>);

/// Reloads waiting for nodes to answer, by number.
#[derive(Default)]
pub(super) struct Reloads {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, Waiting>>,
}

impl Reloads {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waiting>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Cluster {
    /// Tells every other node that chat `chat_id`'s members or blocks changed; resolves once
    /// each live node has the reload queued, or after the forward timeout (a node that died
    /// meanwhile; with Redis away, at once: realtime across nodes is paused anyway).
    pub async fn reload_everywhere(&self, chat_id: i64) {
        let others: HashSet<String> = self
            .nodes()
            .iter()
            .filter(|n| **n != self.node)
            .cloned()
            .collect();
        if others.is_empty() || !self.is_up() {
            return self.broadcast(Body::Reload {
                chat_id,
                request: None,
            });
        }
        let request = self.reloads.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.reloads.waiting().insert(request, (others, tx));
        self.broadcast(Body::Reload {
            chat_id,
            request: Some(request),
        });
        if tokio::time::timeout(self.forward_timeout, rx)
            .await
            .is_err()
        {
            tracing::warn!(
                chat_id,
                "not every node confirmed a membership change in time"
            );
        }
        self.reloads.waiting().remove(&request);
    }

    /// Node `from` has reload `request` queued.
    pub(super) fn reloaded(&self, from: &str, request: u64) {
        let mut waiting = self.reloads.waiting();
        let done = waiting.get_mut(&request).is_some_and(|(left, _)| {
            left.remove(from);
            left.is_empty()
        });
        if done {
            if let Some((_, tx)) = waiting.remove(&request) {
                let _ = tx.send(());
            }
        }
    }
}
