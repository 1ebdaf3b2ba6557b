//! Whether the server is shutting down: once it is, `/readyz` answers 503 and new WebSocket
//! connections are refused, while requests in flight finish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag shared by the server and its handlers; cloning is cheap.
#[derive(Clone, Default)]
pub struct ShutdownFlag(Arc<AtomicBool>);

impl ShutdownFlag {
    /// Marks the shutdown as started (it cannot be undone).
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_started(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
