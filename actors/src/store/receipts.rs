//! Delivery and read receipts as per-member cursors.
//!
//! Each member has a delivered cursor and a read cursor (the highest message id their devices
//! confirmed). A message is `delivered` when every other current member's delivered cursor has
//! passed it, `read` likewise. Each cursor move is one row in `receipt_events`, so "when was
//! message m delivered to u" is the time of u's first move to an id >= m. Receipts cost one
//! row per move, never one per message per recipient.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::chats::Participant;
use super::messages::Message;
use super::schema::{chat_participants, messages, receipt_events};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// Which cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Delivered,
    Read,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Delivered => "delivered",
            Kind::Read => "read",
        }
    }
    fn parse(s: &str) -> Kind {
        if s == "read" {
            Kind::Read
        } else {
            Kind::Delivered
        }
    }
}

/// A receipt row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = receipt_events)]
pub struct ReceiptEvent {
    pub id: i64,
    pub chat_id: i64,
    pub user_id: i64,
    pub kind: String,
    pub up_to_message_id: i64,
    pub seq: i64,
    pub at: NaiveDateTime,
}

impl ReceiptEvent {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind)
    }
}

/// A cursor that moved.
#[derive(Debug, Clone)]
pub struct Moved {
    pub kind: Kind,
    pub from: i64,
    pub to: i64,
    pub at: NaiveDateTime,
    pub seq: i64,
}

/// What moving a cursor did.
#[derive(Debug, Clone)]
pub struct CursorMove {
    /// Each cursor that moved (read moves delivered along).
    pub moved: Vec<Moved>,
    /// When the requested cursor reached where it is now (None: it never moved).
    pub at: Option<NaiveDateTime>,
}

/// Moves a member's cursor forward to `up_to` (never back). Moving the read cursor moves the
/// delivered cursor too: what was read was delivered. Answers None when `up_to` is not a
/// message of this chat or the user is not a current member.
pub struct MoveCursor {
    pub chat_id: i64,
    pub user_id: i64,
    pub kind: Kind,
    pub up_to: i64,
}

impl WriteOp for MoveCursor {
    type Output = Option<CursorMove>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Option<CursorMove>> {
        let (chat, user, up_to) = (self.chat_id, self.user_id, self.up_to);
        let in_chat: i64 = on_conn!(&mut tx.conn, |c| {
            messages::table
                .filter(messages::id.eq(up_to))
                .filter(messages::chat_id.eq(chat))
                .count()
                .get_result(c)
                .await?
        });
        if in_chat == 0 {
            return Ok(None);
        }
        type Cursors = (i64, Option<NaiveDateTime>, i64, Option<NaiveDateTime>);
        let current: Option<Cursors> = on_conn!(&mut tx.conn, |c| {
            chat_participants::table
                .filter(chat_participants::chat_id.eq(chat))
                .filter(chat_participants::user_id.eq(user))
                .filter(chat_participants::left_at.is_null())
                .select((
                    chat_participants::last_delivered_message_id,
                    chat_participants::last_delivered_at,
                    chat_participants::last_read_message_id,
                    chat_participants::last_read_at,
                ))
                .first(c)
                .await
                .optional()?
        });
        let Some((delivered, delivered_at, read, read_at)) = current else {
            return Ok(None);
        };
        let mut kinds = Vec::new();
        if delivered < up_to {
            kinds.push((Kind::Delivered, delivered));
        }
        if self.kind == Kind::Read && read < up_to {
            kinds.push((Kind::Read, read));
        }
        let now = tx.now;
        let mut moved = Vec::new();
        for (kind, from) in kinds {
            let seq = tx.next_seq().await?;
            on_conn!(&mut tx.conn, |c| {
                let target = chat_participants::table
                    .filter(chat_participants::chat_id.eq(chat))
                    .filter(chat_participants::user_id.eq(user));
                match kind {
                    Kind::Delivered => {
                        diesel::update(target)
                            .set((
                                chat_participants::last_delivered_message_id.eq(up_to),
                                chat_participants::last_delivered_at.eq(Some(now)),
                            ))
                            .execute(c)
                            .await?
                    }
                    Kind::Read => {
                        diesel::update(target)
                            .set((
                                chat_participants::last_read_message_id.eq(up_to),
                                chat_participants::last_read_at.eq(Some(now)),
                            ))
                            .execute(c)
                            .await?
                    }
                };
                diesel::insert_into(receipt_events::table)
                    .values((
                        receipt_events::chat_id.eq(chat),
                        receipt_events::user_id.eq(user),
                        receipt_events::kind.eq(kind.as_str()),
                        receipt_events::up_to_message_id.eq(up_to),
                        receipt_events::seq.eq(seq),
                        receipt_events::at.eq(now),
                    ))
                    .execute(c)
                    .await?
            });
            moved.push(Moved {
                kind,
                from,
                to: up_to,
                at: now,
                seq,
            });
        }
        let at = if moved.iter().any(|m| m.kind == self.kind) {
            Some(now)
        } else if self.kind == Kind::Read {
            read_at
        } else {
            delivered_at
        };
        Ok(Some(CursorMove { moved, at }))
    }
}

/// When each member's cursors passed the messages of a page (ids `lo..=hi`, in one or
/// several chats).
pub struct ReceiptLog {
    /// In-range moves per (chat, user, kind), ascending.
    moves: HashMap<(i64, i64, Kind), Vec<(i64, NaiveDateTime)>>,
    /// Per (chat, user, kind): when the cursor first passed `hi`.
    beyond: HashMap<(i64, i64, Kind), NaiveDateTime>,
}

impl ReceiptLog {
    /// Two queries for any page size and any number of chats.
    pub async fn load(
        conn: &mut Conn<'_>,
        chat_ids: &[i64],
        lo: i64,
        hi: i64,
    ) -> StoreResult<ReceiptLog> {
        let rows: Vec<ReceiptEvent> = on_conn!(conn, |c| {
            receipt_events::table
                .filter(receipt_events::chat_id.eq_any(chat_ids))
                .filter(receipt_events::up_to_message_id.between(lo, hi))
                .order(receipt_events::up_to_message_id)
                .select(ReceiptEvent::as_select())
                .load(c)
                .await?
        });
        // A member's moves only go forward in time, so the earliest move past `hi` is the
        // first time their cursor passed it.
        let beyond: Vec<(i64, i64, String, Option<NaiveDateTime>)> = on_conn!(conn, |c| {
            receipt_events::table
                .filter(receipt_events::chat_id.eq_any(chat_ids))
                .filter(receipt_events::up_to_message_id.gt(hi))
                .group_by((
                    receipt_events::chat_id,
                    receipt_events::user_id,
                    receipt_events::kind,
                ))
                .select((
                    receipt_events::chat_id,
                    receipt_events::user_id,
                    receipt_events::kind,
                    diesel::dsl::min(receipt_events::at),
                ))
                .load(c)
                .await?
        });
        let mut moves: HashMap<(i64, i64, Kind), Vec<(i64, NaiveDateTime)>> = HashMap::new();
        for r in rows {
            moves
                .entry((r.chat_id, r.user_id, r.kind()))
                .or_default()
                .push((r.up_to_message_id, r.at));
        }
        Ok(ReceiptLog {
            moves,
            beyond: beyond
                .into_iter()
                .filter_map(|(chat, u, k, at)| Some(((chat, u, Kind::parse(&k)), at?)))
                .collect(),
        })
    }

    /// Leaves out the moves in `chat` made after `at` (for someone who left it then).
    pub fn forget_after(&mut self, chat: i64, at: NaiveDateTime) {
        for (key, moves) in self.moves.iter_mut() {
            if key.0 == chat {
                moves.retain(|(_, t)| *t <= at);
            }
        }
        // The earliest move past the page: if it came later, none before `at` did.
        self.beyond.retain(|key, t| key.0 != chat || *t <= at);
    }

    /// When `user`'s `kind` cursor in `chat` first reached `message_id`.
    pub fn first_at(
        &self,
        chat: i64,
        user: i64,
        kind: Kind,
        message_id: i64,
    ) -> Option<NaiveDateTime> {
        self.moves
            .get(&(chat, user, kind))
            .and_then(|v| {
                v.iter()
                    .find(|(up_to, _)| *up_to >= message_id)
                    .map(|(_, at)| *at)
            })
            .or_else(|| self.beyond.get(&(chat, user, kind)).copied())
    }
}

/// Status of one message for its sender: `sent`, `delivered` (every recipient's device has
/// it) or `read` (every recipient read it), with the time the last recipient got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub status: &'static str,
    pub delivered_at: Option<NaiveDateTime>,
    pub read_at: Option<NaiveDateTime>,
}

/// Computes a message's status from its chat members' cursors and the log.
/// Recipients: current members other than the sender who had joined when it was sent.
pub fn status_of(m: &Message, members: &[&Participant], log: Option<&ReceiptLog>) -> Status {
    let (message_id, sender_id, sent_at) = (m.id, m.sender_id, m.sent_at);
    let recipients: Vec<&Participant> = members
        .iter()
        .copied()
        .filter(|p| {
            p.chat_id == m.chat_id
                && p.is_current()
                && p.user_id != sender_id
                && p.joined_at <= sent_at
        })
        .collect();
    let all = |kind: Kind| {
        !recipients.is_empty()
            && recipients.iter().all(|p| match kind {
                Kind::Delivered => p.last_delivered_message_id >= message_id,
                Kind::Read => p.last_read_message_id >= message_id,
            })
    };
    let time = |kind: Kind| -> Option<NaiveDateTime> {
        let log = log?;
        recipients
            .iter()
            .map(|p| log.first_at(m.chat_id, p.user_id, kind, message_id))
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    };
    let delivered = all(Kind::Delivered);
    let read = all(Kind::Read);
    Status {
        status: if read {
            "read"
        } else if delivered {
            "delivered"
        } else {
            "sent"
        },
        delivered_at: if delivered {
            time(Kind::Delivered)
        } else {
            None
        },
        read_at: if read { time(Kind::Read) } else { None },
    }
}

/// Per recipient, when a message was delivered to and read by them (`GET …/info`), counting
/// only cursor moves up to `until` when given (for a sender who left the chat then).
pub async fn times_for_message(
    conn: &mut Conn<'_>,
    chat_id: i64,
    message_id: i64,
    until: Option<NaiveDateTime>,
) -> StoreResult<HashMap<(i64, Kind), NaiveDateTime>> {
    let rows: Vec<(i64, String, Option<NaiveDateTime>)> = on_conn!(conn, |c| {
        receipt_events::table
            .filter(receipt_events::chat_id.eq(chat_id))
            .filter(receipt_events::up_to_message_id.ge(message_id))
            .group_by((receipt_events::user_id, receipt_events::kind))
            .select((
                receipt_events::user_id,
                receipt_events::kind,
                diesel::dsl::min(receipt_events::at),
            ))
            .load(c)
            .await?
    });
    // The earliest move: if it came after `until`, none came before.
    Ok(rows
        .into_iter()
        .filter_map(|(u, k, at)| Some(((u, Kind::parse(&k)), at?)))
        .filter(|(_, at)| until.is_none_or(|t| *at <= t))
        .collect())
}
