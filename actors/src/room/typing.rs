//! Typing indicators. A typist's state expires `typing_ttl` after their last refresh, and the
//! other members hear about it at most once per `typing_interval`: changes inside the interval
//! are coalesced, and at its end only the latest state is announced, if it differs from what
//! was last said. Whatever a client sends, a typist costs one event per member per interval.

use actix::prelude::*;
use chrono::NaiveDateTime;
use serde_json::json;

use super::{ChatRoom, Reply};
use crate::event::presence_channel;

/// One member's typing state.
#[derive(Debug)]
pub(super) struct Typist {
    /// Typing now (refreshed within `typing_ttl`).
    typing: bool,
    /// What the other members were last told.
    announced: bool,
    /// When they were last told (nothing more goes out before `typing_interval` after it).
    at: Option<NaiveDateTime>,
    /// The number of the last refresh: an expiry applies only if none came since.
    generation: u64,
    /// An announcement is scheduled for the end of the interval.
    flush_pending: bool,
}

impl ChatRoom {
    pub(super) fn typing(
        &mut self,
        user_id: i64,
        is_typing: bool,
        reply: Reply<()>,
        ctx: &mut Context<Self>,
    ) {
        if let Err(e) = self.member(user_id) {
            let _ = reply.send(Err(e));
            return;
        }
        let _ = reply.send(Ok(()));
        // Across a block, typing is not shown (nor does it reveal the block).
        if self.across_block(user_id).is_some() {
            return;
        }
        self.typing_generation += 1;
        let generation = self.typing_generation;
        let typist = self.typing.entry(user_id).or_insert(Typist {
            typing: false,
            announced: false,
            at: None,
            generation,
            flush_pending: false,
        });
        typist.typing = is_typing;
        typist.generation = generation;
        if is_typing {
            let expiry = self.engine.clock.sleep(self.engine.realtime.typing_ttl);
            ctx.spawn(expiry.into_actor(self).map(move |(), act, ctx| {
                let current = act.typing.get(&user_id).map(|t| t.generation);
                if current == Some(generation) {
                    act.stop_typing(user_id, ctx);
                }
            }));
        }
        self.flush_typing(user_id, ctx);
    }

    /// The member's typing state expired.
    fn stop_typing(&mut self, user_id: i64, ctx: &mut Context<Self>) {
        if let Some(t) = self.typing.get_mut(&user_id) {
            t.typing = false;
            self.flush_typing(user_id, ctx);
        }
    }

    /// The member sent a message: if the others think they are typing, they are told at once
    /// that they stopped (this costs the member a message, which has its own limit).
    pub(super) fn sent_by(&mut self, user_id: i64) {
        let now = self.engine.clock.now();
        if let Some(t) = self.typing.get_mut(&user_id) {
            t.typing = false;
            if t.announced {
                t.announced = false;
                t.at = Some(now);
                self.announce_typing(user_id, false);
            }
        }
    }

    /// The member left: if the others think they are typing, they are told at once.
    pub(super) fn forget_typist(&mut self, user_id: i64) {
        if let Some(t) = self.typing.remove(&user_id) {
            if t.announced {
                self.announce_typing(user_id, false);
            }
        }
    }

    /// Whether any typing state is still live (the room is not idle while it is).
    pub(super) fn typing_active(&self) -> bool {
        self.typing
            .values()
            .any(|t| t.typing || t.announced || t.flush_pending)
    }

    /// Announces the typist's state if it changed and the interval allows; otherwise makes
    /// sure an announcement is scheduled for the end of the interval.
    fn flush_typing(&mut self, user_id: i64, ctx: &mut Context<Self>) {
        let now = self.engine.clock.now();
        let interval = self.engine.realtime.typing_interval;
        let Some(t) = self.typing.get_mut(&user_id) else {
            return;
        };
        if t.typing == t.announced || t.flush_pending {
            if !t.typing && !t.announced && !t.flush_pending {
                // Quiet again: keep the entry only while its interval runs, so a typist
                // toggling on and off cannot restart the interval by being forgotten.
                let since = t.at.map(|at| (now - at).to_std().unwrap_or_default());
                if since.is_none_or(|s| s >= interval) {
                    self.typing.remove(&user_id);
                }
            }
            return;
        }
        let wait =
            t.at.map(|at| interval.saturating_sub((now - at).to_std().unwrap_or_default()))
                .unwrap_or_default();
        if wait.is_zero() {
            t.announced = t.typing;
            t.at = Some(now);
            let typing = t.typing;
            self.announce_typing(user_id, typing);
            return;
        }
        t.flush_pending = true;
        let later = self.engine.clock.sleep(wait);
        ctx.spawn(later.into_actor(self).map(move |(), act, ctx| {
            if let Some(t) = act.typing.get_mut(&user_id) {
                t.flush_pending = false;
                act.flush_typing(user_id, ctx);
            }
        }));
    }

    fn announce_typing(&self, user_id: i64, is_typing: bool) {
        let Some((_, user)) = self.members.get(&user_id) else {
            return;
        };
        let others: Vec<i64> = self
            .current_members()
            .into_iter()
            .filter(|u| *u != user_id)
            .collect();
        let data = json!({
            "chat_id": self.chat_id,
            "user": { "id": user.id, "name": user.name },
            "is_typing": is_typing,
        });
        self.publish(
            others,
            self.engine
                .event("user-typing", presence_channel(self.chat_id), None, data),
            None,
        );
    }
}
