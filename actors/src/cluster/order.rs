//! A chat's new messages in order on every node. Each node publishes the messages its own
//! rooms stored, so two messages of one chat sent through different nodes can reach a third
//! node (or come back to the first) in the other order than they were stored. Every new
//! message names the chat's newest message when it was stored ([`Order::after`](crate::bus::Order::after); a chat's
//! messages commit in id order, the writers taking turns on the chat's row), so a node
//! delivers a message once the one before it in its chat has been delivered here, holding it
//! meanwhile.
//!
//! A message is held for at most [`WAIT`]: the one before it may never come (its node lost
//! Redis or died before publishing; clients catch up with `sync`). A message older than what
//! a chat already delivered here, or of a chat this node has not delivered anything of yet,
//! is delivered at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::bus::Delivery;

/// Longest a message waits for the one before it.
pub const WAIT: Duration = Duration::from_millis(250);

/// How often held messages are looked at (see [`Sequencer::expire`]).
pub const TICK: Duration = Duration::from_millis(50);

/// A chat nothing has happened in for this long is forgotten.
const IDLE: Duration = Duration::from_secs(300);

/// Chats are spread over this many locks.
const SHARDS: usize = 16;

/// The per-chat order of one node; see the module docs.
pub struct Sequencer {
    shards: Box<[Mutex<Shard>]>,
}

struct Shard {
    chats: HashMap<i64, Chat>,
    swept: Option<Instant>,
}

struct Chat {
    /// The newest message delivered here.
    last: i64,
    /// Messages waiting for the one before them, by id.
    held: BTreeMap<i64, Held>,
    touched: Instant,
}

struct Held {
    after: i64,
    since: Instant,
    delivery: Delivery,
}

impl Default for Sequencer {
    fn default() -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    chats: HashMap::new(),
                    swept: None,
                })
            })
            .collect();
        Sequencer { shards }
    }
}

impl Chat {
    /// Delivers the held messages whose turn has come.
    fn release(&mut self, deliver: &impl Fn(&Delivery)) {
        while let Some(entry) = self.held.first_entry() {
            let (id, held) = (*entry.key(), entry.get());
            if held.after > self.last && id > self.last {
                return;
            }
            let held = entry.remove();
            deliver(&held.delivery);
            self.last = self.last.max(id);
        }
    }
}

impl Sequencer {
    fn shard(&self, chat_id: i64) -> std::sync::MutexGuard<'_, Shard> {
        let i = chat_id.rem_euclid(SHARDS as i64) as usize;
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands `delivery` to `deliver` now, or once the message before it in its chat has been
    /// delivered (at most [`WAIT`] later, through [`Sequencer::expire`]). Deliveries that are
    /// not new messages go at once.
    pub fn offer(&self, delivery: Delivery, now: Instant, deliver: impl Fn(&Delivery)) {
        let Some(order) = delivery.order else {
            return deliver(&delivery);
        };
        let mut shard = self.shard(order.chat_id);
        let chat = shard.chats.entry(order.chat_id).or_insert_with(|| Chat {
            last: order.id - 1,
            held: BTreeMap::new(),
            touched: now,
        });
        chat.touched = now;
        if order.id <= chat.last {
            // Late (its turn was given up) or repeated: better late than never.
            return deliver(&delivery);
        }
        let after = order.after.unwrap_or(i64::MIN);
        if after > chat.last && chat.last != order.id - 1 {
            chat.held.insert(
                order.id,
                Held {
                    after,
                    since: now,
                    delivery,
                },
            );
            return;
        }
        deliver(&delivery);
        chat.last = order.id;
        chat.release(&deliver);
    }

    /// Gives up waiting for what held messages wait for past [`WAIT`], delivering them (and
    /// what follows them) in order; now and then forgets chats gone quiet.
    pub fn expire(&self, now: Instant, deliver: impl Fn(&Delivery)) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for chat in shard.chats.values_mut() {
                while let Some(entry) = chat.held.first_entry() {
                    if now.saturating_duration_since(entry.get().since) < WAIT {
                        break;
                    }
                    let (id, held) = entry.remove_entry();
                    deliver(&held.delivery);
                    chat.last = chat.last.max(id);
                    chat.release(&deliver);
                }
            }
            if shard
                .swept
                .is_none_or(|t| now.saturating_duration_since(t) >= IDLE)
            {
                shard.swept = Some(now);
                shard.chats.retain(|_, c| {
                    !c.held.is_empty() || now.saturating_duration_since(c.touched) < IDLE
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::bus::Order;
    use crate::event::Event;

    fn message(chat_id: i64, id: i64, after: Option<i64>) -> Delivery {
        Delivery {
            users: vec![1],
            event: Event::new(
                "new-message",
                format!("private-chat.{chat_id}"),
                None,
                id.into(),
            ),
            skip: None,
            only: None,
            order: Some(Order { chat_id, id, after }),
        }
    }

    /// Offers `(chat, id, after)` in turn at `now`; answers the ids delivered, in order.
    fn run(s: &Sequencer, now: Instant, messages: &[(i64, i64, Option<i64>)]) -> Vec<i64> {
        let got = RefCell::new(Vec::new());
        for &(chat, id, after) in messages {
            s.offer(message(chat, id, after), now, |d| {
                got.borrow_mut().push(d.order.unwrap().id)
            });
        }
        got.into_inner()
    }

    #[test]
    fn a_message_waits_for_the_one_before_it_in_its_chat() {
        let s = Sequencer::default();
        let t = Instant::now();
        assert_eq!(run(&s, t, &[(1, 10, Some(3))]), vec![10]);
        // 12 (after 11) comes first, then 13 of another chat, then 11: 11 and 12 go in order.
        assert_eq!(run(&s, t, &[(1, 12, Some(11)), (2, 13, Some(5))]), vec![13]);
        assert_eq!(run(&s, t, &[(1, 11, Some(10))]), vec![11, 12]);
        // A chain of three arriving backwards.
        assert_eq!(
            run(&s, t, &[(1, 16, Some(15)), (1, 15, Some(14))]),
            Vec::<i64>::new()
        );
        assert_eq!(run(&s, t, &[(1, 14, Some(12))]), vec![14, 15, 16]);
        // Not a new message: at once.
        let got = RefCell::new(0);
        let mut other = message(1, 99, None);
        other.order = None;
        s.offer(other, t, |_| *got.borrow_mut() += 1);
        assert_eq!(got.into_inner(), 1);
    }

    #[test]
    fn a_message_whose_predecessor_never_comes_goes_after_the_wait_and_a_late_one_still_goes() {
        let s = Sequencer::default();
        let t = Instant::now();
        assert_eq!(run(&s, t, &[(1, 10, None)]), vec![10]);
        assert_eq!(
            run(&s, t, &[(1, 13, Some(12)), (1, 14, Some(13))]),
            Vec::<i64>::new()
        );
        let got = RefCell::new(Vec::new());
        let collect = |d: &Delivery| got.borrow_mut().push(d.order.unwrap().id);
        s.expire(t + WAIT / 2, collect);
        assert!(got.borrow().is_empty(), "released before the wait");
        s.expire(t + WAIT, collect);
        assert_eq!(got.into_inner(), vec![13, 14]);
        // 12 finally arrives: delivered, late.
        assert_eq!(run(&s, t + WAIT, &[(1, 12, Some(10))]), vec![12]);
        assert_eq!(run(&s, t + WAIT, &[(1, 15, Some(14))]), vec![15]);
    }

    #[test]
    fn quiet_chats_are_forgotten_and_start_afresh() {
        let s = Sequencer::default();
        let t = Instant::now();
        assert_eq!(run(&s, t, &[(1, 10, None)]), vec![10]);
        s.expire(t, |_| {});
        s.expire(t + IDLE, |_| {});
        let chats: usize = s.shards.iter().map(|m| m.lock().unwrap().chats.len()).sum();
        assert_eq!(chats, 0);
        // Afresh: the first message seen goes at once, whatever it follows.
        assert_eq!(run(&s, t + IDLE, &[(1, 20, Some(19))]), vec![20]);
    }
}
