//! The engine handle the edge holds: the read pool, the writer, the clock (and, as they
//! arrive, the registry and the bus).

use actix::prelude::*;

use crate::clock::Clock;
use crate::store::{Db, StoreError, StoreResult};
use crate::writer::{Drain, Write, WriteOp, Writer};

/// Cheap to clone; every clone talks to the same actors.
#[derive(Clone)]
pub struct Engine {
    /// Read pool (writes go through `writer`).
    pub db: Db,
    pub writer: Addr<Writer>,
    pub clock: Clock,
}

impl Engine {
    /// Starts the engine's actors on the current actix system.
    pub fn start(db: Db, clock: Clock) -> Engine {
        let writer = Writer::new(db.clone(), clock.clone()).start();
        Engine { db, writer, clock }
    }

    /// Performs a write and waits for its commit.
    pub async fn write<O: WriteOp>(&self, op: O) -> StoreResult<O::Output> {
        self.writer
            .send(Write(op))
            .await
            .map_err(|_| StoreError::WriterGone)?
    }

    /// Waits until every write accepted so far is committed (shutdown).
    pub async fn drain(&self) {
        let _ = self.writer.send(Drain).await;
    }
}
