//! Presence changes through the writer: every connect and disconnect records the user's
//! presence, and a node's sockets come and go in crowds (a thousand members of a group
//! connecting, everyone reconnecting after a restart). Consecutive changes in a batch are
//! recorded together, one UPDATE per state ([`crate::store::users::set_presence`]), instead
//! of a statement (on PostgreSQL a round trip) each.

use actix::prelude::*;
use chrono::NaiveDateTime;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::oneshot;

use super::{not_committed, Job, Writer};
use crate::store::tx::Tx;
use crate::store::{StoreError, StoreResult};

/// Records `user_id` going online or offline; answers the time recorded, after the commit.
/// Queued without waiting for mailbox room (use with `do_send`).
pub struct SetPresence {
    pub user_id: i64,
    pub online: bool,
    pub reply: oneshot::Sender<StoreResult<NaiveDateTime>>,
}

impl Message for SetPresence {
    type Result = ();
}

/// A presence change waiting for its batch; `at` is set once it is recorded.
pub(super) struct PresenceSlot {
    pub user_id: i64,
    pub online: bool,
    pub at: Option<NaiveDateTime>,
}

struct PresenceJob {
    slot: PresenceSlot,
    reply: oneshot::Sender<StoreResult<NaiveDateTime>>,
}

impl Job for PresenceJob {
    fn apply<'a>(&'a mut self, _: &'a mut Tx<'_>) -> BoxFuture<'a, StoreResult<()>> {
        // Recorded by `record` with the changes next to it.
        futures_util::future::ready(Ok(())).boxed()
    }

    fn finish(self: Box<Self>, failure: Option<&StoreError>) {
        let answer = match (failure, self.slot.at) {
            (None, Some(at)) => Ok(at),
            (Some(e), _) => Err(not_committed(e)),
            (None, None) => Err(StoreError::Pool("presence was not recorded".into())),
        };
        let _ = self.reply.send(answer);
    }

    fn presence_slot(&mut self) -> Option<&mut PresenceSlot> {
        Some(&mut self.slot)
    }
}

impl Handler<SetPresence> for Writer {
    type Result = ();

    fn handle(&mut self, msg: SetPresence, ctx: &mut Self::Context) {
        self.push(Box::new(PresenceJob {
            slot: PresenceSlot {
                user_id: msg.user_id,
                online: msg.online,
                at: None,
            },
            reply: msg.reply,
        }));
        self.kick(ctx);
    }
}

/// Records a run of consecutive presence changes.
pub(super) async fn record(tx: &mut Tx<'_>, slots: &mut [&mut PresenceSlot]) -> StoreResult<()> {
    let changes: Vec<(i64, bool)> = slots.iter().map(|s| (s.user_id, s.online)).collect();
    let at = crate::store::users::set_presence(tx, &changes).await?;
    for slot in slots.iter_mut() {
        slot.at = Some(at);
    }
    Ok(())
}
