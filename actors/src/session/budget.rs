//! Frame budgets: a token bucket for each kind of client frame, and one for refusals; a user's
//! sockets share one budget (see [`super::slots`]). A frame bucket holds a quarter of a
//! minute's allowance and refills continuously, so a client may burst briefly but never
//! sustain more than its per-minute rate. A client whose frames keep being refused (over a
//! limit, malformed, naming chats it is not in) runs out of refusals (a third of a minute's
//! worth at first, a minute's worth at most) and is disconnected: what an account costs the
//! server stays bounded whatever it sends.
//!
//! `send-message` has no bucket here: messages are limited per user, over every device and
//! REST together (`limits.messages_per_minute`), which is stricter.

use chrono::NaiveDateTime;

use crate::protocol::FrameKind;

/// Allowances per user (all their sockets together), per minute (from `[realtime.frames_per_minute]`).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameLimits {
    /// Frames of each kind, indexed by [`FrameKind::index`] (`u32::MAX`: no limit here).
    pub per_minute: [u32; FrameKind::COUNT],
    /// `error` answers a user's sockets may cause before the one causing the next is closed (4029).
    pub refusals_per_minute: u32,
}

impl FrameLimits {
    pub fn of(&self, kind: FrameKind) -> u32 {
        self.per_minute[kind.index()]
    }
}

impl Default for FrameLimits {
    fn default() -> Self {
        let mut per_minute = [0; FrameKind::COUNT];
        for kind in FrameKind::ALL {
            per_minute[kind.index()] = match kind {
                FrameKind::SendMessage => u32::MAX,
                FrameKind::Typing => 60,
                FrameKind::Read => 120,
                FrameKind::Delivered => 120,
                FrameKind::Sync => 60,
                FrameKind::Ping => 60,
                FrameKind::Call => 30,
                FrameKind::CallSignal => 600,
                FrameKind::Presence => 60,
            };
        }
        FrameLimits {
            per_minute,
            refusals_per_minute: 60,
        }
    }
}

/// A frame bucket's size: a quarter of a minute's allowance, at least one.
fn capacity(per_minute: u32) -> f32 {
    (per_minute as f32 / 4.0).max(1.0)
}

/// The refusal bucket's size: a minute's allowance, so a client that makes a few mistakes in a
/// row (a stale chat list, say) is answered, not disconnected.
fn refusal_capacity(per_minute: u32) -> f32 {
    (per_minute as f32).max(1.0)
}

/// One user's buckets.
#[derive(Debug)]
pub struct Budget {
    tokens: [f32; FrameKind::COUNT],
    refusals: f32,
    at: NaiveDateTime,
}

impl Budget {
    /// Full buckets.
    pub fn new(limits: &FrameLimits, now: NaiveDateTime) -> Self {
        let mut tokens = [0.0; FrameKind::COUNT];
        for kind in FrameKind::ALL {
            tokens[kind.index()] = capacity(limits.of(kind));
        }
        Budget {
            tokens,
            // A new budget has earned no trust yet: it starts with twenty seconds' worth
            // of refusals, and saves up to a minute's worth while it behaves.
            refusals: refusal_capacity(limits.refusals_per_minute) / 3.0,
            at: now,
        }
    }

    fn refill(&mut self, limits: &FrameLimits, now: NaiveDateTime) {
        let secs = (now - self.at).num_milliseconds() as f32 / 1000.0;
        if secs <= 0.0 {
            return;
        }
        self.at = now;
        for kind in FrameKind::ALL {
            let rate = limits.of(kind);
            let t = &mut self.tokens[kind.index()];
            *t = (*t + secs * rate as f32 / 60.0).min(capacity(rate));
        }
        let rate = limits.refusals_per_minute;
        self.refusals = (self.refusals + secs * rate as f32 / 60.0).min(refusal_capacity(rate));
    }

    /// Takes one frame of `kind`, or answers the seconds until one is allowed.
    pub fn take(
        &mut self,
        kind: FrameKind,
        limits: &FrameLimits,
        now: NaiveDateTime,
    ) -> Result<(), u64> {
        if limits.of(kind) == u32::MAX {
            return Ok(());
        }
        self.refill(limits, now);
        let t = &mut self.tokens[kind.index()];
        if *t >= 1.0 {
            *t -= 1.0;
            return Ok(());
        }
        let rate = limits.of(kind).max(1) as f32 / 60.0;
        Err(((1.0 - *t) / rate).ceil().max(1.0) as u64)
    }

    /// Untouched for a minute, so every bucket is full again: as good as a new budget.
    pub fn rested(&self, now: NaiveDateTime) -> bool {
        now - self.at >= chrono::TimeDelta::minutes(1)
    }

    /// Counts one refusal; `false` once they are all used up.
    pub fn refuse(&mut self, limits: &FrameLimits, now: NaiveDateTime) -> bool {
        self.refill(limits, now);
        if self.refusals >= 1.0 {
            self.refusals -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn bursts_a_quarter_minute_then_follows_the_rate() {
        let limits = FrameLimits::default(); // typing: 60 a minute, bursts of 15
        let t0 = chrono::Utc::now().naive_utc();
        let mut b = Budget::new(&limits, t0);
        for _ in 0..15 {
            assert!(b.take(FrameKind::Typing, &limits, t0).is_ok());
        }
        assert_eq!(b.take(FrameKind::Typing, &limits, t0), Err(1));
        // Other kinds keep their own allowance.
        assert!(b.take(FrameKind::Read, &limits, t0).is_ok());
        // One typing frame a second comes back.
        let t1 = t0 + TimeDelta::seconds(1);
        assert!(b.take(FrameKind::Typing, &limits, t1).is_ok());
        assert!(b.take(FrameKind::Typing, &limits, t1).is_err());
        // A long pause refills to the burst, not beyond.
        let t2 = t1 + TimeDelta::minutes(10);
        for _ in 0..15 {
            assert!(b.take(FrameKind::Typing, &limits, t2).is_ok());
        }
        assert!(b.take(FrameKind::Typing, &limits, t2).is_err());
    }

    #[test]
    fn refusals_run_out() {
        let limits = FrameLimits::default(); // 60 a minute: 20 at first, a minute's worth saved up
        let t0 = chrono::Utc::now().naive_utc();
        let mut b = Budget::new(&limits, t0);
        for _ in 0..20 {
            assert!(b.refuse(&limits, t0));
        }
        assert!(!b.refuse(&limits, t0));
        assert!(b.refuse(&limits, t0 + TimeDelta::seconds(1)));
        let later = t0 + TimeDelta::minutes(5);
        for _ in 0..60 {
            assert!(b.refuse(&limits, later));
        }
        assert!(!b.refuse(&limits, later));
    }
}
