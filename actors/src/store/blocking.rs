//! Where SQLite's blocking calls run: on tokio's blocking pool, or, for a future wrapped in
//! [`inline_if`], on the thread that polls it.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use diesel_async::sync_connection_wrapper::SpawnBlocking;
use futures_util::future::BoxFuture;

/// The error type diesel-async expects from a blocking call.
type Failure = Box<dyn std::error::Error + Send + Sync + 'static>;

thread_local! {
    /// Set while a future wrapped in [`inline_if`] is polled on this thread.
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// Runs SQLite calls on tokio's blocking pool. A call whose future is dropped before it ends
/// (a client went away mid-request) is still waited for, so its connection never returns to
/// the pool while a call holds it (the pool's recycling would then panic). diesel-async's own
/// runtime waits with `block_in_place`, which panics on actix's single-threaded runtimes; this
/// one waits on a plain channel. The wait is one statement long (bounded by `busy_timeout`).
///
/// Inside [`inline_if`] (with `true`) calls run at once, on the polling thread: no hop to
/// another thread and back per statement.
pub struct FinishOnDrop;

impl SpawnBlocking for FinishOnDrop {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Failure>>
    where
        R: Send + 'static,
    {
        if INLINE.get() {
            let result = task();
            return Box::pin(std::future::ready(Ok(result)));
        }
        let (done, finished) = std::sync::mpsc::sync_channel::<()>(1);
        let handle = tokio::task::spawn_blocking(move || {
            // `task` owns the connection handle; it is released when `task` returns.
            let result = task();
            let _ = done.send(());
            result
        });
        Box::pin(Pending {
            handle,
            finished: Some(finished),
        })
    }

    fn get_runtime() -> Self {
        FinishOnDrop
    }
}

/// A blocking call in flight; see [`FinishOnDrop`].
struct Pending<R> {
    handle: tokio::task::JoinHandle<R>,
    finished: Option<std::sync::mpsc::Receiver<()>>,
}

impl<R> Future for Pending<R> {
    type Output = Result<R, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polled = Pin::new(&mut self.handle).poll(cx);
        if polled.is_ready() {
            self.finished = None;
        }
        polled.map(|r| r.map_err(Box::from))
    }
}

impl<R> Drop for Pending<R> {
    fn drop(&mut self) {
        if let Some(finished) = self.finished.take() {
            // Errors mean the call already ended (its sender is gone).
            let _ = finished.recv();
        }
    }
}

/// Whether blocking calls made now run on this thread (inside [`inline_if`] with `true`).
pub fn inline_now() -> bool {
    INLINE.get()
}

/// `work`, whose SQLite calls run on the thread polling it when `inline` is set. Only for a
/// thread with nothing else to do meanwhile (the writer's, with no other batch in flight):
/// each call blocks it for the length of a statement (at most `busy_timeout` when the
/// database is locked). Calls that are not SQLite's are not affected.
pub fn inline_if<F: Future>(inline: bool, work: F) -> Inline<F> {
    Inline {
        inline,
        work: Box::pin(work),
    }
}

/// See [`inline_if`].
pub struct Inline<F> {
    inline: bool,
    work: Pin<Box<F>>,
}

impl<F: Future> Future for Inline<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if !self.inline {
            return self.work.as_mut().poll(cx);
        }
        /// Restores the flag however the poll ends.
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                INLINE.set(self.0);
            }
        }
        let _reset = Reset(INLINE.replace(true));
        self.work.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::{current, ThreadId};

    async fn where_a_call_runs() -> ThreadId {
        FinishOnDrop
            .spawn_blocking(|| current().id())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn inline_calls_run_on_the_polling_thread_and_others_on_the_pool() {
        let here = current().id();
        assert_eq!(inline_if(true, where_a_call_runs()).await, here);
        assert_ne!(inline_if(false, where_a_call_runs()).await, here);
        // The mode ends with the wrapped future's poll.
        assert_ne!(where_a_call_runs().await, here);
    }
}
