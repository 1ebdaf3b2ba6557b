//! A WebSocket after its handshake, with memory only while frames are in flight.
//!
//! An idle socket is the bulk of a realtime server: most of them send nothing for minutes.
//! actix-ws keeps actix-http's connection buffers (two of 8 KiB) and a channel for the whole life
//! of a socket; here a socket holds no buffer at all while it is quiet:
//!
//! - [`Frames`] reads through one scratch buffer per thread, borrowed only for the read call;
//!   bytes are kept only when a frame is cut in the middle, until the rest arrives.
//! - [`Sender`] hands frames to the [`pump`], which encodes a burst into a buffer, writes it
//!   and lets the buffer go.
//!
//! Frames are parsed and encoded by actix-http's WebSocket codec; the messages the sessions see
//! are actix-ws's ([`WsMessage`]), with continuations already joined.
//!
//! The pump ends after a close frame, on a write error, or once every [`Sender`] is dropped.
//! It then shuts its side down and, once the session has dropped [`Frames`] (which hands the
//! read half back), reads what the client still sends until it hangs up (a second at most),
//! so that closing never resets a connection the close frame is still travelling on.

mod frames;
mod outbox;

pub use actix_ws::{AggregatedMessage as WsMessage, CloseCode, CloseReason, ProtocolError};
pub use frames::Frames;
pub use outbox::{pump, Closed, Sender};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

/// A socket's two ends as a session uses them.
pub struct Socket {
    /// What the client sends, frame by frame.
    pub frames: Frames,
    /// Where the session's frames go.
    pub sender: Sender,
}

/// Splits an upgraded connection: the session's [`Socket`], and the write side that
/// [`pump`] drives. `read_ahead` holds what the client sent after its handshake, already read
/// off the connection; frames over `max_frame` bytes (joined continuations included) end the
/// socket with [`ProtocolError::Overflow`].
pub fn split<T>(io: T, read_ahead: BytesMut, max_frame: usize) -> (Socket, outbox::WriteSide<T>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (read, write) = tokio::io::split(io);
    let (sender, write_side, shared) = outbox::new(write);
    let socket = Socket {
        frames: Frames::new(Box::pin(read), shared, read_ahead, max_frame),
        sender,
    };
    (socket, write_side)
}

#[cfg(test)]
mod tests;
