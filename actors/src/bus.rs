//! The bus every delivery goes through: "send this event to the live sessions of these users".
//! [`LocalBus`] delivers on this node; a cluster bus (Redis pub/sub) fits the same trait, so
//! rooms and handlers never know how many nodes there are.

use std::sync::Arc;

use actix::prelude::*;

use crate::event::Event;
use crate::registry::Directory;
use crate::session::ConnId;

/// Deliver `event` to every live session of `users`, except the connection `skip` (the device
/// that caused it and was answered directly); with `only`, to that one connection alone (a
/// call's signalling goes to the device in the call).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Delivery {
    pub users: Vec<i64>,
    pub event: Arc<Event>,
    pub skip: Option<ConnId>,
    pub only: Option<ConnId>,
    /// For a new message: its place in its chat (see [`Order`]).
    pub order: Option<Order>,
}

/// Where a new message sits in its chat: `after` is the chat's newest message when it was
/// stored. Messages of one chat sent through different nodes of a cluster can reach a node
/// out of order (each node publishes its own); the node delivers them in this chain's order
/// (see `cluster::order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub chat_id: i64,
    pub id: i64,
    pub after: Option<i64>,
}

/// Carries deliveries to sessions.
pub trait Bus: Send + Sync + 'static {
    fn publish(&self, delivery: Delivery);
}

/// In-process bus: hands each delivery to this node's sessions, from the thread that
/// publishes it (see [`Directory`]).
pub struct LocalBus {
    pub sessions: Arc<Directory>,
}

impl Bus for LocalBus {
    fn publish(&self, delivery: Delivery) {
        self.sessions.deliver(&delivery);
    }
}
