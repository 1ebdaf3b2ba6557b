//! WebSocket clients: opening `/ws` with a bearer token (up to `hello`), many at once with
//! bounded concurrency, and a reader task per socket that reads it at all times (so that
//! heartbeat pings are answered) and reports what it reads to the collector.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::collect::{Clock, Event};
use crate::progress;
use crate::setup::bounded;
use crate::wire::{self, Incoming};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type Sink = SplitSink<Ws, Message>;
type Stream = SplitStream<Ws>;

/// Small buffers: frames are small, and idle runs hold many thousands of sockets.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// A refused upgrade, with the server's status and body.
fn describe(e: WsError) -> anyhow::Error {
    match e {
        WsError::Http(res) => {
            let body = res
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned();
            anyhow!("upgrade refused: HTTP {}: {body}", res.status())
        }
        other => anyhow!("connect: {other}"),
    }
}

/// Opens `/ws` for `token` and waits for its `hello`, all within `timeout`.
pub async fn connect(ws_base: &str, token: &str, timeout: Duration) -> Result<Ws> {
    let mut req = format!("{ws_base}/ws")
        .into_client_request()
        .context("WebSocket URL")?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).context("token")?;
    req.headers_mut().insert("authorization", bearer);
    let open = async {
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config()), true)
            .await
            .map_err(describe)?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.as_str().contains("\"hello\"") => return Ok(ws),
                Some(Ok(Message::Text(t))) => bail!("expected hello, got {}", t.as_str()),
                Some(Ok(Message::Close(f))) => bail!("closed before hello: {f:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("before hello: {e}"),
                None => bail!("closed before hello"),
            }
        }
    };
    tokio::time::timeout(timeout, open)
        .await
        .map_err(|_| anyhow!("no hello within {timeout:?}"))?
}

/// Opens a socket per token, `concurrency` at a time, in order, over `bases` in turn (the
/// nodes of a cluster); fails on the first refusal.
pub async fn connect_all(
    bases: &[String],
    tokens: Vec<String>,
    concurrency: usize,
    timeout: Duration,
) -> Result<(Vec<Ws>, Duration)> {
    let total = tokens.len();
    let started = Instant::now();
    let (done, _ticker) = progress::steps("connected", total as u64, "sockets");
    let spread: Vec<(&str, String)> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| (bases[i % bases.len().max(1)].as_str(), t))
        .collect();
    let sockets = bounded(spread, concurrency, |(base, t)| {
        let done = done.clone();
        async move {
            let ws = connect(base, &t, timeout).await?;
            done.add(1);
            Ok(ws)
        }
    })
    .await?;
    let took = started.elapsed();
    progress::line(format!(
        "[setup] connected {total} sockets in {:.2} s",
        took.as_secs_f64()
    ));
    Ok((sockets, took))
}

/// What every reader needs: the run, the clock, where to report, and when to stop.
#[derive(Clone)]
pub struct ReaderCtx {
    pub run: u32,
    pub clock: Clock,
    pub events: mpsc::UnboundedSender<Event>,
    pub stop: watch::Receiver<bool>,
}

/// Reads `stream` until the socket closes or `stop` is set.
fn spawn_reader(
    mut stream: Stream,
    socket: u32,
    mut ctx: ReaderCtx,
    permits: Option<Arc<Semaphore>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let report = |e: Event| {
            let _ = ctx.events.send(e);
        };
        loop {
            let msg = tokio::select! {
                biased;
                _ = ctx.stop.wait_for(|s| *s) => return,
                m = stream.next() => m,
            };
            let text = match msg {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(f))) => {
                    let reason = f.map_or("no close frame".into(), |f| {
                        format!("close {} {}", u16::from(f.code), f.reason)
                    });
                    return report(Event::Closed { socket, reason });
                }
                Some(Ok(_)) => continue, // pings: tungstenite answers them while we read
                Some(Err(e)) => {
                    let reason = e.to_string();
                    return report(Event::Closed { socket, reason });
                }
                None => {
                    let reason = "end of stream".into();
                    return report(Event::Closed { socket, reason });
                }
            };
            let at_us = ctx.clock.now_us();
            match wire::parse(ctx.run, text.as_str()) {
                Incoming::Ack(tag) => {
                    if let Some(p) = &permits {
                        p.add_permits(1);
                    }
                    report(Event::Ack { tag, at_us });
                }
                Incoming::Refused { of, code, message } => {
                    if let (Some(p), Some(_)) = (&permits, of) {
                        p.add_permits(1);
                    }
                    report(Event::Refused { of, code, message });
                }
                Incoming::Delivery { chat, id, tag } => report(Event::Delivery {
                    socket,
                    chat,
                    id,
                    tag,
                    at_us,
                }),
                Incoming::Other => {}
            }
        }
    })
}

/// Sockets being read: their readers and the signal that stops them.
pub struct Fleet {
    readers: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Fleet {
    /// Starts a reader on each socket (socket `i` reports as `i`); `permits[i]`, when given,
    /// gets a permit back for each answer socket `i` reads. Gives back the write halves.
    pub fn start(
        sockets: Vec<Ws>,
        run: u32,
        clock: Clock,
        events: mpsc::UnboundedSender<Event>,
        mut permits: Vec<Option<Arc<Semaphore>>>,
    ) -> Result<(Fleet, Vec<Sink>)> {
        let (stop, stop_rx) = watch::channel(false);
        let ctx = ReaderCtx {
            run,
            clock,
            events,
            stop: stop_rx,
        };
        permits.resize(sockets.len(), None);
        let mut sinks = Vec::with_capacity(sockets.len());
        let mut readers = Vec::with_capacity(sockets.len());
        for (i, (ws, p)) in sockets.into_iter().zip(permits).enumerate() {
            let (sink, stream) = ws.split();
            sinks.push(sink);
            readers.push(spawn_reader(stream, u32::try_from(i)?, ctx.clone(), p));
        }
        Ok((Fleet { readers, stop }, sinks))
    }

    /// Stops the readers, then closes every socket (each within two seconds).
    pub async fn shutdown(self, sinks: Vec<Sink>) {
        let _ = self.stop.send(true);
        for r in self.readers {
            let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
        }
        close_all(sinks).await;
    }
}

/// Sends a close frame on every socket, 256 at a time, each within two seconds.
pub async fn close_all(sinks: Vec<Sink>) {
    futures_util::stream::iter(sinks)
        .for_each_concurrent(256, |mut s| async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), s.close()).await;
        })
        .await;
}
