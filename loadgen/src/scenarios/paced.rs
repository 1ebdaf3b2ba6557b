//! `paced`: open loop over many private chats. `rate` messages per second in total follow a
//! fixed schedule, spread evenly over the chats; every latency counts from the scheduled time,
//! so a sender held up by the server still pays for the wait (no coordinated omission).
//!
//! The schedule starts once every chat has carried one message (checked like the others, left
//! out of the latencies): a chat's first message starts its room, which loads the chat's
//! members first, and at 5,000 msg/s a hundred rooms starting at once are the first 100 ms
//! of the run, not the steady rate the run measures.

use std::time::Duration;

use anyhow::{anyhow, Result};

use super::{pairs, rate, send_by, ticker, wait_for_the_rest, Ctx};
use crate::client::{connect_all, Fleet, Sink};
use crate::collect::{Clock, Collector};
use crate::progress::Count;
use crate::report::{Checks, Report};
use crate::wire::{self, Tag};

/// When message `k` of chat `c` is due: µs since the clock's origin.
fn due_us(start_us: u64, k: u64, c: u64, chats: u64, rate: f64) -> u64 {
    start_us + ((k * chats + c) as f64 * 1e6 / rate) as u64
}

/// Chat `c`'s sender: sends each message at its scheduled time (or as soon as it can after).
#[allow(clippy::too_many_arguments)]
async fn sender(
    mut sink: Sink,
    chat: i64,
    c: u32,
    chats: u32,
    per_second: f64,
    run: u32,
    clock: Clock,
    (start_us, end_us): (u64, u64),
    sent: Count,
) -> (Sink, u64, u64) {
    // Message 0 was the warm-up.
    let (mut seq, mut max_lag_us) = (1, 0);
    loop {
        let due = due_us(
            start_us,
            seq - 1,
            u64::from(c),
            u64::from(chats),
            per_second,
        );
        if due >= end_us {
            break;
        }
        tokio::time::sleep_until(clock.at(due)).await;
        let tag = Tag {
            sender: c,
            seq,
            sent_us: due,
        };
        let frame = wire::send_frame(run, chat, tag);
        if !send_by(
            &mut sink,
            frame,
            clock.at(end_us) + Duration::from_secs(10),
            c,
        )
        .await
        {
            break;
        }
        max_lag_us = max_lag_us.max(clock.now_us().saturating_sub(due));
        seq += 1;
        sent.add(1);
    }
    (sink, seq, max_lag_us)
}

/// Sends message 0 of every chat, waits until each is answered and delivered, then starts the
/// latencies over.
async fn warm_up(
    ctx: &Ctx,
    chats: &[i64],
    sinks: &mut [Sink],
    collector: &Collector,
) -> Result<()> {
    for (c, (sink, chat)) in sinks.iter_mut().zip(chats).enumerate() {
        let tag = Tag {
            sender: c as u32,
            seq: 0,
            sent_us: ctx.clock.now_us(),
        };
        super::send(sink, wire::send_frame(ctx.run, *chat, tag), ctx.timeout).await?;
    }
    if !super::drain(collector, chats.len() as u64, 1, ctx.timeout).await {
        return Err(anyhow!(
            "the warm-up messages did not complete within {:?}",
            ctx.timeout
        ));
    }
    collector
        .sender()
        .send(crate::collect::Event::ResetLatencies)
        .map_err(|_| anyhow!("the collector stopped early"))?;
    Ok(())
}

pub async fn run(ctx: &Ctx, chats: u32, per_second: f64, duration: Duration) -> Result<Report> {
    if !(per_second > 0.0 && per_second.is_finite()) {
        return Err(anyhow!("--rate must be positive"));
    }
    let p = pairs(ctx, chats).await?;
    let tokens: Vec<String> = p
        .senders
        .iter()
        .chain(&p.receivers)
        .map(|u| u.token.clone())
        .collect();
    let (sockets, _) =
        connect_all(&ctx.target.sockets, tokens, ctx.concurrency, ctx.timeout).await?;
    let collector = Collector::start();
    let (fleet, mut sinks) = Fleet::start(sockets, ctx.run, ctx.clock, collector.sender(), vec![])?;
    let receiver_sinks = sinks.split_off(chats as usize);
    warm_up(ctx, &p.chats, &mut sinks, &collector).await?;
    let sent = Count::default();
    let ticker = ticker("paced", &collector, &sent);
    // Start a little ahead, so that the first messages are not already late.
    let start_us = ctx.clock.now_us() + 100_000;
    let end_us = start_us + u64::try_from(duration.as_micros())?;
    let tasks: Vec<_> = sinks
        .into_iter()
        .enumerate()
        .map(|(i, sink)| {
            let (chat, c, sent) = (p.chats[i], i as u32, sent.clone());
            let window = (start_us, end_us);
            tokio::spawn(sender(
                sink, chat, c, chats, per_second, ctx.run, ctx.clock, window, sent,
            ))
        })
        .collect();
    tokio::time::sleep_until(ctx.clock.at(end_us)).await;
    let at_deadline = collector.counts();
    let mut sender_sinks = Vec::new();
    let mut per_sender = Vec::new();
    let mut max_lag_us = 0;
    for t in tasks {
        let (sink, n, lag) = t.await.map_err(|e| anyhow!("sender task: {e}"))?;
        sender_sinks.push(sink);
        per_sender.push(n);
        max_lag_us = max_lag_us.max(lag);
    }
    // Every count includes the warm-up's message per chat.
    let total: u64 = per_sender.iter().sum();
    let scheduled = total.saturating_sub(u64::from(chats));
    wait_for_the_rest("paced", &collector, total, ctx.timeout).await;
    drop(ticker);
    sender_sinks.extend(receiver_sinks);
    fleet.shutdown(sender_sinks).await;
    let audience: Vec<Vec<u32>> = (0..chats).map(|i| vec![chats + i]).collect();
    let o = collector.finish(&per_sender, &audience).await?;
    let secs = duration.as_secs_f64();
    let mut r = Report::new("paced");
    r.param("chats", chats)
        .param("rate", per_second)
        .param("duration_s", secs);
    r.figure("offered", per_second, 2, "msg/s")
        .figure("sent", rate(scheduled, secs), 2, "msg/s")
        .figure(
            "delivered within the schedule",
            rate(at_deadline.delivered.saturating_sub(u64::from(chats)), secs),
            2,
            "msg/s",
        )
        .figure(
            "largest send lag behind schedule",
            max_lag_us as f64 / 1e3,
            2,
            "ms",
        )
        .figure("messages sent", scheduled as f64, 0, "");
    r.latency("scheduled → ack", &o.ack)
        .latency("scheduled → deliver", &o.deliver);
    if let Some(h) = &o.warm_up_ack {
        // Every chat's first message at once: its room starts (the cold start, not timed above).
        r.latency("warm-up: first → ack", h);
    }
    r.slowest(&o.slowest, &ctx.clock).checks(Checks::of(&o));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::due_us;

    #[test]
    fn schedule_spreads_chats_evenly() {
        // 4 chats at 1000/s: one message every ms, chats in turn.
        let due: Vec<u64> = (0..2)
            .flat_map(|k| (0..4).map(move |c| due_us(0, k, c, 4, 1000.0)))
            .collect();
        assert_eq!(due, [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000]);
    }
}
