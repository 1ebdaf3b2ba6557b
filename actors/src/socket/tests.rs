//! The lean socket against a client speaking real WebSocket frames over an in-memory pipe.

use actix_codec::{Decoder, Encoder};
use actix_http::ws::{Codec, Frame, Item, Message};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::outbox::QUEUE_MESSAGES;
use super::*;

/// A client's frames, masked as a client must.
fn client_bytes(messages: Vec<Message>) -> BytesMut {
    let mut codec = Codec::new().client_mode();
    let mut out = BytesMut::new();
    for m in messages {
        codec.encode(m, &mut out).unwrap();
    }
    out
}

fn open(max_frame: usize) -> (Socket, outbox::WriteSide<DuplexStream>, DuplexStream) {
    let (server, client) = tokio::io::duplex(64 * 1024);
    let (socket, write) = split(server, BytesMut::new(), max_frame);
    (socket, write, client)
}

/// Reads frames the server wrote until `n` have arrived.
async fn read_frames(client: &mut DuplexStream, n: usize) -> Vec<Frame> {
    let mut codec = Codec::new().client_mode();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    while frames.len() < n {
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            frames.push(f);
        }
        if frames.len() >= n {
            break;
        }
        let mut chunk = [0u8; 4096];
        let got = client.read(&mut chunk).await.unwrap();
        assert!(got > 0, "the server closed before {n} frames");
        buf.extend_from_slice(&chunk[..got]);
    }
    frames
}

#[tokio::test]
async fn messages_arrive_whole_even_when_cut_and_fragmented() {
    let (mut socket, _write, mut client) = open(1024);
    let bytes = client_bytes(vec![
        Message::Text("hello".into()),
        Message::Continuation(Item::FirstText(Bytes::from_static(b"two "))),
        Message::Ping(Bytes::from_static(b"p")),
        Message::Continuation(Item::Continue(Bytes::from_static(b"pieces "))),
        Message::Continuation(Item::Last(Bytes::from_static(b"joined"))),
    ]);
    // Byte by byte: every frame is cut in every possible place.
    for b in bytes.iter() {
        client.write_all(&[*b]).await.unwrap();
        client.flush().await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(socket.frames.next().await.unwrap().unwrap());
    }
    assert!(matches!(&got[0], WsMessage::Text(t) if t == "hello"));
    assert!(matches!(&got[1], WsMessage::Ping(p) if &p[..] == b"p"));
    assert!(matches!(&got[2], WsMessage::Text(t) if t == "two pieces joined"));
    assert_eq!(
        socket.frames.buf.capacity(),
        0,
        "a quiet socket keeps no read buffer"
    );
    drop(client);
    assert!(
        socket.frames.next().await.is_none(),
        "ends with the connection"
    );
}

#[tokio::test]
async fn oversize_frames_and_joined_messages_are_refused() {
    let (mut socket, _write, mut client) = open(16);
    let big = client_bytes(vec![Message::Text("x".repeat(17).into())]);
    client.write_all(&big).await.unwrap();
    assert!(matches!(
        socket.frames.next().await,
        Some(Err(ProtocolError::Overflow))
    ));
    assert!(socket.frames.next().await.is_none());

    let (mut socket, _write, mut client) = open(16);
    let pieces = client_bytes(vec![
        Message::Continuation(Item::FirstText(Bytes::from(vec![b'a'; 10]))),
        Message::Continuation(Item::Last(Bytes::from(vec![b'a'; 10]))),
    ]);
    client.write_all(&pieces).await.unwrap();
    assert!(matches!(
        socket.frames.next().await,
        Some(Err(ProtocolError::Overflow))
    ));
}

#[tokio::test]
async fn unmasked_frames_and_bad_text_are_protocol_errors() {
    let (mut socket, _write, mut client) = open(1024);
    let mut unmasked = BytesMut::new();
    Codec::new()
        .encode(Message::Text("hi".into()), &mut unmasked)
        .unwrap();
    client.write_all(&unmasked).await.unwrap();
    assert!(matches!(socket.frames.next().await, Some(Err(_))));

    let (mut socket, _write, mut client) = open(1024);
    let bad = client_bytes(vec![Message::Binary(Bytes::from_static(b"ok"))]);
    client.write_all(&bad).await.unwrap();
    assert!(matches!(
        socket.frames.next().await,
        Some(Ok(WsMessage::Binary(_)))
    ));
    // A text frame that is not UTF-8.
    let mut raw = BytesMut::new();
    Codec::new()
        .client_mode()
        .encode(Message::Binary(Bytes::from_static(&[0xff, 0xfe])), &mut raw)
        .unwrap();
    raw[0] = 0x81; // FIN + text
    client.write_all(&raw).await.unwrap();
    assert!(matches!(
        socket.frames.next().await,
        Some(Err(ProtocolError::Io(_)))
    ));
}

#[tokio::test]
async fn bytes_sent_with_the_handshake_are_read_first() {
    let (server, _client) = tokio::io::duplex(1024);
    let ahead = client_bytes(vec![Message::Text("early".into())]);
    let (mut socket, _write) = split(server, ahead, 1024);
    assert!(matches!(
        socket.frames.next().await,
        Some(Ok(WsMessage::Text(t))) if t == "early"
    ));
}

#[tokio::test]
async fn the_pump_writes_in_order_then_the_close_frame() {
    let (socket, write, mut client) = open(1024);
    let pump = tokio::spawn(pump(write));
    let mut sender = socket.sender;
    sender.text("one").await.unwrap();
    sender.ping(b"hb").await.unwrap();
    sender.text("two").await.unwrap();
    let mut late = sender.clone();
    let reason = CloseReason {
        code: CloseCode::Away,
        description: Some("bye".into()),
    };
    sender.close(Some(reason.clone())).await.unwrap();
    assert_eq!(late.text("after").await, Err(Closed));
    let frames = read_frames(&mut client, 4).await;
    assert_eq!(
        frames,
        vec![
            Frame::Text(Bytes::from_static(b"one")),
            Frame::Ping(Bytes::from_static(b"hb")),
            Frame::Text(Bytes::from_static(b"two")),
            Frame::Close(Some(reason)),
        ]
    );
    // The session stops: the pump reads the client's last bytes until it hangs up.
    drop(socket.frames);
    client.write_all(b"unread").await.unwrap();
    client.shutdown().await.unwrap();
    pump.await.unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "nothing after the close frame");
}

#[tokio::test]
async fn the_pump_ends_when_the_session_is_gone_even_mid_write() {
    // A pipe smaller than what is sent, and a client that never reads.
    let (server, _client) = tokio::io::duplex(64);
    let (socket, write) = split(server, BytesMut::new(), 1024);
    let pump = tokio::spawn(pump(write));
    let mut sender = socket.sender;
    sender.text("x".repeat(1000)).await.unwrap();
    drop(sender);
    drop(socket.frames);
    pump.await.unwrap();
}

#[tokio::test]
async fn a_sender_waits_while_the_queue_is_full() {
    let (server, mut client) = tokio::io::duplex(64);
    let (socket, write) = split(server, BytesMut::new(), 1024);
    let mut sender = socket.sender;
    // No pump yet: the queue fills, then the next send waits.
    for i in 0..QUEUE_MESSAGES {
        sender.text(format!("{i}")).await.unwrap();
    }
    let mut waiting = Box::pin(sender.text("last"));
    assert!(futures_util::poll!(&mut waiting).is_pending());
    let pump = tokio::spawn(pump(write));
    waiting.await.unwrap();
    let frames = read_frames(&mut client, QUEUE_MESSAGES + 1).await;
    assert_eq!(
        frames.last(),
        Some(&Frame::Text(Bytes::from_static(b"last")))
    );
    drop(sender);
    drop(socket.frames);
    drop(client);
    pump.await.unwrap();
}

#[tokio::test]
async fn a_close_frame_still_goes_out_after_the_session_is_gone() {
    // A client that is not reading while the session sends, closes and stops.
    let (server, mut client) = tokio::io::duplex(64);
    let (socket, write) = split(server, BytesMut::new(), 1024);
    let pump = tokio::spawn(pump(write));
    let mut sender = socket.sender;
    let long = "x".repeat(1000);
    sender.text(long.clone()).await.unwrap();
    let closing = tokio::spawn(sender.clone().close(Some(CloseCode::Policy.into())));
    drop(sender);
    drop(socket.frames);
    // Once it reads, it gets what was sent, then the close frame.
    let frames = read_frames(&mut client, 2).await;
    assert_eq!(frames[0], Frame::Text(Bytes::from(long)));
    assert!(
        matches!(&frames[1], Frame::Close(Some(r)) if r.code == CloseCode::Policy),
        "{frames:?}"
    );
    closing.await.unwrap().unwrap();
    drop(client);
    pump.await.unwrap();
}
