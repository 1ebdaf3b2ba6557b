//! Courier's engine: the actors (registry, sessions, chat rooms, calls, the writer) and the
//! store they persist through. The HTTP edge (crate `courier`) depends on this crate, never
//! the reverse.

pub mod clock;
pub mod store;
pub mod writer;

pub use clock::Clock;
pub mod engine;

pub use engine::Engine;
