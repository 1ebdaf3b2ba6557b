//! Time as the server sees it: the system clock in production, a manual clock in tests.
//!
//! Everything time-dependent (OTP and token expiry, typing indicators, ring timeouts, status
//! expiry, rate-limit windows) reads [`Clock::now`] and waits with [`Clock::sleep_until`], so a
//! test can move time forward with [`Clock::advance`] instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::oneshot;

/// A shared clock; cloning is cheap and clones see the same time.
#[derive(Clone)]
pub struct Clock(Arc<Inner>);

enum Inner {
    System,
    Manual(Mutex<Manual>),
}

struct Manual {
    now: NaiveDateTime,
    sleepers: Vec<(NaiveDateTime, oneshot::Sender<()>)>,
}

/// Truncates to whole milliseconds: what both databases store exactly and what JSON shows.
fn to_millis(t: NaiveDateTime) -> NaiveDateTime {
    DateTime::from_timestamp_millis(t.and_utc().timestamp_millis())
        .map(|d| d.naive_utc())
        .unwrap_or(t)
}

impl Clock {
    /// The real clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Inner::System))
    }

    /// A clock that stands still until [`advance`](Clock::advance) moves it.
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock(Arc::new(Inner::Manual(Mutex::new(Manual {
            now: to_millis(start.naive_utc()),
            sleepers: Vec::new(),
        }))))
    }

    /// Whether this is a manual (test) clock.
    pub fn is_manual(&self) -> bool {
        matches!(*self.0, Inner::Manual(_))
    }

    /// Current UTC time, to the millisecond.
    pub fn now(&self) -> NaiveDateTime {
        match &*self.0 {
            Inner::System => to_millis(Utc::now().naive_utc()),
            Inner::Manual(m) => lock(m).now,
        }
    }

    /// Current time as a `DateTime<Utc>`.
    pub fn now_utc(&self) -> DateTime<Utc> {
        self.now().and_utc()
    }

    /// Resolves once the clock reads `at` or later.
    pub fn sleep_until(&self, at: NaiveDateTime) -> BoxFuture<'static, ()> {
        match &*self.0 {
            Inner::System => {
                let wait = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
                tokio::time::sleep(wait).boxed()
            }
            Inner::Manual(m) => {
                let mut m = lock(m);
                if m.now >= at {
                    return futures_util::future::ready(()).boxed();
                }
                let (tx, rx) = oneshot::channel();
                m.sleepers.push((at, tx));
                // A dropped clock never fires: treat as "never", which a test would notice.
                rx.map(|_| ()).boxed()
            }
        }
    }

    /// Resolves after `d` has passed on this clock.
    pub fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let at = self.now() + TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        self.sleep_until(at)
    }

    /// Moves a manual clock forward and wakes whoever waits for a time now reached.
    /// On the system clock this does nothing.
    pub fn advance(&self, d: Duration) {
        if let Inner::Manual(m) = &*self.0 {
            let mut m = lock(m);
            m.now += TimeDelta::from_std(d).unwrap_or(TimeDelta::zero());
            let now = m.now;
            let (due, waiting): (Vec<_>, Vec<_>) =
                m.sleepers.drain(..).partition(|(at, _)| *at <= now);
            m.sleepers = waiting;
            drop(m);
            for (_, tx) in due {
                let _ = tx.send(());
            }
        }
    }
}

fn lock(m: &Mutex<Manual>) -> std::sync::MutexGuard<'_, Manual> {
    // A poisoned clock only means a test panicked while holding it; the time is still valid.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_when_advanced() {
        let clock = Clock::manual(DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        let start = clock.now();
        let sleeper = tokio::spawn(clock.sleep(Duration::from_secs(45)));
        clock.advance(Duration::from_secs(44));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1));
        sleeper.await.unwrap();
        assert_eq!(clock.now() - start, TimeDelta::seconds(45));
    }
}
