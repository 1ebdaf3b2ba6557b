//! The engine handle the edge holds: the read pool, the writer, the registry (and through it
//! rooms and sessions), the bus, the clock and the shared rate limiter.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::prelude::*;
use chrono::NaiveDateTime;

use crate::bus::{Bus, LocalBus};
use crate::clock::Clock;
use crate::cluster::{Cluster, ClusterBus};
use crate::event::Event;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::registry::{
    CloseSockets, Directory, EndAuthSession, MembershipChanged, Registry, RoomRouter, Shutdown,
    ToRoom,
};
use crate::room::{RoomCmd, RoomError};
use crate::session::{FrameLimits, SocketSlots};
use crate::storage::Storage;
use crate::store::{Db, StoreError, StoreResult};
use crate::writer::{Drain, Probe, Submit, Write, WriteOp, Writer};

mod jobs;

pub use jobs::{SweepError, AUTH_RETENTION, JANITOR_EVERY};

/// Realtime limits and timings (from the `[realtime]` and `[limits]` configuration).
#[derive(Debug, Clone)]
pub struct Realtime {
    pub heartbeat: Duration,
    pub client_timeout: Duration,
    pub outbound_queue: usize,
    pub max_frame_bytes: usize,
    pub typing_ttl: Duration,
    pub room_idle: Duration,
    pub messages_per_minute: u32,
    /// Most members a group may have.
    pub max_group_size: usize,
    /// An unanswered call is missed after this long.
    pub ring_timeout: Duration,
    /// A call ends this long after a participant's last device disconnected.
    pub call_disconnect_grace: Duration,
    /// Largest `call-signal` payload, in bytes of JSON.
    pub max_signal_bytes: usize,
    /// Frames each connection may send, per kind and per minute.
    pub frames: FrameLimits,
    /// Frames read from one socket and not yet answered; the socket is not read beyond this.
    pub max_frames_in_flight: usize,
    /// Sockets one user may hold open at once.
    pub max_sockets_per_user: usize,
    /// At most one `user-typing` event per typist and chat in this time.
    pub typing_interval: Duration,
    /// Users one socket may watch the presence of.
    pub max_presence_watch: usize,
    /// Threads that run chat rooms and calls (0: one per core).
    pub engine_threads: usize,
    /// The content filter and automatic defences.
    pub moderation: Arc<crate::moderation::Policy>,
    /// Purge windows and the chat list's pin limit.
    pub privacy: crate::privacy::Policy,
}

impl Default for Realtime {
    fn default() -> Self {
        Realtime {
            heartbeat: Duration::from_secs(20),
            client_timeout: Duration::from_secs(60),
            outbound_queue: 256,
            max_frame_bytes: 64 * 1024,
            typing_ttl: Duration::from_secs(6),
            room_idle: Duration::from_secs(300),
            messages_per_minute: 60,
            max_group_size: 1024,
            ring_timeout: Duration::from_secs(45),
            call_disconnect_grace: Duration::from_secs(10),
            max_signal_bytes: 16 * 1024,
            frames: FrameLimits::default(),
            max_frames_in_flight: 16,
            max_sockets_per_user: 10,
            typing_interval: Duration::from_secs(3),
            max_presence_watch: 256,
            engine_threads: 0,
            moderation: Arc::default(),
            privacy: crate::privacy::Policy::default(),
        }
    }
}

/// Cheap to clone; every clone talks to the same actors.
#[derive(Clone)]
pub struct Engine {
    /// Read pool (writes go through `writer`).
    pub db: Db,
    pub writer: Addr<Writer>,
    pub registry: Addr<Registry>,
    pub bus: Arc<dyn Bus>,
    pub clock: Clock,
    pub limiter: Arc<RateLimiter>,
    pub realtime: Arc<Realtime>,
    /// Open sockets per user, capped at `realtime.max_sockets_per_user` (on every node
    /// together, in a cluster).
    pub sockets: Arc<SocketSlots>,
    /// Media objects and their signed links.
    pub storage: Storage,
    /// The other nodes, in cluster mode.
    pub cluster: Option<Arc<Cluster>>,
    /// What the server counts, for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The live sockets of this node, by user and device session.
    pub sessions: Arc<Directory>,
    writer_thread: ArbiterHandle,
    /// The threads rooms and calls run on (see [`Engine::thread_for`]).
    threads: Arc<[ArbiterHandle]>,
    /// The room router of each of those threads, in the same order; set once, as the engine
    /// starts, before anything can send a room a command.
    routers: Arc<OnceLock<Box<[Addr<RoomRouter>]>>>,
}

impl Engine {
    /// Starts the engine's actors on the current actix system. `db` serves reads; `write_db`
    /// is the writer's own pool, used only on the writer's thread.
    pub fn start(
        db: Db,
        write_db: Db,
        clock: Clock,
        realtime: Realtime,
        storage: Storage,
    ) -> Engine {
        Engine::start_in(db, write_db, clock, realtime, storage, None)
    }

    /// Like [`Engine::start`], as a node of `cluster` when there is one.
    pub fn start_in(
        db: Db,
        write_db: Db,
        clock: Clock,
        realtime: Realtime,
        mut storage: Storage,
        cluster: Option<Arc<Cluster>>,
    ) -> Engine {
        let metrics = Arc::new(Metrics::new());
        let db = db.observe_waits(metrics.db_pool_wait_seconds.clone());
        storage.count_into(metrics.media_bytes_stored.clone());
        // The writer gets a thread of its own, and a pool of its own: a PostgreSQL connection
        // does its I/O on the thread that opened it, so the writer's connections are opened
        // (lazily, on first use) on the writer's thread, away from busy HTTP workers.
        let writer_thread = Arbiter::new().handle();
        let (writer_clock, writer_metrics) = (clock.clone(), metrics.clone());
        let writer = Writer::start_in_arbiter(&writer_thread, move |_| {
            Writer::new(write_db, writer_clock, writer_metrics)
        });
        // Rooms and calls spread over threads of their own, so that routing, fan-out and one
        // busy chat do not all share one core.
        let count = match realtime.engine_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let threads: Arc<[ArbiterHandle]> = (0..count).map(|_| Arbiter::new().handle()).collect();
        let limiter = RateLimiter::new(clock.clone())
            .counting_into(metrics.clone())
            .shared_by(cluster.clone());
        let limiter = Arc::new(limiter);
        let sockets = SocketSlots::new(realtime.max_sockets_per_user, realtime.frames.clone())
            .shared_by(cluster.clone());
        let sockets = Arc::new(sockets);
        let realtime = Arc::new(realtime);
        let mut engine = None;
        let sessions = Arc::new(Directory::default());
        let bus: Arc<dyn Bus> = match &cluster {
            Some(cluster) => Arc::new(ClusterBus {
                sessions: sessions.clone(),
                cluster: cluster.clone(),
            }),
            None => Arc::new(LocalBus {
                sessions: sessions.clone(),
            }),
        };
        let registry_sessions = sessions.clone();
        Registry::create(|ctx| {
            let e = Engine {
                db,
                writer,
                registry: ctx.address(),
                bus,
                clock,
                limiter,
                realtime,
                sockets,
                storage,
                cluster,
                metrics,
                sessions: sessions.clone(),
                writer_thread,
                threads,
                routers: Arc::default(),
            };
            engine = Some(e.clone());
            Registry::new(e, registry_sessions)
        });
        // unwrap: `create` runs its closure before returning.
        let engine: Engine = engine.unwrap();
        let routers = engine
            .threads
            .iter()
            .map(|thread| {
                let e = engine.clone();
                RoomRouter::start_in_arbiter(thread, move |_| RoomRouter::new(e))
            })
            .collect();
        // Nothing has seen this engine yet but the registry, which routes no room commands.
        let _ = engine.routers.set(routers);
        if let Some(cluster) = &engine.cluster {
            cluster.run(engine.clone(), sessions);
        }
        jobs::spawn_janitor(&engine);
        crate::privacy::spawn_purge(engine.clone());
        crate::privacy::spawn_expiry(engine.clone());
        jobs::spawn_orphan_sweep(&engine);
        engine
    }

    /// The thread the actor of chat or call `id` runs on: always the same one for an id, so a
    /// chat's room keeps one queue and its order.
    pub fn thread_for(&self, id: i64) -> &ArbiterHandle {
        &self.threads[id.rem_euclid(self.threads.len() as i64) as usize]
    }

    /// Performs a write and waits for its commit.
    pub async fn write<O: WriteOp>(&self, op: O) -> StoreResult<O::Output> {
        self.writer
            .send(Write(op))
            .await
            .map_err(|_| StoreError::WriterGone)?
    }

    /// Records `user_id` going online or offline (with the presence changes queued beside
    /// it) and answers the time recorded, after the commit.
    pub async fn set_presence(&self, user_id: i64, online: bool) -> StoreResult<NaiveDateTime> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer.do_send(crate::writer::SetPresence {
            user_id,
            online,
            reply,
        });
        answer.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// Returns once every message acknowledged so far can be found by search: on SQLite the
    /// writer indexes new messages in batches ([`crate::writer::IndexForSearch`]); PostgreSQL's
    /// index follows each insert.
    pub async fn index_for_search(&self) -> StoreResult<()> {
        match self.db.backend_name() {
            "sqlite" => self.write(crate::writer::IndexForSearch).await,
            _ => Ok(()),
        }
    }

    /// Answers once the writer has taken its locks in a transaction (nothing is written):
    /// writes are not stuck. Health checks call it.
    pub async fn check_writer(&self) -> StoreResult<()> {
        self.writer
            .send(Probe)
            .await
            .map_err(|_| StoreError::WriterGone)?
    }

    /// Queues a write in order with everything submitted before it; the answer comes after
    /// the commit.
    pub fn submit<O: WriteOp>(
        &self,
        op: O,
    ) -> tokio::sync::oneshot::Receiver<StoreResult<O::Output>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer.do_send(Submit { op, reply });
        answer
    }

    /// An event, its stored media keys turned into signed links (every recipient may see them).
    pub fn event(
        &self,
        name: &'static str,
        channel: String,
        seq: Option<i64>,
        mut data: serde_json::Value,
    ) -> Arc<Event> {
        self.storage.sign_links(&mut data);
        Event::new(name, channel, seq, data)
    }

    /// The room routers, one per engine thread.
    pub fn routers(&self) -> &[Addr<RoomRouter>] {
        self.routers.get().map_or(&[], |r| r)
    }

    /// The router of chat `chat_id`'s room: the one on [`Engine::thread_for`] the chat.
    fn router_for(&self, chat_id: i64) -> Option<&Addr<RoomRouter>> {
        let routers = self.routers();
        routers.get(chat_id.rem_euclid(routers.len().max(1) as i64) as usize)
    }

    /// Hands a command to the chat's room.
    pub fn room(&self, chat_id: i64, cmd: RoomCmd) {
        match self.router_for(chat_id) {
            Some(router) => router.do_send(ToRoom { chat_id, cmd }),
            None => cmd.refuse(RoomError::Store(StoreError::WriterGone)),
        }
    }

    /// Tells the chat's running rooms, on this node and every other, that its membership
    /// or blocks changed.
    pub fn membership_changed(&self, chat_id: i64) {
        self.reload_room(chat_id);
        actix::spawn(self.reload_elsewhere(chat_id));
    }

    /// Like [`Engine::membership_changed`], and resolves once every other live node of a
    /// cluster has the reload queued ahead of any later command for the chat (or after the
    /// forward timeout): what a request answers after this holds on every node.
    pub async fn membership_changed_everywhere(&self, chat_id: i64) {
        self.reload_room(chat_id);
        self.reload_elsewhere(chat_id).await;
    }

    /// Tells the chat's rooms on the other nodes of a cluster to load its members and blocks
    /// again; resolves once each live node has the reload queued (see
    /// [`Cluster::reload_everywhere`](crate::cluster::Cluster::reload_everywhere)).
    pub fn reload_elsewhere(
        &self,
        chat_id: i64,
    ) -> impl std::future::Future<Output = ()> + 'static {
        let cluster = self.cluster.clone();
        async move {
            if let Some(cluster) = cluster {
                cluster.reload_everywhere(chat_id).await;
            }
        }
    }

    /// Tells the chat's room on this node, if it runs, to load its members and blocks again.
    pub(crate) fn reload_room(&self, chat_id: i64) {
        if let Some(router) = self.router_for(chat_id) {
            router.do_send(MembershipChanged { chat_id });
        }
    }

    /// Closes the sockets of a device session that ended, on every node.
    pub fn end_auth_session(&self, user_id: i64, auth_session: i64) {
        self.registry.do_send(EndAuthSession {
            user_id,
            auth_session,
        });
        self.tell_other_nodes(crate::cluster::wire::Body::EndSession {
            user_id,
            auth_session,
        });
    }

    /// Queues `body` for the other nodes of a cluster (alone: nothing to do).
    pub(crate) fn tell_other_nodes(&self, body: crate::cluster::wire::Body<'_>) {
        if let Some(cluster) = &self.cluster {
            cluster.broadcast(body);
        }
    }

    /// Sends every open socket its close frame (1001, going away) and answers how many
    /// there were; rooms, calls and the writer go on serving (the first step of a shutdown).
    pub async fn close_sockets(&self) -> usize {
        self.registry
            .send(CloseSockets {
                code: 1001,
                reason: "server shutting down",
            })
            .await
            .unwrap_or(0)
    }

    /// Waits until every write accepted so far is committed (shutdown).
    pub async fn drain(&self) {
        let _ = self.writer.send(Drain).await;
    }

    /// Closes every socket and stops the registry and rooms, then drains the writer.
    pub async fn shutdown(&self) {
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
        let _ = self.registry.send(Shutdown).await;
        self.drain().await;
        self.writer_thread.stop();
        for thread in self.threads.iter() {
            thread.stop();
        }
    }
}
