//! Concurrent connections per client address (and in all, within the open-file budget),
//! capped as each socket is accepted (before any HTTP is parsed, before auth), for HTTP and
//! WebSocket alike. A connection over the cap
//! gets a 429 `too_many_connections` written straight to its socket and is closed at once, so
//! one address cannot hold the server's file descriptors.
//!
//! Every admitted socket also gets `TCP_NODELAY`: answers and events are small frames that
//! must leave at once, not wait for the peer's acknowledgement of the previous one (Nagle).
//!
//! The cap counts TCP peers: behind a reverse proxy every connection comes from the proxy, so
//! there the cap belongs on the proxy (`server.max_connections_per_ip = 0` turns it off here).

use std::any::Any;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::rt::net::TcpStream;
use actix_web::ResponseError;

use crate::error::ApiError;

/// Open connections per address, and in all, shared by every worker.
pub struct ConnLimiter {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
    /// Connections open from every address: HTTP ones and WebSockets, which actix-server's
    /// own per-worker count stops counting once they are upgraded.
    total: AtomicUsize,
    /// At most this many in all (0: no cap): the sockets' share of the open-file limit.
    max_total: usize,
}

/// One admitted connection; its address's count goes down when the connection ends (actix
/// drops a connection's extensions, and this with them, when the connection closes; an
/// upgraded connection holds it until the socket closes).
pub struct ConnSlot {
    limiter: Arc<ConnLimiter>,
    key: IpAddr,
}

/// Marks a connection refused at accept: any request read from it anyway is answered 429.
#[derive(Clone, Copy)]
pub struct Refused;

impl ConnLimiter {
    /// A cap of `max` connections per address and `max_total` in all (0: no cap).
    pub fn new(max: usize, max_total: usize) -> Arc<ConnLimiter> {
        Arc::new(ConnLimiter {
            max,
            open: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
            max_total,
        })
    }

    /// Counts a new connection from `ip`, or refuses it if that address is at the cap.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnSlot> {
        let key = key_of(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if self.max > 0 && *count >= self.max {
            return None;
        }
        if self.max_total > 0 && self.total.load(Ordering::Relaxed) >= self.max_total {
            return None;
        }
        *count += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(ConnSlot {
            limiter: self.clone(),
            key,
        })
    }

    /// Connections open now, from every address.
    pub fn open_total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Connections open from `ip` now.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&key_of(ip)).copied().unwrap_or(0)
    }

    /// The `HttpServer::on_connect` callback: admits or refuses each accepted socket.
    pub fn on_connect(self: &Arc<Self>) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync {
        let limiter = self.clone();
        move |io, ext| {
            // Plain TCP, or TCP under TLS (whose handshake is done by now).
            let (stream, tls) = match io.downcast_ref::<TcpStream>() {
                Some(tcp) => (tcp, false),
                None => match io.downcast_ref::<TlsStream<TcpStream>>() {
                    Some(tls) => (tls.get_ref().0, true),
                    None => return,
                },
            };
            let Ok(peer) = stream.peer_addr() else {
                return;
            };
            match limiter.admit(peer.ip()) {
                Some(slot) => {
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "TCP_NODELAY not set");
                    }
                    // Shared: a WebSocket keeps its place after actix-http lets the
                    // connection go (see `crate::upgrade`).
                    ext.insert(Rc::new(slot));
                }
                None => {
                    tracing::debug!(ip = %peer.ip(), "connection over the per-address cap");
                    ext.insert(Refused);
                    if tls {
                        // A plain-text answer would be noise inside TLS: just hang up.
                        let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Both);
                    } else {
                        refuse(stream);
                    }
                }
            }
        }
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut open = self.limiter.open.lock().unwrap_or_else(|e| e.into_inner());
        self.limiter.total.fetch_sub(1, Ordering::Relaxed);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// IPv6 clients usually own a whole /64: they count as one address.
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

fn refused_error() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_connections",
        "too many connections from your address, or to this server; close some and try again",
    )
}

/// Answers a fresh socket 429 and shuts it down both ways, so actix sees the end of it at its
/// first read and closes it: the descriptor is held for microseconds, not for a timeout. What
/// the client already sent is read first, so that closing does not reset the connection under
/// the answer. Plain system calls on the (non-blocking) socket: tokio's own `try_read` and
/// `try_write` report "would block" until its event loop has seen the new socket.
fn refuse(stream: &TcpStream) {
    use std::io::{Read, Write};
    let socket = socket2::SockRef::from(stream);
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match (&*socket).read(&mut sink) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
    let body = refused_error().body_json();
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // A fresh socket's send buffer is empty: the few hundred bytes go in one call, or the
    // client is gone and there is nobody to tell.
    let _ = (&*socket).write(answer.as_bytes());
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

/// Middleware: a request read from a refused connection (it arrived before the shutdown) is
/// answered 429 too, never served.
pub async fn refuse_over_cap(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.conn_data::<Refused>().is_some() {
        let (http, _) = req.into_parts();
        let mut res = refused_error().error_response();
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(ServiceResponse::new(http, res));
    }
    next.call(req).await.map(|r| r.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_per_address_and_free_on_drop() {
        let limiter = ConnLimiter::new(2, 0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = limiter.admit(a).unwrap();
        let _second = limiter.admit(a).unwrap();
        assert!(limiter.admit(a).is_none(), "a third from one address");
        assert!(
            limiter.admit(b).is_some(),
            "another address has its own count"
        );
        drop(first);
        assert_eq!(limiter.open_from(a), 1);
        assert!(limiter.admit(a).is_some());
    }

    #[test]
    fn an_ipv6_client_counts_per_64_prefix() {
        let limiter = ConnLimiter::new(1, 0);
        let _one = limiter.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(limiter.admit("2001:db8:1:2::9".parse().unwrap()).is_none());
        assert!(limiter.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        let _v4 = limiter.admit(mapped).unwrap();
        assert_eq!(limiter.open_from("10.0.0.7".parse().unwrap()), 1);
    }

    #[test]
    fn the_total_cap_counts_every_address() {
        let limiter = ConnLimiter::new(0, 2);
        let a = limiter.admit("10.0.0.1".parse().unwrap()).unwrap();
        let _b = limiter.admit("10.0.0.2".parse().unwrap()).unwrap();
        assert!(limiter.admit("10.0.0.3".parse().unwrap()).is_none());
        assert_eq!(limiter.open_total(), 2);
        drop(a);
        assert!(limiter.admit("10.0.0.3".parse().unwrap()).is_some());
    }

    #[test]
    fn no_cap_when_zero() {
        let limiter = ConnLimiter::new(0, 0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let slots: Vec<_> = (0..1000).map(|_| limiter.admit(ip).unwrap()).collect();
        assert_eq!(limiter.open_from(ip), slots.len());
    }
}
