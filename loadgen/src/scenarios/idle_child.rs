//! Holding idle sockets, in this process or in a child process of an `idle` run.
//!
//! A child (`idle --child i/P`) reads `token <access token>` lines on stdin up to `open`,
//! opens a socket per line, prints `opened <ok> <failed> <ms>` (after an `error <text>` line
//! if some failed), holds them until it reads `close` (or stdin ends), closes them and prints
//! `closed <sockets the server closed meanwhile>`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::client::{connect, Fleet, Sink};
use crate::collect::{Clock, Collector};
use crate::progress::{self, Count};

/// The longest a child holds its sockets without being told to close them.
const CHILD_MAX_HOLD: Duration = Duration::from_secs(3600);

/// Open sockets being read.
pub struct Held {
    fleet: Fleet,
    sinks: Vec<Sink>,
    collector: Collector,
    pub opened: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    pub took: Duration,
}

impl Held {
    /// Sockets the server closed so far.
    pub fn closed(&self) -> u64 {
        self.collector.counts().closed
    }

    /// Closes every socket; how many the server had closed before.
    pub async fn close(self) -> Result<u64> {
        let closed = self.closed();
        self.fleet.shutdown(self.sinks).await;
        self.collector.finish(&[], &[]).await?;
        Ok(closed)
    }
}

/// Opens a socket per token, `concurrency` at a time, going on past failures.
pub async fn hold(
    ws_bases: &[String],
    tokens: Vec<String>,
    concurrency: usize,
    timeout: Duration,
) -> Result<Held> {
    let total = tokens.len();
    let (done, failed) = (Count::default(), Count::default());
    let started = Instant::now();
    let ticker = {
        let (done, failed) = (done.clone(), failed.clone());
        progress::spawn(move || {
            let n = done.get();
            let rate = n as f64 / started.elapsed().as_secs_f64();
            let f = failed.get();
            format!("[idle] opened {n}/{total} sockets ({rate:.0}/s), {f} failed")
        })
    };
    let results: Vec<Result<_>> = futures_util::stream::iter(tokens.into_iter().enumerate())
        .map(|(j, t)| {
            let (done, failed) = (done.clone(), failed.clone());
            // Spread over the nodes in turn (one base alone).
            let ws_base = ws_bases[j % ws_bases.len()].clone();
            async move {
                let r = connect(&ws_base, &t, timeout).await;
                if r.is_ok() { &done } else { &failed }.add(1);
                r
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    drop(ticker);
    let took = started.elapsed();
    let mut sockets = Vec::with_capacity(results.len());
    let mut first_error = None;
    for r in results {
        match r {
            Ok(ws) => sockets.push(ws),
            Err(e) => {
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    let (opened, failed) = (sockets.len() as u64, failed.get());
    let collector = Collector::start();
    let (fleet, sinks) = Fleet::start(sockets, 0, Clock::start(), collector.sender(), vec![])?;
    Ok(Held {
        fleet,
        sinks,
        collector,
        opened,
        failed,
        first_error,
        took,
    })
}

/// `i/P`: this child's number and the number of children.
pub fn parse_child(spec: &str) -> Result<(u32, u32)> {
    let (i, p) = spec
        .split_once('/')
        .context("--child takes i/P, e.g. 0/4")?;
    let (i, p): (u32, u32) = (i.parse()?, p.parse()?);
    if i >= p {
        bail!("--child {spec}: i must be below P");
    }
    Ok((i, p))
}

/// A child's whole life, driven by its parent over stdin and stdout.
pub async fn child(
    spec: &str,
    ws_bases: &[String],
    concurrency: usize,
    timeout: Duration,
) -> Result<()> {
    let (i, p) = parse_child(spec)?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut tokens = Vec::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(600), lines.next_line())
            .await
            .context("no `open` from the parent")??;
        match line.as_deref() {
            Some("open") => break,
            Some(l) if l.starts_with("token ") => tokens.push(l["token ".len()..].to_string()),
            Some(l) => bail!("child {i}/{p}: unexpected line {l:?}"),
            None => bail!("child {i}/{p}: the parent went away"),
        }
    }
    let held = hold(ws_bases, tokens, concurrency, timeout).await?;
    if let Some(e) = &held.first_error {
        println!("error {}", e.replace('\n', " "));
    }
    println!(
        "opened {} {} {}",
        held.opened,
        held.failed,
        held.took.as_millis()
    );
    // Holds until told to close, the parent goes away, or an hour passes.
    let _ = tokio::time::timeout(CHILD_MAX_HOLD, async {
        while let Ok(Some(l)) = lines.next_line().await {
            if l == "close" {
                break;
            }
        }
    })
    .await;
    let closed = held.close().await?;
    println!("closed {closed}");
    Ok(())
}
