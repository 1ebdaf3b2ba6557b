//! Hostile clients must not stall the server: bodies and headers have deadlines, connections
//! are capped per address, the open-file limit is never exhausted by sockets, and a stalled
//! database answers 503 in bounded time. Raw sockets here, since well-behaved HTTP clients
//! cannot misbehave on purpose.

mod fds;
mod http;
mod storage;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A TCP connection to `addr` from the loopback address `from` (Linux accepts any 127.x
/// source, so one machine can play several clients).
pub async fn connect_from(from: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().expect("an IPv4 address"))?;
    socket.connect(addr).await
}

/// The server's address from a test app's base URL.
pub fn socket_addr(base: &str) -> SocketAddr {
    base.trim_start_matches("http://")
        .parse()
        .expect("http://ip:port")
}

/// Everything the server sends until it closes the connection; None if it is still open after
/// `within` (the server did not hang up in time).
pub async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one HTTP answer's head and body (the body up to `content-length`).
pub async fn read_answer(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= len {
                return Some(text);
            }
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return (!got.is_empty()).then_some(text),
        }
    }
}

/// Waits until a new connection from `from` is served again (the address's count went down).
pub async fn wait_until_admitted(from: &str, addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = connect_from(from, addr).await.unwrap();
        match health_on(&mut again).await.as_deref() {
            Some("HTTP/1.1 200 OK") => return,
            other => assert!(Instant::now() < deadline, "still refused: {other:?}"),
        }
        tokio::task::yield_now().await;
    }
}

/// Sends `GET /api/health` on an open connection and answers the status line.
pub async fn health_on(stream: &mut TcpStream) -> Option<String> {
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nhost: courier\r\n\r\n")
        .await
        .ok()?;
    let answer = read_answer(stream, Duration::from_secs(5)).await?;
    answer.lines().next().map(str::to_string)
}

#[test]
fn deadlines_that_are_off_or_do_not_fit_are_refused() {
    for (key, value) in [
        ("COURIER__SERVER__BODY_TIMEOUT_MS", "0"),
        ("COURIER__SERVER__HEADER_TIMEOUT_MS", "10"),
        ("COURIER__MEDIA__UPLOAD_TIMEOUT_MS", "0"),
        ("COURIER__DATABASE__TIMEOUT_MS", "50"),
        ("COURIER__SERVER__REQUEST_TIMEOUT_MS", "5000"),
        ("COURIER__SERVER__KEEP_ALIVE_SECS", "86400"),
    ] {
        let env = [(key.to_string(), value.to_string())].into_iter().collect();
        let err = courier::Settings::load_from(None, env).unwrap_err();
        assert!(
            err.0.contains(&key[10..].to_lowercase().replace("__", ".")),
            "{key}: {err}"
        );
    }
}
