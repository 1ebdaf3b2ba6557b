//! Former members of a group see it frozen at their departure.
//!
//! The group's name, description, photo and members (with their roles and receipt cursors)
//! are a snapshot written with the departure (`former_members`), and removed when the member
//! is added back (who then sees the live group again). From the snapshot and the times kept
//! with rows, messages show as they were then: receipts from the cursors in the snapshot and
//! the receipt log up to the departure, reactions made up to it, and the text a message had
//! then (an edit keeps the text it replaces, in `message_edits`, while a former member had
//! seen the message). A deletion for everyone still reaches them: the sender took it back.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use super::chats::{Chat, Participant};
use super::messages::Message;
use super::schema::{chat_participants as cp, former_members as fm, message_edits};
use super::users::User;
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::Tx;

/// A member of the group as a former member last saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenMember {
    pub id: i64,
    pub role: String,
    pub joined_at: NaiveDateTime,
    /// Receipt cursors (delivered / read up to this message id) at the departure.
    pub delivered: i64,
    pub read: i64,
}

/// A group as one former member saw it when they left.
#[derive(Debug, Clone)]
pub struct Departure {
    pub chat_id: i64,
    pub user_id: i64,
    pub left_at: NaiveDateTime,
    pub name: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    /// The members right after the departure (the former member not among them).
    pub members: Vec<FrozenMember>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = fm)]
struct Row {
    chat_id: i64,
    user_id: i64,
    left_at: NaiveDateTime,
    name: Option<String>,
    description: Option<String>,
    avatar_url: Option<String>,
    members: String,
}

impl Row {
    fn departure(self) -> Departure {
        let members = serde_json::from_str(&self.members).unwrap_or_else(|e| {
            tracing::warn!(chat = self.chat_id, user = self.user_id, error = %e,
                "unreadable members of a former member's group");
            Vec::new()
        });
        Departure {
            chat_id: self.chat_id,
            user_id: self.user_id,
            left_at: self.left_at,
            name: self.name,
            description: self.description,
            avatar_url: self.avatar_url,
            members,
        }
    }
}

impl Departure {
    /// The chat as they saw it: its settings then, and their departure as its last change.
    pub fn chat(&self, live: &Chat) -> Chat {
        Chat {
            name: self.name.clone(),
            description: self.description.clone(),
            avatar_url: self.avatar_url.clone(),
            updated_at: self.left_at,
            ..live.clone()
        }
    }

    /// Participant rows of the members then, with their cursors then (all current, as they
    /// were): what receipts and member counts are worked out from.
    pub fn participants(&self) -> Vec<Participant> {
        self.members
            .iter()
            .map(|m| Participant {
                id: 0,
                chat_id: self.chat_id,
                user_id: m.id,
                role: m.role.clone(),
                joined_at: m.joined_at,
                left_at: None,
                last_visible_message_id: None,
                muted_until: None,
                last_delivered_message_id: m.delivered,
                last_delivered_at: None,
                last_read_message_id: m.read,
                last_read_at: None,
                archived_at: None,
                pinned_at: None,
            })
            .collect()
    }

    /// The members then with their user rows, found in `users` (a deleted user is left out).
    pub fn members_with(&self, users: &HashMap<i64, &User>) -> Vec<(Participant, User)> {
        self.participants()
            .into_iter()
            .filter_map(|p| users.get(&p.user_id).map(|u| (p, (*u).clone())))
            .collect()
    }
}

/// The users of participant rows by id (to look the members of a snapshot up in).
pub fn users_by_id(members: &[(Participant, User)]) -> HashMap<i64, &User> {
    members.iter().map(|(_, u)| (u.id, u)).collect()
}

/// Records the group as `user_id` leaves it: `chat` and `members` as they are once the
/// departure is written (a snapshot from an earlier departure is replaced).
pub async fn record(
    tx: &mut Tx<'_>,
    chat: &Chat,
    members: &[(Participant, User)],
    user_id: i64,
) -> StoreResult<()> {
    let roster: Vec<FrozenMember> = members
        .iter()
        .filter(|(p, _)| p.is_current() && p.user_id != user_id)
        .map(|(p, _)| FrozenMember {
            id: p.user_id,
            role: p.role.clone(),
            joined_at: p.joined_at,
            delivered: p.last_delivered_message_id,
            read: p.last_read_message_id,
        })
        .collect();
    let roster = serde_json::to_string(&roster)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let (chat_id, now) = (chat.id, tx.now);
    let (name, description, avatar) = (
        chat.name.clone(),
        chat.description.clone(),
        chat.avatar_url.clone(),
    );
    forget(tx, chat_id, &[user_id]).await?;
    on_conn!(&mut tx.conn, |c| {
        diesel::insert_into(fm::table)
            .values((
                fm::chat_id.eq(chat_id),
                fm::user_id.eq(user_id),
                fm::left_at.eq(now),
                fm::name.eq(&name),
                fm::description.eq(&description),
                fm::avatar_url.eq(&avatar),
                fm::members.eq(&roster),
            ))
            .execute(c)
            .await?
    });
    Ok(())
}

/// Drops the snapshots of users who are members again.
pub async fn forget(tx: &mut Tx<'_>, chat_id: i64, user_ids: &[i64]) -> StoreResult<()> {
    on_conn!(&mut tx.conn, |c| {
        diesel::delete(
            fm::table
                .filter(fm::chat_id.eq(chat_id))
                .filter(fm::user_id.eq_any(user_ids)),
        )
        .execute(c)
        .await?
    });
    Ok(())
}

/// `user_id`'s departures from the chats among `chat_ids` they left (one query).
pub async fn of_user(
    conn: &mut Conn<'_>,
    user_id: i64,
    chat_ids: &[i64],
) -> StoreResult<HashMap<i64, Departure>> {
    if chat_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<Row> = on_conn!(conn, |c| {
        fm::table
            .filter(fm::user_id.eq(user_id))
            .filter(fm::chat_id.eq_any(chat_ids))
            .select(Row::as_select())
            .load(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| (r.chat_id, r.departure()))
        .collect())
}

/// The departure of the viewer whose participant row is `me`, if they left the chat.
pub async fn of_participant(
    conn: &mut Conn<'_>,
    me: &Participant,
) -> StoreResult<Option<Departure>> {
    if me.is_current() {
        return Ok(None);
    }
    Ok(of_user(conn, me.user_id, &[me.chat_id])
        .await?
        .remove(&me.chat_id))
}

/// Whether a former member's snapshot shows this stored photo (it must stay in the store).
pub async fn photo_in_use(conn: &mut Conn<'_>, avatar_url: &str) -> StoreResult<bool> {
    let n: i64 = on_conn!(conn, |c| {
        fm::table
            .filter(fm::avatar_url.eq(avatar_url))
            .count()
            .get_result(c)
            .await?
    });
    Ok(n > 0)
}

/// Before an edit of `m`: keeps the text it replaces if a former member of the chat saw the
/// message (left after it was sent), so they go on seeing that text.
pub async fn keep_replaced_text(tx: &mut Tx<'_>, m: &Message) -> StoreResult<()> {
    let (chat_id, id, now) = (m.chat_id, m.id, tx.now);
    let seen: i64 = on_conn!(&mut tx.conn, |c| {
        cp::table
            .filter(cp::chat_id.eq(chat_id))
            .filter(cp::left_at.is_not_null())
            .filter(cp::last_visible_message_id.ge(id))
            .count()
            .get_result(c)
            .await?
    });
    if seen == 0 {
        return Ok(());
    }
    let (content, edited_at) = (m.content.clone(), m.edited_at);
    on_conn!(&mut tx.conn, |c| {
        diesel::insert_into(message_edits::table)
            .values((
                message_edits::message_id.eq(id),
                message_edits::content.eq(&content),
                message_edits::edited_at.eq(edited_at),
                message_edits::replaced_at.eq(now),
            ))
            .execute(c)
            .await?
    });
    Ok(())
}

/// With a deletion for everyone, the kept texts of the message go too.
pub async fn forget_texts(tx: &mut Tx<'_>, message_id: i64) -> StoreResult<()> {
    on_conn!(&mut tx.conn, |c| {
        diesel::delete(message_edits::table.filter(message_edits::message_id.eq(message_id)))
            .execute(c)
            .await?
    });
    Ok(())
}

/// The viewer's departures from the chats of a set of messages: how those messages show to
/// them.
#[derive(Debug, Default)]
pub struct Frozen {
    departures: HashMap<i64, Departure>,
}

impl Frozen {
    /// For `viewer`, given the participants of the chats involved: one query if they left any
    /// of them, none otherwise.
    pub async fn load(
        conn: &mut Conn<'_>,
        viewer: i64,
        members: &[(Participant, User)],
    ) -> StoreResult<Frozen> {
        let left: Vec<i64> = members
            .iter()
            .filter(|(p, _)| p.user_id == viewer && !p.is_current())
            .map(|(p, _)| p.chat_id)
            .collect();
        Ok(Frozen {
            departures: of_user(conn, viewer, &left).await?,
        })
    }

    pub fn get(&self, chat_id: i64) -> Option<&Departure> {
        self.departures.get(&chat_id)
    }

    pub fn is_empty(&self) -> bool {
        self.departures.is_empty()
    }

    /// When the viewer left this chat, if they did.
    pub fn cutoff(&self, chat_id: i64) -> Option<NaiveDateTime> {
        self.get(chat_id).map(|d| d.left_at)
    }

    /// Per message edited since the viewer left its chat: its text and edit time as they
    /// were then (one query, none when nothing was edited since).
    pub async fn texts(
        &self,
        conn: &mut Conn<'_>,
        messages: &[Message],
    ) -> StoreResult<HashMap<i64, (Option<String>, Option<NaiveDateTime>)>> {
        let cutoffs: HashMap<i64, NaiveDateTime> = messages
            .iter()
            .filter_map(|m| {
                let left = self.cutoff(m.chat_id)?;
                m.edited_at.filter(|e| *e > left).map(|_| (m.id, left))
            })
            .collect();
        if cutoffs.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = cutoffs.keys().copied().collect();
        type Kept = (i64, Option<String>, Option<NaiveDateTime>, NaiveDateTime);
        let kept: Vec<Kept> = on_conn!(conn, |c| {
            message_edits::table
                .filter(message_edits::message_id.eq_any(&ids))
                .order((message_edits::message_id, message_edits::replaced_at))
                .select((
                    message_edits::message_id,
                    message_edits::content,
                    message_edits::edited_at,
                    message_edits::replaced_at,
                ))
                .load(c)
                .await?
        });
        let mut out = HashMap::new();
        for (id, content, edited_at, replaced_at) in kept {
            // The first text replaced after the departure is the one shown then.
            if cutoffs.get(&id).is_some_and(|left| replaced_at > *left) {
                out.entry(id).or_insert((content, edited_at));
            }
        }
        Ok(out)
    }
}
