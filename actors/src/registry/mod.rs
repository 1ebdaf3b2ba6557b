//! The registry (one per node): which sessions each user has live (kept in the shared
//! [`Directory`], which deliveries read without going through the registry) and which calls
//! are running. It announces presence to those watching (see [`presence`]), and runs the one
//! heartbeat timer every session and room shares. Commands for chat rooms do not pass through
//! it: a [`RoomRouter`] on each engine thread routes them (see [`rooms`]).

mod calls;
mod directory;
mod presence;
mod rooms;

pub use calls::{CallFinished, CallFromNode, CallNews, InCall, LeftCall, StartCall, ToCall};
pub use directory::Directory;
use directory::Entry;

pub use presence::{PresenceChanged, PresenceElsewhere, Unwatch, Watch};
pub use rooms::{
    ForgetRooms, IdleSweep, MembershipChanged, RoomRouter, RoomStopped, ToRoom, MAX_BATCH_CHATS,
};

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;

use crate::call::CallActor;
use crate::engine::Engine;
use crate::session::{Close, ConnId, Heartbeat};
use crate::sink::SessionAddr;
use actix::prelude::*;

/// The registry actor; see the module docs.
pub struct Registry {
    engine: Engine,
    users: Arc<Directory>,
    calls: HashMap<i64, Addr<CallActor>>,
    /// Users in a live call (as caller, or having answered), by call.
    in_calls: HashMap<i64, HashSet<i64>>,
    /// Users in an answered call, with those calls: new calls reach them marked busy.
    busy: HashMap<i64, HashSet<i64>>,
    /// The node that runs each call another node runs that someone is in (a cluster's).
    owners: HashMap<i64, String>,
    /// Presence announcements in flight, by user: the number of the latest. Only the latest
    /// is published, so a quick connect-disconnect cannot end on a stale "online".
    presence: HashMap<i64, u64>,
    presence_counter: u64,
    /// Which sockets watch whose presence.
    watches: presence::Watches,
}

impl Registry {
    /// A registry over `users`, the directory the engine's bus delivers from.
    pub fn new(engine: Engine, users: Arc<Directory>) -> Self {
        Registry {
            engine,
            users,
            calls: HashMap::new(),
            in_calls: HashMap::new(),
            busy: HashMap::new(),
            owners: HashMap::new(),
            presence: HashMap::new(),
            presence_counter: 0,
            watches: presence::Watches::default(),
        }
    }

    /// The user's first socket on this node opened (`arrived`), or their last one closed:
    /// alone, that is their presence; in a cluster, Redis tells whether another node holds
    /// a socket of theirs (without Redis, this node's view is announced). Records the change
    /// (alone: announces it at once); the future ends once it is recorded, and announced if
    /// it was the first or last socket anywhere, and answers whether it was.
    fn record_presence(
        &mut self,
        user_id: i64,
        arrived: bool,
        ctx: &mut Context<Self>,
    ) -> Pin<Box<dyn ActorFuture<Self, Output = bool>>> {
        let Some(cluster) = self.engine.cluster.clone() else {
            self.announce_presence(user_id, arrived, ctx);
            return Box::pin(actix::fut::ready(true));
        };
        let changed = async move {
            match arrived {
                true => cluster.user_arrived(user_id).await,
                false => cluster.user_left(user_id).await,
            }
        };
        Box::pin(changed.into_actor(self).map(move |changed, _, ctx| {
            let changed = changed.unwrap_or(true);
            if changed {
                ctx.notify(PresenceChanged {
                    user_id,
                    online: arrived,
                });
            }
            changed
        }))
    }

    /// Re-arms the shared heartbeat: every tick, each session pings or times out, and each
    /// room checks whether it has been idle long enough to stop.
    fn arm_heartbeat(&self, ctx: &mut Context<Self>) {
        let sleep = self.engine.clock.sleep(self.engine.realtime.heartbeat);
        ctx.spawn(sleep.into_actor(self).map(|(), act, ctx| {
            act.users.each(|entry| entry.addr.do_send(Heartbeat));
            for router in act.engine.routers() {
                router.do_send(IdleSweep);
            }
            act.arm_heartbeat(ctx);
        }));
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.arm_heartbeat(ctx);
    }
}

/// A session opened (sent by the session when it starts). Answered once the user's presence
/// is recorded, on every node of a cluster: a session says `hello` only then, so a client that
/// has its `hello` may count on the other nodes knowing it is there.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub user_id: i64,
    pub auth_session: i64,
    pub conn: ConnId,
    pub addr: SessionAddr,
}

impl Handler<Connect> for Registry {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: Connect, ctx: &mut Self::Context) -> Self::Result {
        let entry = Entry {
            conn: msg.conn,
            auth_session: msg.auth_session,
            addr: msg.addr,
        };
        if self.users.add(msg.user_id, entry) {
            let recorded = self.record_presence(msg.user_id, true, ctx);
            self.calls_of(msg.user_id, None);
            return Box::pin(recorded.map(|_, _, _| ()));
        }
        Box::pin(actix::fut::ready(()))
    }
}

/// A session closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub user_id: i64,
    pub conn: ConnId,
}

impl Handler<Disconnect> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, ctx: &mut Self::Context) {
        // `None`: already gone (a session reports its end twice).
        if let Some(last) = self.users.remove(msg.user_id, msg.conn) {
            self.watches.drop_conn(msg.conn);
            let (user_id, conn) = (msg.user_id, msg.conn);
            if !last {
                return self.calls_of(user_id, Some((conn, false)));
            }
            // A call hears of the user's last socket once it is their last on every node.
            let recorded = self.record_presence(user_id, false, ctx);
            ctx.spawn(recorded.map(move |everywhere, act, _| {
                act.calls_of(user_id, Some((conn, everywhere)));
            }));
        }
    }
}

/// A device session ended (logout, stolen refresh token): its sockets close at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EndAuthSession {
    pub user_id: i64,
    pub auth_session: i64,
}

impl Handler<EndAuthSession> for Registry {
    type Result = ();

    fn handle(&mut self, msg: EndAuthSession, _: &mut Self::Context) {
        self.users.each_of(msg.user_id, |entry| {
            if entry.auth_session == msg.auth_session {
                entry.addr.do_send(Close {
                    code: 4001,
                    reason: "signed out",
                });
            }
        });
    }
}

/// How many sockets and rooms are live (health and tests).
#[derive(Message)]
#[rtype(result = "(usize, usize)")]
pub struct Counts;

impl Handler<Counts> for Registry {
    type Result = MessageResult<Counts>;

    fn handle(&mut self, _: Counts, _: &mut Self::Context) -> Self::Result {
        let rooms = self.engine.metrics.rooms_live.get().max(0) as usize;
        MessageResult((self.users.sessions(), rooms))
    }
}

/// Closes every socket with `code` and keeps running (the first step of a shutdown: rooms
/// and the writer still serve the requests in flight).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseSockets {
    pub code: u16,
    pub reason: &'static str,
}

impl Handler<CloseSockets> for Registry {
    type Result = usize;

    fn handle(&mut self, msg: CloseSockets, _: &mut Self::Context) -> usize {
        let mut closed = 0;
        self.users.each(|entry| {
            entry.addr.do_send(Close {
                code: msg.code,
                reason: msg.reason,
            });
            closed += 1;
        });
        closed
    }
}

/// Closes every socket and stops (server shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for Registry {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        self.users.each(|entry| {
            entry.addr.do_send(Close {
                code: 1001,
                reason: "server shutting down",
            });
        });
        self.users.clear();
        for router in self.engine.routers() {
            router.do_send(ForgetRooms);
        }
        ctx.stop();
    }
}
