//! `sequential`: one sender, one receiver in a private chat; each message is sent once the
//! previous one is both answered and delivered (over the socket, or over REST with `--rest`).

use std::time::Instant;

use anyhow::Result;

use super::{pairs, rate, send, stop_after_timeout, ticker, Ctx};
use crate::client::{connect_all, Fleet};
use crate::collect::{Collector, Event};
use crate::progress::{self, Count};
use crate::report::{Checks, Report};
use crate::wire::{self, Tag};

/// After this many messages that did not complete in time, the run stops.
const MAX_TIMEOUTS: u32 = 5;

pub async fn run(ctx: &Ctx, messages: u64, rest: bool) -> Result<Report> {
    let p = pairs(ctx, 1).await?;
    let (sender, receiver, chat) = (&p.senders[0], &p.receivers[0], p.chats[0]);
    // Over REST the sender has no socket: it would receive its own messages.
    let tokens = if rest {
        vec![receiver.token.clone()]
    } else {
        vec![sender.token.clone(), receiver.token.clone()]
    };
    let receiver_socket = tokens.len() as u32 - 1;
    let (sockets, _) =
        connect_all(&ctx.target.sockets, tokens, ctx.concurrency, ctx.timeout).await?;
    let collector = Collector::start();
    let events = collector.sender();
    let (fleet, mut sinks) = Fleet::start(sockets, ctx.run, ctx.clock, collector.sender(), vec![])?;
    let sent = Count::default();
    let ticker = ticker("sequential", &collector, &sent);
    let started = Instant::now();
    let mut timeouts = 0;
    let mut count = 0;
    for seq in 0..messages {
        let tag = Tag {
            sender: 0,
            seq,
            sent_us: ctx.clock.now_us(),
        };
        if rest {
            let cmid = wire::client_msg_id(ctx.run, 0, seq);
            let content = wire::content(ctx.run, tag);
            match ctx.api.send_rest(sender, chat, &cmid, &content).await {
                Ok(()) => {
                    let at_us = ctx.clock.now_us();
                    let _ = events.send(Event::Ack { tag, at_us });
                }
                Err(e) => {
                    let (code, message) = ("rest".to_string(), format!("{e:#}"));
                    let of = Some((0, seq));
                    let _ = events.send(Event::Refused { of, code, message });
                }
            }
        } else {
            let frame = wire::send_frame(ctx.run, chat, tag);
            if let Err(e) = send(&mut sinks[0], frame, ctx.timeout).await {
                progress::line(format!("message {seq}: {e:#}: stopping"));
                break;
            }
        }
        sent.add(1);
        count = seq + 1;
        let done = collector
            .wait_for(ctx.timeout, |c| {
                c.acked + c.refused >= count && c.delivered + c.refused >= count
            })
            .await;
        if !done {
            let what = format!("message {seq} not complete within {:?}", ctx.timeout);
            if stop_after_timeout(&collector, &mut timeouts, MAX_TIMEOUTS, what) {
                break;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop(ticker);
    fleet.shutdown(sinks).await;
    let o = collector.finish(&[count], &[vec![receiver_socket]]).await?;
    let mut r = Report::new("sequential");
    r.param("messages", count)
        .param("transport", if rest { "rest" } else { "websocket" });
    r.figure("throughput", rate(count, elapsed), 2, "msg/s")
        .figure("elapsed", elapsed, 2, "s");
    let answer = if rest {
        "send → answer"
    } else {
        "send → ack"
    };
    r.latency(answer, &o.ack)
        .latency("send → deliver", &o.deliver);
    r.slowest(&o.slowest, &ctx.clock).checks(Checks::of(&o));
    Ok(r)
}
