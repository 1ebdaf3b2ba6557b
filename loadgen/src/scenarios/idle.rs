//! `idle`: opens many authenticated sockets over a few users and holds them; with the
//! server's pid, measures its memory per socket and whether the memory comes back once they
//! are closed. `--procs P` spreads the sockets over P child processes (one process holds at
//! most its open-file limit).

use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::idle_child::{hold, Held};
use super::{rate, Ctx};
use crate::progress;
use crate::report::Report;

/// What `idle` is told.
pub struct IdleOpts {
    pub sockets: u32,
    pub users: u32,
    pub max_per_user: u32,
    /// The server's processes (a cluster's nodes): their memory is added up.
    pub server_pids: Vec<u32>,
    pub hold: Duration,
    pub settle: Duration,
    pub procs: u32,
    /// The arguments a child gets before `idle`.
    pub child_args: Vec<String>,
}

/// The resident memory of process `pid`, in bytes.
pub fn vm_rss(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| anyhow!("no VmRSS in {path}"))?;
    Ok(kb * 1024)
}

/// A child process holding some of the sockets.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    /// Reads lines until one starts with `word`; gives back the rest of it.
    async fn expect(&mut self, word: &str, within: Duration) -> Result<String> {
        let read = async {
            loop {
                let Some(line) = self.stdout.next_line().await? else {
                    bail!("child ended before `{word}`");
                };
                if let Some(rest) = line.strip_prefix(&format!("{word} ")) {
                    return Ok(rest.to_string());
                }
                if let Some(e) = line.strip_prefix("error ") {
                    progress::line(format!("[idle] child: first failure: {e}"));
                }
            }
        };
        tokio::time::timeout(within, read)
            .await
            .map_err(|_| anyhow!("no `{word}` from a child within {within:?}"))?
    }
}

/// Where the sockets are held.
enum Holders {
    Here(Held),
    Children(Vec<Worker>),
}

pub async fn run(ctx: &Ctx, o: &IdleOpts) -> Result<Report> {
    let (n, users) = (o.sockets, o.users.max(1));
    if n.div_ceil(users) > o.max_per_user {
        bail!(
            "{n} sockets over {users} users is more than {} per user: pass --users {} or more",
            o.max_per_user,
            n.div_ceil(o.max_per_user)
        );
    }
    if o.procs == 0 {
        bail!("--procs must be at least 1");
    }
    if n / o.procs > 19_900 {
        bail!(
            "one process holds at most 19,900 sockets: pass --procs {}",
            n.div_ceil(19_900)
        );
    }
    let signed = ctx
        .api
        .sign_up_many(ctx.phone_base, users, ctx.concurrency)
        .await?;
    let tokens: Vec<String> = (0..n as usize)
        .map(|j| signed[j % signed.len()].token.clone())
        .collect();
    let rss = |what: &str| -> Result<Option<u64>> {
        if o.server_pids.is_empty() {
            return Ok(None);
        }
        let mut v = 0;
        for pid in &o.server_pids {
            v += vm_rss(*pid)?;
        }
        progress::line(format!(
            "[idle] server RSS {what}: {:.1} MB",
            v as f64 / 1e6
        ));
        Ok(Some(v))
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss("before")?;
    let (holders, opened, failed, took) = if o.procs == 1 {
        let held = hold(&ctx.target.sockets, tokens, ctx.concurrency, ctx.timeout).await?;
        if let Some(e) = &held.first_error {
            progress::line(format!("[idle] first failure: {e}"));
        }
        let (opened, failed, took) = (held.opened, held.failed, held.took.as_secs_f64());
        (Holders::Here(held), opened, failed, took)
    } else {
        let (workers, opened, failed, took) = spawn_children(o, tokens).await?;
        (Holders::Children(workers), opened, failed, took)
    };
    progress::line(format!(
        "[idle] {opened} sockets open ({failed} failed); holding {:?}",
        o.hold
    ));
    let ticker = progress::spawn({
        let started = std::time::Instant::now();
        move || {
            format!(
                "[idle {:>5.1} s] holding {opened} sockets",
                started.elapsed().as_secs_f64()
            )
        }
    });
    tokio::time::sleep(o.hold).await;
    drop(ticker);
    let with = rss("with the sockets open")?;
    let closed_by_server = match holders {
        Holders::Here(held) => held.close().await?,
        Holders::Children(workers) => close_children(workers).await?,
    };
    progress::line(format!("[idle] sockets closed; settling {:?}", o.settle));
    tokio::time::sleep(o.settle).await;
    let after = rss("after closing and settling")?;

    let mut r = Report::new("idle");
    r.param("sockets", n)
        .param("users", users)
        .param("procs", o.procs);
    r.figure("sockets opened", opened as f64, 0, "")
        .figure("sockets failed", failed as f64, 0, "")
        .figure("opened in", took, 2, "s")
        .figure("connects", rate(opened, took), 2, "/s")
        .figure(
            "closed by the server while held",
            closed_by_server as f64,
            0,
            "",
        );
    if let (Some(b), Some(w), Some(a)) = (before, with, after) {
        let grown = w as f64 - b as f64;
        r.figure("server RSS before", b as f64 / 1e6, 1, "MB")
            .figure("server RSS with sockets", w as f64 / 1e6, 1, "MB")
            .figure("server RSS after close + settle", a as f64 / 1e6, 1, "MB")
            .figure(
                "server bytes per socket",
                grown / opened.max(1) as f64,
                0,
                "B",
            )
            .figure(
                "memory given back",
                100.0 * (w as f64 - a as f64) / grown.max(1.0),
                1,
                "%",
            );
    }
    r.fail_if(failed > 0, format!("{failed} sockets failed to open"));
    r.fail_if(
        closed_by_server > 0,
        format!("the server closed {closed_by_server} sockets"),
    );
    Ok(r)
}

/// Starts `o.procs` children, hands each its share of the tokens and waits until they have
/// opened them: the workers, sockets opened and failed, and the slowest child's time.
async fn spawn_children(o: &IdleOpts, tokens: Vec<String>) -> Result<(Vec<Worker>, u64, u64, f64)> {
    let exe = std::env::current_exe().context("finding this program")?;
    let procs = o.procs as usize;
    let mut workers = Vec::new();
    for i in 0..procs {
        let mut child = tokio::process::Command::new(&exe)
            .args(&o.child_args)
            .args(["idle", "--child", &format!("{i}/{procs}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting a child")?;
        let stdin = child.stdin.take().context("child stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("child stdout")?).lines();
        let mut w = Worker {
            child,
            stdin,
            stdout,
        };
        let share = &tokens[i * tokens.len() / procs..(i + 1) * tokens.len() / procs];
        let mut text = String::new();
        for t in share {
            text += &format!("token {t}\n");
        }
        text += "open\n";
        w.stdin
            .write_all(text.as_bytes())
            .await
            .context("writing to a child")?;
        workers.push(w);
    }
    let (mut opened, mut failed, mut took) = (0, 0, 0.0f64);
    for w in &mut workers {
        let line = w.expect("opened", Duration::from_secs(1800)).await?;
        let f: Vec<u64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
        let [ok, bad, ms] = f[..] else {
            bail!("a child said `opened {line}`");
        };
        opened += ok;
        failed += bad;
        took = took.max(ms as f64 / 1000.0);
    }
    Ok((workers, opened, failed, took))
}

/// Tells every child to close its sockets and waits for them to end.
async fn close_children(mut workers: Vec<Worker>) -> Result<u64> {
    for w in &mut workers {
        w.stdin
            .write_all(b"close\n")
            .await
            .context("writing to a child")?;
    }
    let mut closed = 0;
    for w in &mut workers {
        closed += w
            .expect("closed", Duration::from_secs(120))
            .await?
            .parse::<u64>()?;
        match tokio::time::timeout(Duration::from_secs(10), w.child.wait()).await {
            Ok(Ok(s)) if s.success() => {}
            Ok(Ok(s)) => progress::line(format!("[idle] a child ended with {s}")),
            _ => {
                let _ = w.child.kill().await;
            }
        }
    }
    Ok(closed)
}
