//! Progress on stderr: a line per second while something runs, and shared counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// A counter shared between tasks.
#[derive(Clone, Default)]
pub struct Count(Arc<AtomicU64>);

impl Count {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Prints one line to stderr.
pub fn line(text: String) {
    eprintln!("{text}");
}

/// Prints `f()` to stderr once a second until dropped.
pub struct Ticker(JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts a [`Ticker`].
pub fn spawn<F>(mut f: F) -> Ticker
where
    F: FnMut() -> String + Send + 'static,
{
    Ticker(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.tick().await;
        loop {
            every.tick().await;
            line(f());
        }
    }))
}

/// Counts setup steps done and prints `[setup] <doing> n/total <what> (rate/s)` once a second
/// while the returned [`Ticker`] lives.
pub fn steps(doing: &'static str, total: u64, what: &'static str) -> (Count, Ticker) {
    let done = Count::default();
    let started = Instant::now();
    let count = done.clone();
    let ticker = spawn(move || {
        let n = count.get();
        let rate = n as f64 / started.elapsed().as_secs_f64();
        format!("[setup] {doing} {n}/{total} {what} ({rate:.0}/s)")
    });
    (done, ticker)
}
