//! Socket slots: how many sockets each user holds open, capped per user. A slot is taken
//! before a WebSocket is upgraded (so a user over the cap gets a clear refusal, not a socket)
//! and given back when the session that holds it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open sockets per user; see the module docs.
#[derive(Debug)]
pub struct SocketSlots {
    max_per_user: usize,
    open: Mutex<HashMap<i64, usize>>,
}

/// One open socket's place, given back on drop.
#[derive(Debug)]
pub struct SocketSlot {
    slots: Arc<SocketSlots>,
    user_id: i64,
}

impl SocketSlots {
    pub fn new(max_per_user: usize) -> Self {
        SocketSlots {
            max_per_user,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a slot for `user_id`, or `None` if they already hold the most allowed.
    pub fn take(self: &Arc<Self>, user_id: i64) -> Option<SocketSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(user_id).or_insert(0);
        if *n >= self.max_per_user {
            return None;
        }
        *n += 1;
        Some(SocketSlot {
            slots: self.clone(),
            user_id,
        })
    }

    /// The most sockets one user may hold.
    pub fn max_per_user(&self) -> usize {
        self.max_per_user
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_user_and_gives_back_on_drop() {
        let slots = Arc::new(SocketSlots::new(2));
        let a = slots.take(1).unwrap();
        let _b = slots.take(1).unwrap();
        assert!(slots.take(1).is_none());
        assert!(slots.take(2).is_some(), "other users have their own slots");
        drop(a);
        assert!(slots.take(1).is_some());
    }
}
