//! The purge of messages deleted for everyone. Deleting a message for everyone removes its
//! content and files at once and leaves a marker row, so that every device shows "this
//! message was deleted"; the purge removes the marker itself once it is older than
//! `privacy.message_purge_after_days` (at most 30 days, as the PRD promises).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::messages;
use super::StoreResult;
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// Messages one purge transaction removes at most.
pub const PURGE_BATCH: i64 = 500;

/// Removes up to [`PURGE_BATCH`] messages deleted for everyone at `before` or earlier, with
/// what hangs on them (hides, edits; a reply to one loses its quote). Chats whose newest
/// message went show the one before it. Answers how many were removed.
pub struct PurgeDeletedMessages {
    pub before: NaiveDateTime,
}

impl WriteOp for PurgeDeletedMessages {
    type Output = usize;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<usize> {
        let before = self.before;
        let (gone, mut chats) = on_conn!(&mut tx.conn, |c| {
            let due: Vec<(i64, i64)> = messages::table
                .filter(messages::deleted_at.le(before))
                .order(messages::deleted_at)
                .limit(PURGE_BATCH)
                .select((messages::id, messages::chat_id))
                .load(c)
                .await?;
            let ids: Vec<i64> = due.iter().map(|(id, _)| *id).collect();
            let n = diesel::delete(messages::table.filter(messages::id.eq_any(&ids)))
                .execute(c)
                .await?;
            (
                n,
                due.into_iter().map(|(_, chat)| chat).collect::<Vec<i64>>(),
            )
        });
        chats.sort_unstable();
        chats.dedup();
        super::erasure::refresh_last_messages(tx, &chats).await?;
        Ok(gone)
    }
}
