//! `group`: one group of `members` users, all connected; one member sends messages one at a
//! time, each once the previous one reached every other member. Measures send → last copy,
//! the distribution over all copies, and how fast the members' sockets connected.

use std::time::Instant;

use anyhow::{bail, Result};

use super::{rate, send, stop_after_timeout, ticker, Ctx};
use crate::client::{connect_all, Fleet};
use crate::collect::Collector;
use crate::progress::{self, Count};
use crate::report::{Checks, Report};
use crate::setup::bounded;
use crate::wire::{self, Tag};

/// After this many messages that did not reach everyone in time, the run stops.
const MAX_TIMEOUTS: u32 = 3;

pub async fn run(ctx: &Ctx, members: u32, messages: u64) -> Result<Report> {
    if members < 2 {
        bail!("--members must be at least 2");
    }
    let users = ctx
        .api
        .sign_up_many(ctx.phone_base, members, ctx.concurrency)
        .await?;
    let started = Instant::now();
    bounded(users[1..].iter().collect(), ctx.concurrency, |u| {
        ctx.api.allow_groups(u)
    })
    .await?;
    let ids: Vec<i64> = users[1..].iter().map(|u| u.id).collect();
    let name = format!("loadgen {:08x}", ctx.run);
    let (chat, added) = ctx.api.create_group(&users[0], &name, &ids).await?;
    if added + 1 != members as usize {
        bail!(
            "group {chat}: {added} members added, expected {}",
            members - 1
        );
    }
    progress::line(format!(
        "[setup] group {chat} of {members} members created in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let tokens = users.iter().map(|u| u.token.clone()).collect();
    let (sockets, connect_time) =
        connect_all(&ctx.target.sockets, tokens, ctx.concurrency, ctx.timeout).await?;
    let collector = Collector::start();
    let (fleet, mut sinks) = Fleet::start(sockets, ctx.run, ctx.clock, collector.sender(), vec![])?;
    let sent = Count::default();
    let ticker = ticker("group", &collector, &sent);
    let copies = u64::from(members - 1);
    let run_started = Instant::now();
    let (mut count, mut timeouts) = (0, 0);
    for seq in 0..messages {
        let tag = Tag {
            sender: 0,
            seq,
            sent_us: ctx.clock.now_us(),
        };
        let frame = wire::send_frame(ctx.run, chat, tag);
        if let Err(e) = send(&mut sinks[0], frame, ctx.timeout).await {
            progress::line(format!("message {seq}: {e:#}: stopping"));
            break;
        }
        sent.add(1);
        count = seq + 1;
        let done = collector
            .wait_for(ctx.timeout, |c| {
                c.acked + c.refused >= count
                    && c.delivered >= count.saturating_sub(c.refused) * copies
            })
            .await;
        if !done {
            let what = format!(
                "message {seq} did not reach everyone within {:?}",
                ctx.timeout
            );
            if stop_after_timeout(&collector, &mut timeouts, MAX_TIMEOUTS, what) {
                break;
            }
        }
    }
    let elapsed = run_started.elapsed().as_secs_f64();
    drop(ticker);
    fleet.shutdown(sinks).await;
    let audience = vec![(1..members).collect::<Vec<u32>>()];
    let o = collector.finish(&[count], &audience).await?;
    let connect_secs = connect_time.as_secs_f64();
    let mut r = Report::new("group");
    r.param("members", members).param("messages", count);
    r.figure("sockets connected in", connect_secs, 2, "s")
        .figure("connects", rate(u64::from(members), connect_secs), 2, "/s")
        .figure(
            "messages (each to every member)",
            rate(count, elapsed),
            2,
            "msg/s",
        )
        .figure(
            "copies delivered",
            rate(o.deliver.len(), elapsed),
            2,
            "copies/s",
        );
    r.latency("send → ack", &o.ack)
        .latency("send → last copy", &o.last_copy)
        .latency("send → each copy", &o.deliver);
    r.slowest(&o.slowest, &ctx.clock).checks(Checks::of(&o));
    Ok(r)
}
