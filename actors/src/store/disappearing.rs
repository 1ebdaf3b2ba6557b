//! Disappearing messages: a per-chat timer (off, 24 hours, 7 days, 90 days) that any member of
//! a private chat, or an admin of a group, sets. A message sent while it is on carries its
//! `expires_at` (see the batched insert) and the purge removes it, with its files, once that
//! time has passed. A change of timer is a system message (which never expires itself).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::chats::{self, Chat};
use super::groups::{is_admin, Outcome, Record, Refusal};
use super::schema::{chats as chats_t, messages};
use super::StoreResult;
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// The timers a chat may have, in seconds (0: off).
pub const TIMERS: [i64; 4] = [0, 24 * 3600, 7 * 24 * 3600, 90 * 24 * 3600];

/// Messages one purge transaction removes at most.
pub const PURGE_BATCH: i64 = 500;

/// How a timer reads in the system message.
fn spoken(secs: i64) -> &'static str {
    match secs {
        86_400 => "24 hours",
        604_800 => "7 days",
        _ => "90 days",
    }
}

/// Sets chat `chat_id`'s timer to `secs` (one of [`TIMERS`]), by `actor`.
pub struct SetTimer {
    pub actor: i64,
    pub chat_id: i64,
    pub secs: i64,
}

impl WriteOp for SetTimer {
    type Output = Outcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Outcome> {
        let chat: Option<Chat> = chats::find(&mut tx.conn, self.chat_id)
            .await?
            .filter(|c| c.deleted_at.is_none());
        let Some(chat) = chat else {
            return Ok(Err(Refusal::NotFound("chat")));
        };
        let members = chats::participants(&mut tx.conn, chat.id).await?;
        let Some(actor) = members
            .iter()
            .find(|(p, _)| p.user_id == self.actor && p.is_current())
            .map(|(_, u)| u.clone())
        else {
            return Ok(Err(Refusal::NotFound("chat")));
        };
        if chat.is_group() && !is_admin(&members, actor.id) {
            return Ok(Err(Refusal::NotAdmin));
        }
        let secs = Some(self.secs).filter(|s| *s > 0);
        if secs == chat.disappearing_secs {
            return Record::default().finish(tx, chat.id, actor).await;
        }
        let (id, now) = (chat.id, tx.now);
        on_conn!(&mut tx.conn, |c| {
            diesel::update(chats_t::table.find(id))
                .set((
                    chats_t::disappearing_secs.eq(secs),
                    chats_t::updated_at.eq(now),
                ))
                .execute(c)
                .await?
        });
        let text = match secs {
            Some(s) => format!(
                "{} turned on disappearing messages: new messages go after {}",
                actor.name,
                spoken(s)
            ),
            None => format!("{} turned off disappearing messages", actor.name),
        };
        let data = json!({
            "action": "disappearing_timer",
            "actor_id": actor.id,
            "seconds": secs.unwrap_or(0),
        });
        Record::default()
            .note(tx, id, &actor, text, data)
            .await?
            .finish(tx, id, actor)
            .await
    }
}

/// What one purge transaction removed: how many messages, the stored keys of their files (to
/// remove once no row refers to them) and the chats they were in.
#[derive(Debug, Default)]
pub struct Expired {
    pub count: usize,
    pub files: Vec<String>,
    pub chats: Vec<i64>,
}

/// Removes up to [`PURGE_BATCH`] messages whose time ran out at `now` or before, with what
/// hangs on them (reactions, stars, hides; a reply to one loses its quote).
pub struct PurgeExpired {
    pub now: NaiveDateTime,
}

impl WriteOp for PurgeExpired {
    type Output = Expired;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Expired> {
        let now = self.now;
        type Due = (i64, i64, Option<String>, Option<String>);
        let due: Vec<Due> = on_conn!(&mut tx.conn, |c| {
            messages::table
                .filter(messages::expires_at.le(now))
                .order(messages::expires_at)
                .limit(PURGE_BATCH)
                .select((
                    messages::id,
                    messages::chat_id,
                    messages::media_url,
                    messages::thumbnail_url,
                ))
                .load(c)
                .await?
        });
        let ids: Vec<i64> = due.iter().map(|d| d.0).collect();
        let count = on_conn!(&mut tx.conn, |c| {
            diesel::delete(messages::table.filter(messages::id.eq_any(&ids)))
                .execute(c)
                .await?
        });
        // A reported file stays for the moderators: the report holds its key, so the removal
        // of unreferenced files leaves it.
        let files = due
            .iter()
            .flat_map(|d| [d.2.as_deref(), d.3.as_deref()])
            .flatten()
            .filter_map(|v| crate::storage::key_of(v).map(str::to_string))
            .collect();
        let mut chats: Vec<i64> = due.iter().map(|d| d.1).collect();
        chats.sort_unstable();
        chats.dedup();
        super::erasure::refresh_last_messages(tx, &chats).await?;
        Ok(Expired {
            count,
            files,
            chats,
        })
    }
}
