//! WebSocket upgrades without actix-http's per-connection buffers.
//!
//! A request that asks for a WebSocket leaves actix-http's connection loop for the upgrade
//! service below, which still runs it through the whole app (routing, middleware, logs,
//! metrics, the handler's checks). A handler that accepts the socket answers with
//! [`accept`]: the `101` goes out, the connection's buffers are dropped, and the handler's
//! closure gets a lean [`Socket`] (see `courier_actors::socket`). Any other answer is written
//! as it is and the connection closes.

use std::rc::Rc;

use actix_codec::{AsyncRead, AsyncWrite, Framed};
use actix_http::body::{BodySize, MessageBody};
use actix_http::h1::{Codec, Message};
use actix_http::{ConnectionType, Request};
use actix_service::{fn_factory, fn_service, Service, ServiceFactory};
use actix_web::dev::ServiceResponse;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use courier_actors::socket::{self, Socket};
use futures_util::SinkExt;

use crate::connections::ConnSlot;
use crate::error::ApiError;

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

/// The upgrade service for one worker, running `app` (an instance of the whole app).
pub fn service<T, A, B>(
    app: A,
) -> impl ServiceFactory<
    (Request, Framed<T, Codec>),
    Config = (),
    Response = (),
    Error = actix_web::Error,
    InitError = (),
>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
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
        async move {
            let app = Rc::new(app.await?);
            Ok(fn_service(move |(req, framed)| {
                upgrade(app.clone(), req, framed)
            }))
        }
    })
}

/// Runs one upgrade request through the app; for an accepted socket, lives as long as the
/// socket's write side.
async fn upgrade<T, S, B>(
    app: Rc<S>,
    req: Request,
    mut framed: Framed<T, Codec>,
) -> Result<(), actix_web::Error>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    // actix-http drops the connection's data (its place under the per-address cap with it)
    // when it hands the connection over: the socket holds the place until it closes.
    let place = req.conn_data::<Rc<ConnSlot>>().cloned();
    req.extensions_mut().insert(Upgradable);
    let mut res = match app.call(req).await {
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
            socket::pump(write).await;
            drop(place);
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
