//! The collector: one task receives every ack, refusal, delivery and close from the socket
//! readers, keeps the latency histograms and checks that every message reaches each of its
//! receivers exactly once and, per chat, in order.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, Result};
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::progress;
use crate::wire::Tag;

/// Microseconds since the run's origin.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant, SystemTime);

impl Clock {
    pub fn start() -> Clock {
        Clock(Instant::now(), SystemTime::now())
    }

    pub fn now_us(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// The instant `us` microseconds after the origin.
    pub fn at(&self, us: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.0 + Duration::from_micros(us))
    }

    /// The UTC time of day `us` microseconds after the origin, as `HH:MM:SS.mmm`: what the
    /// server's log lines show, to find what it did at a slow moment of the run.
    pub fn utc(&self, us: u64) -> String {
        let at = self.1 + Duration::from_micros(us);
        let ms = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() % 86_400_000);
        let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60);
        format!("{h:02}:{m:02}:{s:02}.{:03}", ms % 1000)
    }
}

/// How long a window of send times is, for [`Outcome::slowest`].
pub const WINDOW_US: u64 = 100_000;

/// The messages sent within one window of [`WINDOW_US`]: the slowest answer and copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// When the window starts, µs after the clock's origin.
    pub start_us: u64,
    pub ack_max_us: u64,
    pub deliver_max_us: u64,
}

/// The `n` windows with the slowest copies (or answers, for copies alike), slowest first.
fn slowest(windows: &HashMap<u64, Window>, n: usize) -> Vec<Window> {
    let mut all: Vec<Window> = windows.values().copied().collect();
    all.sort_by_key(|w| std::cmp::Reverse((w.deliver_max_us, w.ack_max_us, w.start_us)));
    all.truncate(n);
    all
}

/// A latency histogram: 1 µs to one hour, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // unwrap: constant bounds that hdrhistogram accepts.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap()
}

/// What the readers report.
#[derive(Debug)]
pub enum Event {
    Ack {
        tag: Tag,
        at_us: u64,
    },
    Refused {
        of: Option<(u32, u64)>,
        code: String,
        message: String,
    },
    Delivery {
        socket: u32,
        chat: i64,
        id: i64,
        tag: Tag,
        at_us: u64,
    },
    Closed {
        socket: u32,
        reason: String,
    },
    /// Starts the latencies (and slow moments) over: what came before was a warm-up. Its
    /// messages are still checked, and its send → ack latencies kept apart.
    ResetLatencies,
    Stop,
}

/// Running totals, watched by the scenarios and the progress line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub acked: u64,
    pub refused: u64,
    pub delivered: u64,
    pub closed: u64,
}

/// A set of sequence numbers 0, 1, 2, …
#[derive(Default)]
struct Seqs(Vec<bool>);

impl Seqs {
    /// Adds `seq`; false if it was there already.
    fn insert(&mut self, seq: u64) -> bool {
        let i = usize::try_from(seq).unwrap_or(usize::MAX);
        if i >= self.0.len() {
            self.0.resize(i + 1, false);
        }
        !std::mem::replace(&mut self.0[i], true)
    }

    fn contains(&self, seq: u64) -> bool {
        usize::try_from(seq)
            .ok()
            .and_then(|i| self.0.get(i).copied())
            .unwrap_or(false)
    }
}

/// What one receiving socket got of one sender's messages.
#[derive(Default)]
struct Received {
    seen: Seqs,
    max_seq: Option<u64>,
}

#[derive(Default)]
struct State {
    counts: Counts,
    acked: HashMap<u32, Seqs>,
    refused: HashMap<u32, Seqs>,
    received: HashMap<(u32, u32), Received>,
    last_id: HashMap<(u32, i64), i64>,
    /// Per (sender, seq): copies received and the latest copy's latency.
    copies: HashMap<(u32, u64), (u32, u64)>,
    duplicates: u64,
    out_of_order: u64,
    ack: Option<Histogram<u64>>,
    deliver: Option<Histogram<u64>>,
    /// The warm-up's send → ack, once the latencies started over.
    warm_up_ack: Option<Histogram<u64>>,
    /// By window of send times (see [`WINDOW_US`]).
    windows: HashMap<u64, Window>,
    closes: Vec<String>,
}

/// The outcome of a run's messages.
pub struct Outcome {
    pub ack: Histogram<u64>,
    pub deliver: Histogram<u64>,
    /// Per message: send → the last of its receivers has it (complete messages only).
    pub last_copy: Histogram<u64>,
    /// The warm-up's send → ack, if there was one: its chats' first messages, which start
    /// their rooms.
    pub warm_up_ack: Option<Histogram<u64>>,
    pub missing_acks: u64,
    pub missing_copies: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub refused: u64,
    pub closes: Vec<String>,
    /// The three windows of send times whose messages waited longest, slowest first: where
    /// a run's tail comes from, to be set beside what the server did then.
    pub slowest: Vec<Window>,
}

/// Events the collector takes off its queue at once.
const EVENTS_AT_ONCE: usize = 1024;

/// The collector task and how to reach it.
pub struct Collector {
    tx: mpsc::UnboundedSender<Event>,
    counts: watch::Receiver<Counts>,
    task: JoinHandle<State>,
}

impl Collector {
    pub fn start() -> Collector {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (counts_tx, counts) = watch::channel(Counts::default());
        let task = tokio::spawn(async move {
            let mut s = State {
                ack: Some(histogram()),
                deliver: Some(histogram()),
                ..State::default()
            };
            let mut refusals_shown = 0;
            // Everything queued is taken at once and the totals published once for it: a
            // publish per event woke every waiter per copy, which cost this process more CPU
            // than the server's fan-out it measures.
            let mut events = Vec::with_capacity(EVENTS_AT_ONCE);
            while rx.recv_many(&mut events, EVENTS_AT_ONCE).await > 0 {
                for e in events.drain(..) {
                    if matches!(e, Event::Stop) {
                        return s;
                    }
                    s.apply(e, &mut refusals_shown);
                }
                counts_tx.send_replace(s.counts);
            }
            s
        });
        Collector { tx, counts, task }
    }

    /// Where readers send their events.
    pub fn sender(&self) -> mpsc::UnboundedSender<Event> {
        self.tx.clone()
    }

    pub fn counts(&self) -> Counts {
        *self.counts.borrow()
    }

    /// The running totals, for a progress line.
    pub fn watch(&self) -> watch::Receiver<Counts> {
        self.counts.clone()
    }

    /// Waits until `done` holds or `timeout` passes; true if it holds.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&Counts) -> bool) -> bool {
        let mut rx = self.counts.clone();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|c| done(c)))
            .await
            .is_ok_and(|r| r.is_ok());
        reached
    }

    /// Stops the collector and checks every message: `sent[s]` messages of sender `s` were
    /// sent, each meant for the sockets `audience[s]`.
    pub async fn finish(self, sent: &[u64], audience: &[Vec<u32>]) -> Result<Outcome> {
        self.tx
            .send(Event::Stop)
            .map_err(|_| anyhow!("the collector stopped early"))?;
        let mut s = self
            .task
            .await
            .map_err(|e| anyhow!("collector task: {e}"))?;
        let mut last_copy = histogram();
        let (mut missing_acks, mut missing_copies) = (0, 0);
        let empty = Seqs::default();
        for (sender, (&count, receivers)) in sent.iter().zip(audience).enumerate() {
            let sender = u32::try_from(sender)?;
            let acked = s.acked.get(&sender).unwrap_or(&empty);
            let refused = s.refused.get(&sender).unwrap_or(&empty);
            for seq in 0..count {
                if refused.contains(seq) {
                    continue;
                }
                if !acked.contains(seq) {
                    missing_acks += 1;
                }
                let got = receivers
                    .iter()
                    .filter(|r| {
                        s.received
                            .get(&(**r, sender))
                            .is_some_and(|x| x.seen.contains(seq))
                    })
                    .count();
                missing_copies += (receivers.len() - got) as u64;
                if got == receivers.len() && got > 0 {
                    if let Some((_, latest)) = s.copies.get(&(sender, seq)) {
                        last_copy.saturating_record((*latest).max(1));
                    }
                }
            }
        }
        Ok(Outcome {
            ack: s.ack.take().unwrap_or_else(histogram),
            deliver: s.deliver.take().unwrap_or_else(histogram),
            last_copy,
            warm_up_ack: s.warm_up_ack.take(),
            missing_acks,
            missing_copies,
            duplicates: s.duplicates,
            out_of_order: s.out_of_order,
            refused: s.counts.refused,
            closes: s.closes,
            slowest: slowest(&s.windows, 3),
        })
    }
}

impl State {
    fn apply(&mut self, e: Event, refusals_shown: &mut u32) {
        match e {
            Event::Ack { tag, at_us } => {
                if !self.acked.entry(tag.sender).or_default().insert(tag.seq) {
                    self.duplicates += 1;
                    return;
                }
                self.counts.acked += 1;
                let latency = at_us.saturating_sub(tag.sent_us).max(1);
                if let Some(h) = &mut self.ack {
                    h.saturating_record(latency);
                }
                let w = self.window(tag.sent_us);
                w.ack_max_us = w.ack_max_us.max(latency);
            }
            Event::Refused { of, code, message } => {
                self.counts.refused += 1;
                if let Some((sender, seq)) = of {
                    self.refused.entry(sender).or_default().insert(seq);
                }
                if *refusals_shown < 10 {
                    *refusals_shown += 1;
                    let which = of.map_or(String::new(), |(s, q)| format!(" (sender {s}, #{q})"));
                    progress::line(format!("refused{which}: {code}: {message}"));
                }
            }
            Event::Delivery {
                socket,
                chat,
                id,
                tag,
                at_us,
            } => self.delivery(socket, chat, id, tag, at_us),
            Event::Closed { socket, reason } => {
                self.counts.closed += 1;
                if self.closes.len() < 10 {
                    progress::line(format!("socket {socket} closed: {reason}"));
                    self.closes.push(format!("socket {socket}: {reason}"));
                }
            }
            Event::ResetLatencies => {
                self.warm_up_ack = self.ack.replace(histogram());
                self.deliver = Some(histogram());
                self.windows.clear();
            }
            Event::Stop => {}
        }
    }

    fn delivery(&mut self, socket: u32, chat: i64, id: i64, tag: Tag, at_us: u64) {
        let r = self.received.entry((socket, tag.sender)).or_default();
        if !r.seen.insert(tag.seq) {
            self.duplicates += 1;
            return;
        }
        let behind_seq = r.max_seq.is_some_and(|m| tag.seq < m);
        r.max_seq = Some(r.max_seq.map_or(tag.seq, |m| m.max(tag.seq)));
        let last = self.last_id.entry((socket, chat)).or_insert(id);
        let behind_id = id < *last;
        *last = (*last).max(id);
        if behind_seq || behind_id {
            self.out_of_order += 1;
        }
        self.counts.delivered += 1;
        let latency = at_us.saturating_sub(tag.sent_us).max(1);
        if let Some(h) = &mut self.deliver {
            h.saturating_record(latency);
        }
        let c = self.copies.entry((tag.sender, tag.seq)).or_insert((0, 0));
        c.0 += 1;
        c.1 = c.1.max(latency);
        let w = self.window(tag.sent_us);
        w.deliver_max_us = w.deliver_max_us.max(latency);
    }

    /// The window of messages sent at `sent_us`.
    fn window(&mut self, sent_us: u64) -> &mut Window {
        let start_us = sent_us / WINDOW_US * WINDOW_US;
        self.windows.entry(start_us).or_insert(Window {
            start_us,
            ..Window::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(sender: u32, seq: u64) -> Tag {
        Tag {
            sender,
            seq,
            sent_us: 10,
        }
    }

    #[tokio::test]
    async fn counts_missing_duplicates_and_order() {
        let c = Collector::start();
        let tx = c.sender();
        let deliver = |seq, id| Event::Delivery {
            socket: 1,
            chat: 5,
            id,
            tag: tag(0, seq),
            at_us: 20,
        };
        for seq in 0..4 {
            tx.send(Event::Ack {
                tag: tag(0, seq),
                at_us: 15,
            })
            .unwrap();
        }
        tx.send(deliver(0, 100)).unwrap();
        tx.send(deliver(2, 102)).unwrap();
        tx.send(deliver(1, 101)).unwrap(); // out of order
        tx.send(deliver(1, 101)).unwrap(); // duplicate
        let o = c.finish(&[4], &[vec![1]]).await.unwrap();
        assert_eq!(o.missing_copies, 1); // seq 3
        assert_eq!(o.missing_acks, 0);
        assert_eq!(o.duplicates, 1);
        assert_eq!(o.out_of_order, 1);
        assert_eq!(o.deliver.len(), 3);
        assert_eq!(o.last_copy.len(), 3);
    }

    #[tokio::test]
    async fn names_the_windows_whose_messages_waited_longest() {
        let c = Collector::start();
        let tx = c.sender();
        // Three windows; the middle one's copy took 50 ms, the others' 1 and 2 ms.
        for (seq, sent_us, took_us) in [(0, 10, 1_000), (1, 150_000, 50_000), (2, 250_000, 2_000)] {
            let tag = Tag {
                sender: 0,
                seq,
                sent_us,
            };
            tx.send(Event::Ack {
                tag,
                at_us: sent_us + 500,
            })
            .unwrap();
            tx.send(Event::Delivery {
                socket: 1,
                chat: 5,
                id: 100 + seq as i64,
                tag,
                at_us: sent_us + took_us,
            })
            .unwrap();
        }
        let o = c.finish(&[3], &[vec![1]]).await.unwrap();
        let starts: Vec<u64> = o.slowest.iter().map(|w| w.start_us).collect();
        assert_eq!(starts, [100_000, 200_000, 0]);
        assert_eq!(o.slowest[0].deliver_max_us, 50_000);
        assert_eq!(o.slowest[0].ack_max_us, 500);
    }

    #[tokio::test]
    async fn a_warm_up_is_checked_but_not_timed() {
        let c = Collector::start();
        let tx = c.sender();
        let both = |seq, sent_us, at_us| {
            let tag = Tag {
                sender: 0,
                seq,
                sent_us,
            };
            [
                Event::Ack { tag, at_us },
                Event::Delivery {
                    socket: 1,
                    chat: 5,
                    id: 100 + seq as i64,
                    tag,
                    at_us,
                },
            ]
        };
        // The warm-up's message took 90 ms; the timed one 2 ms.
        for e in both(0, 0, 90_000) {
            tx.send(e).unwrap();
        }
        tx.send(Event::ResetLatencies).unwrap();
        for e in both(1, 100_000, 102_000) {
            tx.send(e).unwrap();
        }
        let o = c.finish(&[2], &[vec![1]]).await.unwrap();
        assert_eq!((o.ack.len(), o.ack.max()), (1, 2_000));
        assert_eq!((o.deliver.len(), o.deliver.max()), (1, 2_000));
        let warm_up = o.warm_up_ack.expect("the warm-up's latencies");
        assert_eq!(warm_up.len(), 1);
        assert!(
            warm_up.equivalent(warm_up.max(), 90_000),
            "{}",
            warm_up.max()
        );
        assert_eq!(o.slowest.len(), 1);
        assert_eq!(
            (o.missing_acks, o.missing_copies, o.out_of_order),
            (0, 0, 0)
        );
    }

    #[test]
    fn utc_time_of_day() {
        let clock = Clock(
            Instant::now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 + 3_723),
        );
        assert_eq!(clock.utc(4_000), "01:02:03.004");
    }
}
