//! The read side of a socket: a stream of client messages, read through one scratch buffer
//! per thread so that a quiet socket holds no buffer of its own.

use std::cell::RefCell;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::Stream;
use tokio::io::ReadBuf;

use super::outbox::{give_back, Outbox, ReadSide};
use super::{ProtocolError, WsMessage};

/// Bytes read from a socket in one call. One buffer of this size exists per thread, not per
/// socket.
const SCRATCH_BYTES: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_BYTES].into_boxed_slice());
}

/// A message begun with a non-final frame, waiting for its continuations.
struct Partial {
    text: bool,
    bytes: BytesMut,
}

/// The client's messages, continuations joined, control frames as they come; see the module
/// docs. Ends at the end of the connection, or after the first protocol error.
pub struct Frames {
    io: ReadSide,
    /// Where the read half goes back when the session drops this.
    outbox: Arc<Mutex<Outbox>>,
    /// Bytes read but not yet parsed: empty (and unallocated) unless a frame is cut.
    pub(super) buf: BytesMut,
    codec: Codec,
    partial: Option<Partial>,
    max_frame: usize,
    done: bool,
}

impl Frames {
    pub(super) fn new(
        io: ReadSide,
        outbox: Arc<Mutex<Outbox>>,
        read_ahead: BytesMut,
        max_frame: usize,
    ) -> Self {
        // What came with the handshake is copied out of the connection's large buffer.
        let buf = match read_ahead.is_empty() {
            true => BytesMut::new(),
            false => BytesMut::from(&read_ahead[..]),
        };
        Frames {
            io,
            outbox,
            buf,
            codec: Codec::new().max_size(max_frame),
            partial: None,
            max_frame,
            done: false,
        }
    }

    /// Takes one message from the bytes read so far, if a whole one is there.
    fn parse(&mut self) -> Result<Option<WsMessage>, ProtocolError> {
        while !self.buf.is_empty() {
            let frame = self.codec.decode(&mut self.buf)?;
            if self.buf.is_empty() {
                // Give the buffer back; parsed payloads keep only their own bytes alive.
                self.buf = BytesMut::new();
            }
            let Some(frame) = frame else {
                return Ok(None);
            };
            if let Some(message) = self.join(frame)? {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// A message from a frame, or `None` while a fragmented message is incomplete.
    fn join(&mut self, frame: Frame) -> Result<Option<WsMessage>, ProtocolError> {
        Ok(Some(match frame {
            Frame::Text(bytes) => WsMessage::Text(text(bytes)?),
            Frame::Binary(bytes) => WsMessage::Binary(bytes),
            Frame::Ping(bytes) => WsMessage::Ping(bytes),
            Frame::Pong(bytes) => WsMessage::Pong(bytes),
            Frame::Close(reason) => WsMessage::Close(reason),
            Frame::Continuation(Item::FirstText(bytes)) => return self.begin(true, bytes),
            Frame::Continuation(Item::FirstBinary(bytes)) => return self.begin(false, bytes),
            Frame::Continuation(Item::Continue(bytes)) => {
                self.extend(&bytes)?;
                return Ok(None);
            }
            Frame::Continuation(Item::Last(bytes)) => {
                self.extend(&bytes)?;
                let Some(partial) = self.partial.take() else {
                    return Err(ProtocolError::ContinuationNotStarted);
                };
                let bytes = partial.bytes.freeze();
                match partial.text {
                    true => WsMessage::Text(text(bytes)?),
                    false => WsMessage::Binary(bytes),
                }
            }
        }))
    }

    fn begin(&mut self, text: bool, bytes: Bytes) -> Result<Option<WsMessage>, ProtocolError> {
        self.partial = Some(Partial {
            text,
            bytes: BytesMut::from(&bytes[..]),
        });
        Ok(None)
    }

    fn extend(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        let Some(partial) = &mut self.partial else {
            return Err(ProtocolError::ContinuationNotStarted);
        };
        if partial.bytes.len() + bytes.len() > self.max_frame {
            return Err(ProtocolError::Overflow);
        }
        partial.bytes.extend_from_slice(bytes);
        Ok(())
    }

    /// Reads what the connection has into `buf`, through the thread's scratch buffer.
    /// `Ready(Ok(0))` is the end of the connection.
    fn read(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        let buf = &mut self.buf;
        read_scratch(&mut self.io, cx, |bytes| buf.extend_from_slice(bytes))
    }
}

/// Reads what the connection has into the thread's scratch buffer and hands it to `take`;
/// answers how many bytes came (`0`: the end of the connection).
fn read_scratch(
    io: &mut ReadSide,
    cx: &mut Context<'_>,
    take: impl FnOnce(&[u8]),
) -> Poll<std::io::Result<usize>> {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let mut read = ReadBuf::new(&mut scratch[..]);
        match io.as_mut().poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                take(read.filled());
                Poll::Ready(Ok(read.filled().len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
}

impl Drop for Frames {
    fn drop(&mut self) {
        let io = std::mem::replace(&mut self.io, Box::pin(tokio::io::empty()));
        give_back(&self.outbox, io);
    }
}

/// Reads and drops what the connection still brings, until its end.
pub(super) async fn drain(io: &mut ReadSide) {
    std::future::poll_fn(|cx| loop {
        match read_scratch(io, cx, |_| ()) {
            Poll::Ready(Ok(n)) if n > 0 => continue,
            Poll::Ready(_) => return Poll::Ready(()),
            Poll::Pending => return Poll::Pending,
        }
    })
    .await
}

fn text(bytes: Bytes) -> Result<ByteString, ProtocolError> {
    ByteString::try_from(bytes)
        .map_err(|e| ProtocolError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

impl Stream for Frames {
    type Item = Result<WsMessage, ProtocolError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.parse() {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match this.read(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(ProtocolError::Io(e))));
                }
            }
        }
    }
}
