//! The write side of a socket: a short queue of outgoing messages between the session
//! ([`Sender`]) and the task that writes them ([`pump`]).
//!
//! The queue is short on purpose: the session keeps its own bounded backlog and disconnects a
//! client that falls too far behind, so here a [`Sender`] simply waits while
//! [`QUEUE_MESSAGES`] are not yet written. A burst is encoded into one buffer, written, and the
//! buffer dropped: a quiet socket holds none.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use actix_codec::Encoder;
use actix_http::ws::{Codec, Message};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, WriteHalf};

use super::CloseReason;

/// Messages queued for the pump before a sender waits.
pub const QUEUE_MESSAGES: usize = 8;

/// The socket is closed (or closing): nothing more can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the socket is closed")]
pub struct Closed;

#[derive(Default)]
pub(super) struct Outbox {
    queue: VecDeque<Message>,
    /// Live [`Sender`]s: at zero the pump ends.
    senders: usize,
    /// A close frame is queued (or the pump ended): nothing more is taken.
    closing: bool,
    /// When the close frame was queued: the pump gives it [`CLOSE_GRACE`] to go out, even
    /// once the session is gone.
    closing_since: Option<tokio::time::Instant>,
    /// The pump has ended: everything it will ever write is written.
    ended: bool,
    pump: Option<Waker>,
    /// Senders waiting for room in the queue, or for the pump to end.
    waiting: Vec<Waker>,
    /// The read half, given back by the session's `Frames` when it is dropped, so that the
    /// pump can read what the client still sends before the connection closes.
    read_half: Option<ReadSide>,
    /// `Frames` is gone (its read half is in `read_half`).
    reader_gone: bool,
}

/// A socket's read half, type-erased.
pub(super) type ReadSide = Pin<Box<dyn AsyncRead + Send>>;

/// Gives the read half back to the pump (`Frames` is dropped).
pub(super) fn give_back(outbox: &Mutex<Outbox>, read: ReadSide) {
    let mut outbox = lock(outbox);
    outbox.read_half = Some(read);
    outbox.reader_gone = true;
    if let Some(pump) = outbox.pump.take() {
        pump.wake();
    }
}

/// A handle for sending on a socket; cheap to clone. The socket's pump ends when the last
/// one is dropped.
pub struct Sender {
    outbox: Arc<Mutex<Outbox>>,
}

/// The write half of a socket, for [`pump`].
pub struct WriteSide<T> {
    io: WriteHalf<T>,
    outbox: Arc<Mutex<Outbox>>,
}

pub(super) fn new<T>(io: WriteHalf<T>) -> (Sender, WriteSide<T>, Arc<Mutex<Outbox>>) {
    let outbox = Arc::new(Mutex::new(Outbox {
        senders: 1,
        ..Outbox::default()
    }));
    let sender = Sender {
        outbox: outbox.clone(),
    };
    (
        sender,
        WriteSide {
            io,
            outbox: outbox.clone(),
        },
        outbox,
    )
}

fn lock(outbox: &Mutex<Outbox>) -> MutexGuard<'_, Outbox> {
    outbox.lock().unwrap_or_else(|e| e.into_inner())
}

fn wake_all(wakers: &mut Vec<Waker>) {
    for waker in wakers.drain(..) {
        waker.wake();
    }
    if wakers.capacity() > 4 {
        *wakers = Vec::new();
    }
}

impl Sender {
    /// Queues a message once there is room; `Closed` if the socket is closing.
    async fn push(&self, message: Message) -> Result<(), Closed> {
        let mut message = Some(message);
        poll_fn(|cx| {
            let mut outbox = lock(&self.outbox);
            if outbox.closing {
                return Poll::Ready(Err(Closed));
            }
            if outbox.queue.len() >= QUEUE_MESSAGES {
                outbox.waiting.push(cx.waker().clone());
                return Poll::Pending;
            }
            if let Some(message) = message.take() {
                outbox.queue.push_back(message);
            }
            if let Some(pump) = outbox.pump.take() {
                pump.wake();
            }
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// Sends a text message.
    pub async fn text(&mut self, text: impl Into<ByteString>) -> Result<(), Closed> {
        self.push(Message::Text(text.into())).await
    }

    /// Sends a ping.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Closed> {
        self.push(Message::Ping(Bytes::copy_from_slice(payload)))
            .await
    }

    /// Sends a pong.
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Closed> {
        self.push(Message::Pong(Bytes::copy_from_slice(payload)))
            .await
    }

    /// Sends a close frame after what is queued, and waits until it is written (or the socket
    /// is gone). Nothing can be sent after it.
    pub async fn close(self, reason: Option<CloseReason>) -> Result<(), Closed> {
        {
            let mut outbox = lock(&self.outbox);
            if outbox.closing {
                return Err(Closed);
            }
            outbox.closing = true;
            outbox.closing_since = Some(tokio::time::Instant::now());
            outbox.queue.push_back(Message::Close(reason));
            if let Some(pump) = outbox.pump.take() {
                pump.wake();
            }
        }
        poll_fn(|cx| {
            let mut outbox = lock(&self.outbox);
            if outbox.ended {
                return Poll::Ready(Ok(()));
            }
            outbox.waiting.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        lock(&self.outbox).senders += 1;
        Sender {
            outbox: self.outbox.clone(),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut outbox = lock(&self.outbox);
        outbox.senders -= 1;
        if outbox.senders == 0 {
            if let Some(pump) = outbox.pump.take() {
                pump.wake();
            }
        }
    }
}

/// What the pump does next.
enum Next {
    /// Write these bytes; `last` after a close frame.
    Write { bytes: BytesMut, last: bool },
    /// Every sender is gone.
    Stop,
}

/// Takes everything queued, encoded, or waits for something to be queued.
async fn next(outbox: &Mutex<Outbox>, codec: &mut Codec) -> Next {
    poll_fn(|cx| {
        let mut outbox = lock(outbox);
        if outbox.queue.is_empty() {
            if outbox.senders == 0 {
                return Poll::Ready(Next::Stop);
            }
            outbox.pump = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut bytes = BytesMut::new();
        let mut last = false;
        while let Some(message) = outbox.queue.pop_front() {
            last = matches!(message, Message::Close(_));
            if codec.encode(message, &mut bytes).is_err() {
                // Only an oversize close reason fails to encode: close without it.
                let _ = codec.encode(Message::Close(None), &mut bytes);
            }
            if last {
                break;
            }
        }
        if outbox.queue.capacity() > QUEUE_MESSAGES * 2 {
            outbox.queue = VecDeque::new();
        }
        wake_all(&mut outbox.waiting);
        Poll::Ready(Next::Write { bytes, last })
    })
    .await
}

/// Resolves once every sender is gone, so that a write to a client that stopped reading does
/// not outlive its session; once a close frame is queued, [`CLOSE_GRACE`] after that instead
/// (the session may be gone by then, the close frame still goes out).
async fn abandoned(outbox: &Mutex<Outbox>) {
    let closing_since = poll_fn(|cx| {
        let mut outbox = lock(outbox);
        if let Some(since) = outbox.closing_since {
            return Poll::Ready(Some(since));
        }
        if outbox.senders == 0 {
            return Poll::Ready(None);
        }
        outbox.pump = Some(cx.waker().clone());
        Poll::Pending
    })
    .await;
    if let Some(since) = closing_since {
        tokio::time::sleep_until(since + CLOSE_GRACE).await;
    }
}

/// How long a close frame may wait for a client that is not reading.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Writes what the session sends until a close frame is written, a write fails, or every
/// [`Sender`] is dropped. The connection's write side is shut down at the end.
pub async fn pump<T: AsyncWrite>(side: WriteSide<T>) {
    let WriteSide { mut io, outbox } = side;
    let mut codec = Codec::new();
    loop {
        let (bytes, last) = match next(&outbox, &mut codec).await {
            Next::Stop => break,
            Next::Write { bytes, last } => (bytes, last),
        };
        let written = tokio::select! {
            res = async { io.write_all(&bytes).await?; io.flush().await } => res.is_ok(),
            () = abandoned(&outbox) => false,
        };
        drop(bytes);
        if !written || last {
            break;
        }
    }
    {
        let mut outbox = lock(&outbox);
        outbox.closing = true;
        outbox.ended = true;
        outbox.queue = VecDeque::new();
        wake_all(&mut outbox.waiting);
    }
    let _ = tokio::time::timeout(LINGER, io.shutdown()).await;
    // Closing a connection with unread bytes in it resets it, and a reset can destroy the
    // close frame before the client reads it: what the client still sends (its own close
    // frame, a pong) is read and dropped until it hangs up, for a bounded time.
    let read = poll_fn(|cx| {
        let mut outbox = lock(&outbox);
        if let Some(read) = outbox.read_half.take() {
            return Poll::Ready(Some(read));
        }
        if outbox.reader_gone {
            return Poll::Ready(None);
        }
        outbox.pump = Some(cx.waker().clone());
        Poll::Pending
    });
    if let Ok(Some(mut read)) = tokio::time::timeout(READER_WAIT, read).await {
        let _ = tokio::time::timeout(LINGER, super::frames::drain(&mut read)).await;
    }
}

/// How long a closing connection waits for the client to hang up.
const LINGER: Duration = Duration::from_secs(1);

/// How long the pump waits for the session to give the read half back (it does once its
/// close frame has gone out, or its grace for that has passed).
const READER_WAIT: Duration = Duration::from_secs(10);
