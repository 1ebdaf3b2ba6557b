//! Courier's engine: the actors (registry, sessions, chat rooms, the writer) and the store
//! they persist through. The HTTP edge (crate `courier`) depends on this crate, never the
//! reverse.

pub mod bus;
pub mod call;
pub mod clock;
pub mod cluster;
pub mod engine;
pub mod event;
pub mod export;
pub mod forward;
pub mod metrics;
pub mod moderation;
pub mod privacy;
pub mod protocol;
pub mod pusher;
pub mod ratelimit;
pub mod registry;
pub mod room;
pub mod session;
pub mod sink;
pub mod socket;
pub mod storage;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod writer;

pub use clock::Clock;
pub use engine::{Engine, Realtime};
