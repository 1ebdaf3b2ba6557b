//! `flat`: closed loop over many private chats. Each chat has a sender and a receiver socket;
//! each sender keeps `in_flight` sends unanswered at all times for the run's duration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use tokio::sync::Semaphore;

use super::{pairs, rate, send_by, ticker, wait_for_the_rest, Ctx};
use crate::client::{connect_all, Fleet, Sink};
use crate::collect::{Clock, Collector};
use crate::progress::Count;
use crate::report::{Checks, Report};
use crate::wire::{self, Tag};

/// One sender's loop: sends whenever it holds a permit, until `deadline`.
#[allow(clippy::too_many_arguments)]
async fn sender(
    mut sink: Sink,
    chat: i64,
    me: u32,
    run: u32,
    clock: Clock,
    permits: Arc<Semaphore>,
    deadline: tokio::time::Instant,
    sent: Count,
) -> (Sink, u64) {
    let mut seq = 0;
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, permits.acquire()).await {
            Ok(Ok(p)) => p.forget(),
            _ => break,
        }
        let tag = Tag {
            sender: me,
            seq,
            sent_us: clock.now_us(),
        };
        let frame = wire::send_frame(run, chat, tag);
        if !send_by(&mut sink, frame, deadline + Duration::from_secs(10), me).await {
            break;
        }
        seq += 1;
        sent.add(1);
    }
    (sink, seq)
}

pub async fn run(ctx: &Ctx, chats: u32, in_flight: usize, duration: Duration) -> Result<Report> {
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
    let permits: Vec<Arc<Semaphore>> = (0..chats)
        .map(|_| Arc::new(Semaphore::new(in_flight)))
        .collect();
    let (fleet, mut sinks) = Fleet::start(
        sockets,
        ctx.run,
        ctx.clock,
        collector.sender(),
        permits.iter().cloned().map(Some).collect(),
    )?;
    let receiver_sinks = sinks.split_off(chats as usize);
    let sent = Count::default();
    let ticker = ticker("flat", &collector, &sent);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + duration;
    let tasks: Vec<_> = sinks
        .into_iter()
        .enumerate()
        .map(|(i, sink)| {
            let (chat, permits, sent) = (p.chats[i], permits[i].clone(), sent.clone());
            let me = i as u32;
            tokio::spawn(sender(
                sink, chat, me, ctx.run, ctx.clock, permits, deadline, sent,
            ))
        })
        .collect();
    tokio::time::sleep_until(deadline).await;
    let at_deadline = collector.counts();
    let secs = started.elapsed().as_secs_f64();
    let mut sender_sinks = Vec::new();
    let mut per_sender = Vec::new();
    for t in tasks {
        let (sink, n) = t.await.map_err(|e| anyhow!("sender task: {e}"))?;
        sender_sinks.push(sink);
        per_sender.push(n);
    }
    let total: u64 = per_sender.iter().sum();
    wait_for_the_rest("flat", &collector, total, ctx.timeout).await;
    drop(ticker);
    sender_sinks.extend(receiver_sinks);
    fleet.shutdown(sender_sinks).await;
    let audience: Vec<Vec<u32>> = (0..chats).map(|i| vec![chats + i]).collect();
    let o = collector.finish(&per_sender, &audience).await?;
    let completed = at_deadline.acked.min(at_deadline.delivered);
    let mut r = Report::new("flat");
    r.param("chats", chats)
        .param("in_flight", in_flight as u64)
        .param("duration_s", duration.as_secs_f64());
    r.figure(
        "throughput (acked and delivered)",
        rate(completed, secs),
        2,
        "msg/s",
    )
    .figure("acked", rate(at_deadline.acked, secs), 2, "msg/s")
    .figure("delivered", rate(at_deadline.delivered, secs), 2, "msg/s")
    .figure("messages sent", total as f64, 0, "");
    r.latency("send → ack", &o.ack)
        .latency("send → deliver", &o.deliver);
    r.slowest(&o.slowest, &ctx.clock).checks(Checks::of(&o));
    Ok(r)
}
