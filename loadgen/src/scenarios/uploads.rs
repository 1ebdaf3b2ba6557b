//! `uploads`: `--parallel` users each send one video message of `--size-mb` megabytes over
//! REST, all at once; with `--server-pid`, what the server's memory grew to meanwhile (its
//! high-water mark, reset before the uploads start).

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use futures_util::future::join_all;

use super::{pairs, Ctx};
use crate::progress;
use crate::report::Report;

/// Resident and peak resident memory of process `pid`, in bytes.
fn memory(pid: u32) -> Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| anyhow!("no {name} in {path}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the process's peak resident memory to its current one (Linux `clear_refs` 5), so
/// that the peak read later is this run's.
fn reset_peak(pid: u32) -> Result<()> {
    let path = format!("/proc/{pid}/clear_refs");
    std::fs::write(&path, "5").with_context(|| format!("writing {path} (same user or root)"))
}

/// A video (as servers sniff it) of `len` bytes that do not compress.
fn video(len: usize) -> bytes::Bytes {
    let mut v = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom".to_vec();
    v.reserve(len);
    let mut seed = 0x9E37_79B9u32;
    while v.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(len);
    v.into()
}

pub async fn run(
    ctx: &Ctx,
    parallel: u32,
    size_mb: u64,
    server_pid: Option<u32>,
) -> Result<Report> {
    let p = pairs(ctx, parallel).await?;
    let len = (size_mb * 1_000_000) as usize;
    let data = video(len);
    let before = match server_pid {
        Some(pid) => {
            reset_peak(pid)?;
            Some(memory(pid)?)
        }
        None => None,
    };
    progress::line(format!(
        "[uploads] {parallel} uploads of {size_mb} MB at once"
    ));
    let started = Instant::now();
    let timeout = ctx.timeout.max(Duration::from_secs(600));
    let sends = p.senders.iter().zip(&p.chats).map(|(u, chat)| {
        let data = data.clone();
        async move {
            let t = Instant::now();
            let m = ctx.api.send_file(u, *chat, "video", data, timeout).await?;
            anyhow::Ok((m, t.elapsed().as_secs_f64()))
        }
    });
    let results = join_all(sends).await;
    let took = started.elapsed().as_secs_f64();
    let after = server_pid.map(memory).transpose()?;

    let mut r = Report::new("uploads");
    r.param("parallel", parallel).param("size_mb", size_mb);
    let mut failed = 0;
    let mut slowest = 0.0f64;
    for res in results {
        match res {
            Ok((m, secs)) if m["media_size"].as_u64() == Some(len as u64) => {
                slowest = slowest.max(secs)
            }
            Ok((m, _)) => {
                failed += 1;
                progress::line(format!("[uploads] stored with another size: {m}"));
            }
            Err(e) => {
                failed += 1;
                progress::line(format!("[uploads] {e:#}"));
            }
        }
    }
    let stored = parallel - failed;
    r.figure("uploads stored", stored as f64, 0, "")
        .figure("all done in", took, 2, "s")
        .figure("slowest upload", slowest, 2, "s")
        .figure(
            "throughput",
            (stored as u64 * size_mb) as f64 / took,
            1,
            "MB/s",
        );
    if let (Some((rss, _)), Some((rss_after, peak))) = (before, after) {
        r.figure("server RSS before", rss as f64 / 1e6, 1, "MB")
            .figure("server peak RSS during uploads", peak as f64 / 1e6, 1, "MB")
            .figure(
                "peak growth per upload",
                (peak.saturating_sub(rss)) as f64 / 1e6 / parallel.max(1) as f64,
                1,
                "MB",
            )
            .figure("server RSS after", rss_after as f64 / 1e6, 1, "MB");
    }
    r.fail_if(failed > 0, format!("{failed} uploads failed"));
    Ok(r)
}
