//! Where the registry sends a live socket's messages: a native session or a Pusher socket.
//! Both take the same messages (`Push`, `Heartbeat`, `Close`), so the registry routes one
//! way for both protocols.

use actix::prelude::*;

use crate::pusher::PusherSocket;
use crate::session::WsSession;

/// A live socket of either protocol.
#[derive(Clone)]
pub enum SessionAddr {
    Native(Addr<WsSession>),
    Pusher(Addr<PusherSocket>),
}

impl SessionAddr {
    /// Sends a message without waiting for its answer.
    pub fn do_send<M>(&self, msg: M)
    where
        M: Message + Send + 'static,
        M::Result: Send,
        WsSession: Handler<M>,
        PusherSocket: Handler<M>,
    {
        match self {
            SessionAddr::Native(a) => a.do_send(msg),
            SessionAddr::Pusher(a) => a.do_send(msg),
        }
    }
}

impl From<Addr<WsSession>> for SessionAddr {
    fn from(a: Addr<WsSession>) -> Self {
        SessionAddr::Native(a)
    }
}

impl From<Addr<PusherSocket>> for SessionAddr {
    fn from(a: Addr<PusherSocket>) -> Self {
        SessionAddr::Pusher(a)
    }
}
