//! The allocator, and giving memory back to the operating system once many connections have
//! closed.
//!
//! Rust's allocations go to jemalloc: under load the server allocates and frees many small
//! buffers on every core at once, and glibc's malloc spent about a fifth of its CPU time
//! there. (SQLite's own allocations stay with glibc.)
//!
//! Each open connection holds a few buffers; when thousands close, the allocators keep the
//! freed pages, so the process would stay at its peak size for a long while. A check every
//! few seconds purges both heaps when the open connections fell to well below their peak,
//! except once the server shuts down: the process is about to give everything back, and a trim
//! under way would hold up its exit (the runtime waits for it) by a second or more.

use std::sync::Arc;
use std::time::Duration;

use crate::connections::ConnLimiter;
use crate::shutdown::ShutdownFlag;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// How often the open connections are counted.
const EVERY: Duration = Duration::from_secs(5);
/// Fewer connections than this closed since the peak are not worth a trim.
const MIN_CLOSED: usize = 1_000;

/// Whether the heap should be trimmed with `open` connections now and `peak` since the last
/// trim: when at least half of them, and at least [`MIN_CLOSED`], have closed.
fn worth_trimming(peak: usize, open: usize) -> bool {
    let closed = peak.saturating_sub(open);
    closed >= MIN_CLOSED && open <= peak / 2
}

/// Runs the check on the current actix runtime for as long as the server runs.
pub fn spawn_trimmer(connections: Arc<ConnLimiter>, shutdown: ShutdownFlag) {
    actix_web::rt::spawn(async move {
        let mut peak = 0;
        loop {
            tokio::time::sleep(EVERY).await;
            if shutdown.is_started() {
                return;
            }
            let open = connections.open_total();
            peak = peak.max(open);
            if worth_trimming(peak, open) {
                // Walking a large heap takes a while: not on the thread that runs the registry.
                let started = std::time::Instant::now();
                let freed = tokio::task::spawn_blocking(trim).await.unwrap_or(false);
                let micros = started.elapsed().as_micros() as u64;
                tracing::debug!(
                    peak,
                    open,
                    freed,
                    micros,
                    "returned freed memory to the system"
                );
                peak = open;
            }
        }
    });
}

/// Returns free heap pages to the system; answers whether glibc had any (jemalloc does not
/// say).
fn trim() -> bool {
    purge_jemalloc();
    trim_glibc()
}

/// Purges the unused dirty pages of every jemalloc arena (`arena.<MALLCTL_ARENAS_ALL>.purge`);
/// answers whether jemalloc took the command.
fn purge_jemalloc() -> bool {
    // SAFETY: a valid, NUL-terminated control name that takes no value, called as mallctl's
    // manual says for such a control (every other argument null or zero).
    let failed = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if failed != 0 {
        tracing::debug!(code = failed, "jemalloc purge failed");
    }
    failed == 0
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_glibc() -> bool {
    // SAFETY: malloc_trim only walks and releases the allocator's own free lists.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_glibc() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::{purge_jemalloc, worth_trimming};

    #[test]
    fn jemalloc_takes_the_purge() {
        let freed: Vec<Vec<u8>> = (0..1_000).map(|_| vec![1u8; 16 * 1024]).collect();
        drop(freed);
        assert!(purge_jemalloc());
    }

    #[test]
    fn trims_only_after_many_closed() {
        assert!(!worth_trimming(0, 0));
        assert!(!worth_trimming(1_500, 800), "700 closed is not enough");
        assert!(!worth_trimming(20_000, 12_000), "most are still open");
        assert!(worth_trimming(20_000, 10_000));
        assert!(worth_trimming(19_900, 0));
    }
}
