//! Chats and their participants: lookups, the chat list, private-chat creation.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{chat_participants, chats, message_hides, messages, users};
use super::users::User;
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// A chat row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chats)]
pub struct Chat {
    pub id: i64,
    pub chat_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    pub created_by: Option<i64>,
    pub private_key: Option<String>,
    pub last_message_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
    /// The disappearing-messages timer in seconds (None: off).
    pub disappearing_secs: Option<i64>,
}

impl Chat {
    pub fn is_group(&self) -> bool {
        self.chat_type == "group"
    }
}

/// A participant row: membership, role and the member's receipt cursors.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chat_participants)]
pub struct Participant {
    pub id: i64,
    pub chat_id: i64,
    pub user_id: i64,
    pub role: String,
    pub joined_at: NaiveDateTime,
    pub left_at: Option<NaiveDateTime>,
    /// For a former member: the last message they may see.
    pub last_visible_message_id: Option<i64>,
    pub muted_until: Option<NaiveDateTime>,
    pub last_delivered_message_id: i64,
    pub last_delivered_at: Option<NaiveDateTime>,
    pub last_read_message_id: i64,
    pub last_read_at: Option<NaiveDateTime>,
    /// Set while the member keeps the chat archived.
    pub archived_at: Option<NaiveDateTime>,
    /// Set while the member keeps the chat pinned to the top of their list.
    pub pinned_at: Option<NaiveDateTime>,
}

impl Participant {
    pub fn is_current(&self) -> bool {
        self.left_at.is_none()
    }

    /// Whether the member has the chat muted at `now`.
    pub fn is_muted(&self, now: NaiveDateTime) -> bool {
        self.muted_until.is_some_and(|t| t > now)
    }
}

/// Which chats a list shows, by the caller's archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchiveFilter {
    /// Every chat.
    #[default]
    All,
    /// Only those the caller archived.
    Archived,
    /// Only those the caller did not archive.
    NotArchived,
}

/// A live chat by id.
pub async fn find(conn: &mut Conn<'_>, id: i64) -> StoreResult<Option<Chat>> {
    Ok(on_conn!(conn, |c| {
        chats::table
            .find(id)
            .filter(chats::deleted_at.is_null())
            .select(Chat::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// The chat if `user_id` is a current participant of it (the gate for every chat read).
pub async fn find_for_member(
    conn: &mut Conn<'_>,
    id: i64,
    user_id: i64,
) -> StoreResult<Option<(Chat, Participant)>> {
    Ok(on_conn!(conn, |c| {
        chats::table
            .inner_join(chat_participants::table)
            .filter(chats::id.eq(id))
            .filter(chats::deleted_at.is_null())
            .filter(chat_participants::user_id.eq(user_id))
            .filter(chat_participants::left_at.is_null())
            .select((Chat::as_select(), Participant::as_select()))
            .first(c)
            .await
            .optional()?
    }))
}

/// Which of the `(chat_id, user_id)` pairs are a current participant of a live chat (one
/// query, whatever their number: the gate for starting many rooms at once).
pub async fn current_members_among(
    conn: &mut Conn<'_>,
    pairs: &[(i64, i64)],
) -> StoreResult<HashSet<(i64, i64)>> {
    if pairs.is_empty() {
        return Ok(HashSet::new());
    }
    let chat_ids: Vec<i64> = pairs.iter().map(|p| p.0).collect();
    let user_ids: Vec<i64> = pairs.iter().map(|p| p.1).collect();
    // Every chat with every user: a superset of the pairs, kept to the pairs below.
    let rows: Vec<(i64, i64)> = on_conn!(conn, |c| {
        chat_participants::table
            .inner_join(chats::table)
            .filter(chat_participants::chat_id.eq_any(&chat_ids))
            .filter(chat_participants::user_id.eq_any(&user_ids))
            .filter(chat_participants::left_at.is_null())
            .filter(chats::deleted_at.is_null())
            .select((chat_participants::chat_id, chat_participants::user_id))
            .load(c)
            .await?
    });
    let wanted: HashSet<(i64, i64)> = pairs.iter().copied().collect();
    Ok(rows.into_iter().filter(|p| wanted.contains(p)).collect())
}

/// Every participant of a chat (former ones included) with their user rows.
pub async fn participants(
    conn: &mut Conn<'_>,
    chat_id: i64,
) -> StoreResult<Vec<(Participant, User)>> {
    Ok(on_conn!(conn, |c| {
        chat_participants::table
            .inner_join(users::table)
            .filter(chat_participants::chat_id.eq(chat_id))
            .order(chat_participants::id)
            .select((Participant::as_select(), User::as_select()))
            .load(c)
            .await?
    }))
}

/// Which chat each message belongs to, for messages of chats `user_id` is a current member of
/// (the others are left out, unknown ids too).
pub async fn chats_of_messages(
    conn: &mut Conn<'_>,
    user_id: i64,
    ids: &[i64],
) -> StoreResult<HashMap<i64, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64)> = on_conn!(conn, |c| {
        messages::table
            .inner_join(
                chat_participants::table.on(chat_participants::chat_id
                    .eq(messages::chat_id)
                    .and(chat_participants::user_id.eq(user_id))
                    .and(chat_participants::left_at.is_null())),
            )
            .filter(messages::id.eq_any(ids))
            .select((messages::id, messages::chat_id))
            .load(c)
            .await?
    });
    Ok(rows.into_iter().collect())
}

/// One page of a user's chat list, newest activity first, and everything needed to show it,
/// in a fixed number of queries whatever the page size.
pub struct ChatPage {
    pub total: i64,
    /// The page's chats with the caller's own participant row.
    pub chats: Vec<(Chat, Participant)>,
    /// Every participant (with user) of the page's chats.
    pub members: Vec<(Participant, User)>,
    /// The last message of each chat that has one.
    pub last_messages: HashMap<i64, super::messages::Message>,
    /// Unread messages per chat (from others, after the caller's read cursor, not deleted).
    pub unread: HashMap<i64, i64>,
}

/// The caller's chats: pinned ones first (the latest pinned first), then by newest activity.
pub async fn list_for_user(
    conn: &mut Conn<'_>,
    user_id: i64,
    archive: ArchiveFilter,
    limit: i64,
    offset: i64,
) -> StoreResult<ChatPage> {
    let (only_archived, only_active) = (
        archive == ArchiveFilter::Archived,
        archive == ArchiveFilter::NotArchived,
    );
    let total: i64 = on_conn!(conn, |c| {
        let mut q = chat_participants::table
            .inner_join(chats::table)
            .filter(chat_participants::user_id.eq(user_id))
            .filter(chats::deleted_at.is_null())
            .into_boxed();
        if only_archived {
            q = q.filter(chat_participants::archived_at.is_not_null());
        }
        if only_active {
            q = q.filter(chat_participants::archived_at.is_null());
        }
        q.count().get_result(c).await?
    });
    let page: Vec<(Chat, Participant)> = on_conn!(conn, |c| {
        // A group the user left last changed, for them, when they left.
        let activity =
            diesel::dsl::case_when(chat_participants::left_at.is_null(), chats::updated_at)
                .otherwise(chat_participants::left_at.assume_not_null());
        let mut q = chats::table
            .inner_join(chat_participants::table)
            .filter(chat_participants::user_id.eq(user_id))
            .filter(chats::deleted_at.is_null())
            .into_boxed();
        if only_archived {
            q = q.filter(chat_participants::archived_at.is_not_null());
        }
        if only_active {
            q = q.filter(chat_participants::archived_at.is_null());
        }
        q.order((
            chat_participants::pinned_at.is_null(),
            chat_participants::pinned_at.desc(),
            activity.desc(),
            chats::id.desc(),
        ))
        .limit(limit)
        .offset(offset)
        .select((Chat::as_select(), Participant::as_select()))
        .load(c)
        .await?
    });
    let ids: Vec<i64> = page.iter().map(|(c, _)| c.id).collect();
    let last_ids: Vec<i64> = page
        .iter()
        .filter_map(|(c, p)| last_visible(c, p))
        .collect();
    let members: Vec<(Participant, User)> = on_conn!(conn, |c| {
        chat_participants::table
            .inner_join(users::table)
            .filter(chat_participants::chat_id.eq_any(&ids))
            .select((Participant::as_select(), User::as_select()))
            .load(c)
            .await?
    });
    let last = last_messages(conn, user_id, &last_ids).await?;
    let unread = unread_counts(conn, user_id, &ids).await?;
    Ok(ChatPage {
        total,
        chats: page,
        members,
        last_messages: last.into_iter().map(|m| (m.chat_id, m)).collect(),
        unread,
    })
}

/// The last message a participant may see: the chat's, or for a former member the one
/// recording their departure.
pub fn last_visible(chat: &Chat, me: &Participant) -> Option<i64> {
    if me.is_current() {
        chat.last_message_id
    } else {
        me.last_visible_message_id
    }
}

/// The last messages of chats as `user_id` sees them, from each chat's last visible message
/// id: a message the user hid ("delete for me") gives way to the one before it.
pub async fn last_messages(
    conn: &mut Conn<'_>,
    user_id: i64,
    last_ids: &[i64],
) -> StoreResult<Vec<super::messages::Message>> {
    use super::messages::Message;
    let last: Vec<Message> = on_conn!(conn, |c| {
        messages::table
            .filter(messages::id.eq_any(last_ids))
            .select(Message::as_select())
            .load(c)
            .await?
    });
    let hidden: Vec<i64> = on_conn!(conn, |c| {
        message_hides::table
            .filter(message_hides::user_id.eq(user_id))
            .filter(message_hides::message_id.eq_any(last_ids))
            .select(message_hides::message_id)
            .load(c)
            .await?
    });
    let mut out = Vec::with_capacity(last.len());
    for m in last {
        if !hidden.contains(&m.id) {
            out.push(m);
            continue;
        }
        // Rare (the user hid the newest message): one look-up for that chat.
        let before: Option<Message> = on_conn!(conn, |c| {
            messages::table
                .filter(messages::chat_id.eq(m.chat_id))
                .filter(messages::id.lt(m.id))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    message_hides::table
                        .filter(message_hides::message_id.eq(messages::id))
                        .filter(message_hides::user_id.eq(user_id)),
                )))
                .order(messages::id.desc())
                .select(Message::as_select())
                .first(c)
                .await
                .optional()?
        });
        out.extend(before);
    }
    Ok(out)
}

/// Unread messages per chat for a user: from others, after their read cursor, not deleted or
/// hidden,
/// and (for a former member) sent before they left. One grouped query.
pub async fn unread_counts(
    conn: &mut Conn<'_>,
    user_id: i64,
    chat_ids: &[i64],
) -> StoreResult<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> =
        on_conn!(conn, |c| {
            messages::table
                .inner_join(
                    chat_participants::table.on(chat_participants::chat_id
                        .eq(messages::chat_id)
                        .and(chat_participants::user_id.eq(user_id))),
                )
                .filter(messages::chat_id.eq_any(chat_ids))
                .filter(messages::id.gt(chat_participants::last_read_message_id))
                .filter(messages::sender_id.ne(user_id))
                .filter(messages::deleted_at.is_null())
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    message_hides::table
                        .filter(message_hides::message_id.eq(messages::id))
                        .filter(message_hides::user_id.eq(user_id)),
                )))
                .filter(chat_participants::left_at.is_null().or(
                    messages::id.le(chat_participants::last_visible_message_id.assume_not_null()),
                ))
                .group_by(messages::chat_id)
                .select((messages::chat_id, diesel::dsl::count_star()))
                .load(c)
                .await?
        });
    Ok(rows.into_iter().collect())
}

/// Finds or creates the one private chat between two users. Two concurrent calls still make
/// one chat: the writer runs them one after the other, and `private_key` is unique.
pub struct GetOrCreatePrivate {
    pub user_id: i64,
    pub other_id: i64,
}

impl WriteOp for GetOrCreatePrivate {
    /// The chat, and whether it was created now.
    type Output = (Chat, bool);

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<(Chat, bool)> {
        let now = tx.now;
        let (lo, hi) = (
            self.user_id.min(self.other_id),
            self.user_id.max(self.other_id),
        );
        let key = format!("{lo}:{hi}");
        let existing: Option<Chat> = on_conn!(&mut tx.conn, |c| {
            chats::table
                .filter(chats::private_key.eq(&key))
                .select(Chat::as_select())
                .first(c)
                .await
                .optional()?
        });
        if let Some(chat) = existing {
            return Ok((chat, false));
        }
        let creator = self.user_id;
        let chat: Chat = on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(chats::table)
                .values((
                    chats::chat_type.eq("private"),
                    chats::created_by.eq(Some(creator)),
                    chats::private_key.eq(Some(key.clone())),
                    chats::created_at.eq(now),
                    chats::updated_at.eq(now),
                ))
                .returning(Chat::as_returning())
                .get_result(c)
                .await?
        });
        for user in [lo, hi] {
            on_conn!(&mut tx.conn, |c| {
                diesel::insert_into(chat_participants::table)
                    .values((
                        chat_participants::chat_id.eq(chat.id),
                        chat_participants::user_id.eq(user),
                        chat_participants::role.eq("member"),
                        chat_participants::joined_at.eq(now),
                    ))
                    .execute(c)
                    .await?
            });
        }
        Ok((chat, true))
    }
}

/// The private chat between two users, if there is one.
pub async fn find_private(conn: &mut Conn<'_>, a: i64, b: i64) -> StoreResult<Option<Chat>> {
    let key = format!("{}:{}", a.min(b), a.max(b));
    Ok(on_conn!(conn, |c| {
        chats::table
            .filter(chats::private_key.eq(&key))
            .select(Chat::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// Live chats by id (one query).
pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> StoreResult<Vec<Chat>> {
    Ok(on_conn!(conn, |c| {
        chats::table
            .filter(chats::id.eq_any(ids))
            .select(Chat::as_select())
            .load(c)
            .await?
    }))
}

/// Like [`participants_of`], with only each user's id and name.
pub async fn participants_named(
    conn: &mut Conn<'_>,
    chat_ids: &[i64],
) -> StoreResult<Vec<(Participant, (i64, String))>> {
    Ok(on_conn!(conn, |c| {
        chat_participants::table
            .inner_join(users::table)
            .filter(chat_participants::chat_id.eq_any(chat_ids))
            .select((Participant::as_select(), (users::id, users::name)))
            .load(c)
            .await?
    }))
}

/// Every participant (with user) of several chats (one query).
pub async fn participants_of(
    conn: &mut Conn<'_>,
    chat_ids: &[i64],
) -> StoreResult<Vec<(Participant, User)>> {
    Ok(on_conn!(conn, |c| {
        chat_participants::table
            .inner_join(users::table)
            .filter(chat_participants::chat_id.eq_any(chat_ids))
            .select((Participant::as_select(), User::as_select()))
            .load(c)
            .await?
    }))
}
