//! Each member's own settings of a chat: mute (until a time), archive, pin. They change
//! nothing for the other members and are shown in the member's chat list.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::chats::Participant;
use super::schema::{chat_participants as cp, chats};
use super::StoreResult;
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// A change of one member's settings of one chat; `None` leaves a setting as it is.
pub struct SetChatSettings {
    pub chat_id: i64,
    pub user_id: i64,
    /// `Some(None)` unmutes; `Some(Some(t))` mutes until `t`.
    pub muted_until: Option<Option<NaiveDateTime>>,
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    /// Chats one user may pin at once.
    pub max_pinned: usize,
}

/// Why settings were not changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsRefusal {
    /// Not a chat the user is or was a member of.
    NotFound,
    /// The user has as many chats pinned as allowed already.
    TooManyPinned,
}

impl WriteOp for SetChatSettings {
    type Output = Result<Participant, SettingsRefusal>;

    async fn apply(
        &mut self,
        tx: &mut Tx<'_>,
    ) -> StoreResult<Result<Participant, SettingsRefusal>> {
        let (chat_id, user_id, now) = (self.chat_id, self.user_id, tx.now);
        let me: Option<Participant> = on_conn!(&mut tx.conn, |c| {
            cp::table
                .inner_join(chats::table)
                .filter(cp::chat_id.eq(chat_id))
                .filter(cp::user_id.eq(user_id))
                .filter(chats::deleted_at.is_null())
                .select(Participant::as_select())
                .first(c)
                .await
                .optional()?
        });
        let Some(me) = me else {
            return Ok(Err(SettingsRefusal::NotFound));
        };
        // Archiving a chat takes it off the pinned ones; pinning one brings it back from the
        // archive (as on a phone).
        let archived = match (self.archived, self.pinned) {
            (Some(a), _) => a,
            (None, Some(true)) => false,
            (None, _) => me.archived_at.is_some(),
        };
        let pinned = !archived && self.pinned.unwrap_or(me.pinned_at.is_some());
        if pinned && me.pinned_at.is_none() {
            let already: i64 = on_conn!(&mut tx.conn, |c| {
                cp::table
                    .inner_join(chats::table)
                    .filter(cp::user_id.eq(user_id))
                    .filter(cp::pinned_at.is_not_null())
                    .filter(chats::deleted_at.is_null())
                    .count()
                    .get_result(c)
                    .await?
            });
            if already as usize >= self.max_pinned {
                return Ok(Err(SettingsRefusal::TooManyPinned));
            }
        }
        let archived_at = if archived {
            me.archived_at.or(Some(now))
        } else {
            None
        };
        let pinned_at = if pinned {
            me.pinned_at.or(Some(now))
        } else {
            None
        };
        let muted_until = self.muted_until.unwrap_or(me.muted_until);
        Ok(Ok(on_conn!(&mut tx.conn, |c| {
            diesel::update(cp::table.find(me.id))
                .set((
                    cp::muted_until.eq(muted_until),
                    cp::archived_at.eq(archived_at),
                    cp::pinned_at.eq(pinned_at),
                ))
                .returning(Participant::as_returning())
                .get_result(c)
                .await?
        })))
    }
}
