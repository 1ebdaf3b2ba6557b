//! WebSocket upgrades without actix-http's per-connection buffers.
//!
//! A request that asks for a WebSocket leaves actix-http's connection loop for the upgrade
//! service below, which still runs it through the whole app (routing, middleware, logs,
//! metrics, the handler's checks). A handler that accepts the socket answers with
//! [`accept`]: the `101` goes out, the connection's buffers are dropped, and the handler's
//! closure gets a lean [`Socket`] (see `courier_actors::socket`). Any other answer is written
//! as it is and the connection closes.

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_codec::{AsyncRead, AsyncWrite, Framed};
use actix_http::body::{BodySize, MessageBody};
use actix_http::h1::{Codec, Message};
use actix_http::{ConnectionType, Request};
use actix_service::{fn_factory, fn_service, Service, ServiceFactory};
use actix_web::dev::ServiceResponse;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use courier_actors::socket::{self, Socket};
use futures_util::SinkExt;
use tokio::sync::Notify;

use crate::connections::ConnSlot;
use crate::error::ApiError;

/// The upgraded sockets still open, which actix-server no longer counts: a graceful shutdown
/// waits for their close frames to go out before it stops the workers.
#[derive(Clone, Default)]
pub struct Upgraded(Arc<Open>);

#[derive(Default)]
struct Open {
    count: AtomicUsize,
    none_left: Notify,
}

/// One open socket in [`Upgraded`].
struct OpenSocket(Upgraded);

impl Upgraded {
    fn opened(&self) -> OpenSocket {
        self.0.count.fetch_add(1, Ordering::Relaxed);
        OpenSocket(self.clone())
    }

    /// Sockets open now.
    pub fn open(&self) -> usize {
        self.0.count.load(Ordering::Relaxed)
    }

    /// Resolves once no socket is open.
    pub async fn closed(&self) {
        loop {
            let none_left = self.0.none_left.notified();
            if self.open() == 0 {
                return;
            }
            none_left.await;
        }
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        if self.0 .0.count.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0 .0.none_left.notify_waiters();
        }
    }
}

/// Marks a request that came through the upgrade path: only those can become sockets.
#[derive(Clone, Copy)]
struct Upgradable;

/// What a handler that accepts a socket leaves in its `101` answer.
struct TakeOver {
    max_frame: usize,
    start: Box<dyn FnOnce(Socket)>,
}

/// Accepts a WebSocket handshake: the answer is `101`, and `start` gets the socket once that
/// answer is written. Frames over `max_frame` bytes end the socket (1009). A request that is
/// not a valid handshake gets a 400 `not_websocket`.
pub fn accept(
    req: &HttpRequest,
    max_frame: usize,
    start: impl FnOnce(Socket) + 'static,
) -> Result<HttpResponse, ApiError> {
    let refused = |why: String| {
        ApiError::bad_request("not_websocket", format!("WebSocket upgrade failed: {why}"))
    };
    if req.extensions().get::<Upgradable>().is_none() {
        return Err(refused("no upgrade requested".into()));
    }
    actix_http::ws::verify_handshake(req.head()).map_err(|e| refused(e.to_string()))?;
    let mut res = HttpResponse::from(actix_http::ws::handshake_response(req.head()).finish())
        .map_into_boxed_body();
    res.extensions_mut().insert(TakeOver {
        max_frame,
        start: Box::new(start),
    });
    Ok(res)
}

/// The upgrade service for one worker, running `app` (an instance of the whole app); the
/// sockets it opens count in `upgraded`.
pub fn service<T, A, B>(
    app: A,
    upgraded: Upgraded,
) -> impl ServiceFactory<
    (Request, Framed<T, Codec>),
    Config = (),
    Response = (),
    Error = actix_web::Error,
    InitError = (),
>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A: ServiceFactory<
            Request,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    fn_factory(move || {
        let app = app.new_service(());
        let upgraded = upgraded.clone();
        async move {
            let app = Rc::new(app.await?);
            Ok(fn_service(move |(req, framed)| {
                upgrade(app.clone(), upgraded.clone(), req, framed)
            }))
        }
    })
}

/// Runs one upgrade request through the app; an accepted socket's write side goes on in a
/// task of its own.
async fn upgrade<T, S, B>(
    app: Rc<S>,
    upgraded: Upgraded,
    req: Request,
    mut framed: Framed<T, Codec>,
) -> Result<(), actix_web::Error>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    // actix-http drops the connection's data (its place under the per-address cap with it)
    // when it hands the connection over: the socket holds the place until it closes.
    let place = req.conn_data::<Rc<ConnSlot>>().cloned();
    req.extensions_mut().insert(Upgradable);
    // Boxed: the app's future is large, and an upgrade future that held room for it inline
    // would keep that room for the socket's whole life.
    let mut res = match Box::pin(app.call(req)).await {
        Ok(res) => res.into_parts().1.map_into_boxed_body(),
        Err(e) => e.error_response(),
    };
    let take_over = res.extensions_mut().remove::<TakeOver>();
    let (mut head, body) = actix_http::Response::from(res).into_parts();
    match take_over {
        Some(TakeOver { max_frame, start }) => {
            framed.send(Message::Item((head, BodySize::None))).await?;
            let parts = framed.into_parts();
            // The connection's own buffers end here; the socket keeps none of its own.
            let (socket, write) = socket::split(parts.io, parts.read_buf, max_frame);
            drop(parts.write_buf);
            start(socket);
            // The connection's task, sized for any HTTP exchange, ends here: the write side
            // goes on in a small task of its own, holding the connection's places.
            let open = upgraded.opened();
            actix_web::rt::spawn(async move {
                socket::pump(write).await;
                drop((place, open));
            });
        }
        None => {
            head.head_mut().set_connection_type(ConnectionType::Close);
            let size = body.size();
            let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
            // One write: a client reading the refusal gets its body with its head.
            framed.feed(Message::Item((head, size))).await?;
            if !bytes.is_empty() {
                framed.feed(Message::Chunk(Some(bytes))).await?;
            }
            framed.send(Message::Chunk(None)).await?;
        }
    }
    Ok(())
}
