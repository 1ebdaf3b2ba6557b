//! The scenarios, and what several of them share: the run's context, users paired in private
//! chats, the progress line of a messaging run and the wait for messages still in flight.

pub mod flat;
pub mod group;
pub mod idle;
pub mod idle_child;
pub mod paced;
pub mod sequential;
pub mod uploads;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::client::Sink;
use crate::collect::{Clock, Collector, Counts};
use crate::progress::{self, Count, Ticker};
use crate::setup::{bounded, Api, Target, User};

/// What every scenario gets.
pub struct Ctx {
    pub api: Api,
    pub target: Target,
    /// Tags this run's messages, so that other runs' do not count.
    pub run: u32,
    pub clock: Clock,
    /// Sign-ups, chat creations and socket connects at once.
    pub concurrency: usize,
    /// Longest wait for one answer, one message or one connect.
    pub timeout: Duration,
    /// First phone number of this run's users (`+1415` and 7 digits, see `setup::phone`).
    pub phone_base: u32,
}

/// `n` private chats, each between a sender and a receiver.
pub struct Pairs {
    pub senders: Vec<User>,
    pub receivers: Vec<User>,
    pub chats: Vec<i64>,
}

/// Signs up `2 n` users and makes `n` private chats of them.
pub async fn pairs(ctx: &Ctx, n: u32) -> Result<Pairs> {
    let mut senders = ctx
        .api
        .sign_up_many(ctx.phone_base, 2 * n, ctx.concurrency)
        .await?;
    let receivers = senders.split_off(n as usize);
    let started = Instant::now();
    let pairs: Vec<(&User, i64)> = senders.iter().zip(receivers.iter().map(|r| r.id)).collect();
    let chats = bounded(pairs, ctx.concurrency, |(s, r)| ctx.api.private_chat(s, r)).await?;
    progress::line(format!(
        "[setup] created {n} private chats in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(Pairs {
        senders,
        receivers,
        chats,
    })
}

/// A line per second: sent, acked, delivered, refused, and the delivery rate.
pub fn ticker(label: &'static str, collector: &Collector, sent: &Count) -> Ticker {
    let watch = collector.watch();
    let sent = sent.clone();
    let started = Instant::now();
    let mut last = Counts::default();
    progress::spawn(move || {
        let c = *watch.borrow();
        let line = format!(
            "[{label} {:>5.1} s] sent {} acked {} delivered {} refused {} closed {} | {} acked/s {} delivered/s",
            started.elapsed().as_secs_f64(),
            sent.get(),
            c.acked,
            c.delivered,
            c.refused,
            c.closed,
            c.acked - last.acked,
            c.delivered - last.delivered,
        );
        last = c;
        line
    })
}

/// Waits (at most `timeout`) until every one of `sent` messages is answered and has reached
/// its `receivers` receivers; false if some are still missing.
pub async fn drain(collector: &Collector, sent: u64, receivers: u64, timeout: Duration) -> bool {
    collector
        .wait_for(timeout, |c| {
            c.acked + c.refused >= sent
                && c.delivered >= (sent.saturating_sub(c.refused)) * receivers
        })
        .await
}

/// A message of a one-at-a-time run missed its deadline (`what` says how; counted in
/// `timeouts`): whether the run should stop, because the server closed a socket or `max`
/// messages have now timed out.
pub fn stop_after_timeout(
    collector: &Collector,
    timeouts: &mut u32,
    max: u32,
    what: String,
) -> bool {
    *timeouts += 1;
    progress::line(what);
    if collector.counts().closed > 0 {
        progress::line("a socket was closed: stopping".into());
        return true;
    }
    if *timeouts >= max {
        progress::line(format!("{max} messages timed out: stopping"));
        return true;
    }
    false
}

/// The end of a timed run (`label`): waits, at most `timeout`, for the `total` messages sent
/// to be answered and delivered to their one receiver each, and says so if some are not.
pub async fn wait_for_the_rest(label: &str, collector: &Collector, total: u64, timeout: Duration) {
    progress::line(format!(
        "[{label}] sending over: waiting for {total} messages to complete"
    ));
    if !drain(collector, total, 1, timeout).await {
        progress::line(format!(
            "[{label}] not every message completed within {timeout:?}"
        ));
    }
}

/// Messages per second over `secs`.
pub fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// Sends one frame of sender `who` of a timed run, by `limit`; false (and says why) if the
/// socket failed or stayed blocked until then, and the sender should stop.
pub async fn send_by(
    sink: &mut Sink,
    frame: Message,
    limit: tokio::time::Instant,
    who: u32,
) -> bool {
    match tokio::time::timeout_at(limit, sink.send(frame)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            progress::line(format!("sender {who}: {e}"));
            false
        }
        Err(_) => {
            progress::line(format!("sender {who}: send blocked past the deadline"));
            false
        }
    }
}

/// Sends one frame, within `timeout`.
pub async fn send(sink: &mut Sink, frame: Message, timeout: Duration) -> Result<()> {
    tokio::time::timeout(timeout, sink.send(frame))
        .await
        .context("send timed out")?
        .context("send")
}
