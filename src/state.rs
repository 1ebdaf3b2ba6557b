//! What every request handler can reach.

use std::sync::Arc;

use courier_actors::store::StoreError;
use courier_actors::writer::WriteOp;

use courier_actors::pusher::Hub;
use courier_actors::Engine;

use crate::config::Settings;
use crate::error::ApiResult;
use crate::secrets::Secrets;
use crate::shutdown::ShutdownFlag;
use crate::sms::SmsSender;
use crate::tokens::Tokens;

/// Shared application state (one per server, behind `web::Data`).
pub struct AppState {
    pub settings: Settings,
    pub engine: Engine,
    /// The same engine behind one shared pointer, for the sessions: each socket holds a
    /// pointer rather than a copy of its handles.
    pub shared_engine: Arc<Engine>,
    pub tokens: Tokens,
    pub secrets: Secrets,
    pub sms: Box<dyn SmsSender>,
    /// Set when a shutdown starts.
    pub shutdown: ShutdownFlag,
    /// The Pusher protocol's hub, when `[pusher]` has an app key.
    pub pusher: Option<Arc<Hub>>,
    /// The push providers this server is configured for.
    pub push: Arc<crate::push::Providers>,
}

impl AppState {
    /// An answer with its media links signed for the caller.
    pub fn signed<T: crate::api::links::SignLinks>(&self, mut answer: T) -> T {
        answer.sign_links(&self.engine.storage);
        answer
    }

    /// Performs a write through the writer and waits for its commit.
    pub async fn write<O: WriteOp>(&self, op: O) -> ApiResult<O::Output> {
        self.engine
            .write(op)
            .await
            .map_err(|e: StoreError| e.into())
    }
}
