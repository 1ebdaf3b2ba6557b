//! The server's metrics in Prometheus form. Each engine has its own registry (servers in one
//! process, as in the tests, count apart); the edge renders it at `/metrics`. Handles are
//! cheap to clone and share their values, so each part of the server keeps the ones it moves.

use std::fmt::Write as _;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Which wire protocol a socket speaks.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Protocol {
    pub protocol: &'static str,
}

/// The native protocol on `/ws`.
pub const NATIVE: Protocol = Protocol { protocol: "native" };

/// A socket's close code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Closed {
    pub protocol: &'static str,
    pub code: u16,
}

/// One HTTP request: its route pattern (never the raw path, so ids do not make new series).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Request {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// A route pattern.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    pub route: String,
}

/// Which limit refused something: a rate limiter key's prefix (`otp-send`, `msg`, …) or a
/// frame kind (`frame:typing`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Limit {
    pub limit: String,
}

/// A push's provider and what became of it (`sent`, `failed` for now, `dropped`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PushOutcome {
    pub platform: String,
    pub outcome: &'static str,
}

fn seconds() -> Histogram {
    // 100 µs to ~3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// Every metric the server keeps; see [`Metrics::render`] for the names.
pub struct Metrics {
    registry: Registry,
    pub sockets_open: Family<Protocol, Gauge>,
    pub socket_connects: Family<Protocol, Counter>,
    pub socket_closes: Family<Closed, Counter>,
    /// Frames queued for sockets and not yet written, over every socket.
    pub outbound_queued: Gauge,
    pub messages_stored: Counter,
    pub writer_batch_commands: Histogram,
    pub writer_commit_seconds: Histogram,
    /// Commands waiting for the writer's next transaction.
    pub writer_queued: Gauge,
    pub rooms_live: Gauge,
    pub calls_live: Gauge,
    pub http_requests: Family<Request, Counter>,
    pub http_seconds: Family<Route, Histogram, fn() -> Histogram>,
    pub rate_limited: Family<Limit, Counter>,
    pub media_bytes_stored: Counter,
    pub db_pool_wait_seconds: Histogram,
    pub pushes: Family<PushOutcome, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics {
            registry: Registry::with_prefix("courier"),
            sockets_open: Family::default(),
            socket_connects: Family::default(),
            socket_closes: Family::default(),
            outbound_queued: Gauge::default(),
            messages_stored: Counter::default(),
            writer_batch_commands: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            writer_commit_seconds: seconds(),
            writer_queued: Gauge::default(),
            rooms_live: Gauge::default(),
            calls_live: Gauge::default(),
            http_requests: Family::default(),
            http_seconds: Family::new_with_constructor(seconds),
            rate_limited: Family::default(),
            media_bytes_stored: Counter::default(),
            db_pool_wait_seconds: seconds(),
            pushes: Family::default(),
        };
        m.registered()
    }

    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "sockets_open",
            "Open WebSocket connections",
            self.sockets_open.clone(),
        );
        r.register(
            "socket_connects",
            "WebSocket connections opened",
            self.socket_connects.clone(),
        );
        r.register(
            "socket_closes",
            "WebSocket connections closed, by close code",
            self.socket_closes.clone(),
        );
        r.register(
            "outbound_queued_frames",
            "Frames queued for sockets, not yet written",
            self.outbound_queued.clone(),
        );
        r.register(
            "messages_stored",
            "New messages committed",
            self.messages_stored.clone(),
        );
        r.register(
            "writer_batch_commands",
            "Commands in each writer transaction",
            self.writer_batch_commands.clone(),
        );
        r.register(
            "writer_commit_seconds",
            "Time from the start of a writer transaction to its answers",
            self.writer_commit_seconds.clone(),
        );
        r.register(
            "writer_queued_commands",
            "Commands waiting for the writer's next transaction",
            self.writer_queued.clone(),
        );
        r.register(
            "rooms_live",
            "Chat room actors running",
            self.rooms_live.clone(),
        );
        r.register("calls_live", "Call actors running", self.calls_live.clone());
        r.register(
            "http_requests",
            "HTTP requests answered, by route pattern and status",
            self.http_requests.clone(),
        );
        r.register(
            "http_request_seconds",
            "HTTP request latency, by route pattern",
            self.http_seconds.clone(),
        );
        r.register(
            "rate_limited",
            "Requests and frames refused by a rate limit",
            self.rate_limited.clone(),
        );
        r.register(
            "media_stored_bytes",
            "Bytes of media written to the store",
            self.media_bytes_stored.clone(),
        );
        r.register(
            "db_pool_wait_seconds",
            "Time spent waiting for a database connection from the read pool",
            self.db_pool_wait_seconds.clone(),
        );
        r.register(
            "pushes",
            "Push notifications by provider and outcome (sent, failed and retried, dropped)",
            self.pushes.clone(),
        );
        self
    }

    /// Counts one push to `platform` that was `outcome` (`sent`, `failed`, `dropped`).
    pub fn push(&self, platform: &str, outcome: &'static str) {
        self.pushes
            .get_or_create(&PushOutcome {
                platform: platform.to_string(),
                outcome,
            })
            .inc();
    }

    /// Counts a refusal by the limit named `key` (up to its first `:`, so per-user and
    /// per-address keys do not make a series each).
    pub fn refused(&self, key: &str) {
        let name = key.split(':').next().unwrap_or(key);
        self.rate_limited
            .get_or_create(&Limit {
                limit: name.to_string(),
            })
            .inc();
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            // Writing to a String cannot fail; say so in the output rather than panic.
            let _ = writeln!(out, "# encoding failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_counted_under_the_courier_prefix() {
        let m = Metrics::new();
        m.messages_stored.inc_by(3);
        m.sockets_open.get_or_create(&NATIVE).inc();
        m.refused("otp-send:phone:abc");
        m.refused("otp-send:ip:127.0.0.1");
        let text = m.render();
        assert!(text.contains("courier_messages_stored_total 3"), "{text}");
        assert!(
            text.contains("courier_sockets_open{protocol=\"native\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("courier_rate_limited_total{limit=\"otp-send\"} 2"),
            "{text}"
        );
    }
}
