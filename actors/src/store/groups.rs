//! Group chats: creation, settings, members and roles. Each change is one writer transaction
//! that checks the actor's rights against the database (the authority, whatever a room has
//! cached), applies the change and records it as a `system` message in the chat. Members are
//! changed in [`members`]; users who did not allow the actor to add them get an invite
//! ([`invites`]).

mod invites;
mod members;

use chrono::TimeDelta;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

pub use invites::{
    find_pending, pending_for, AcceptInvite, DeclineInvite, Invite, Invited, PendingInvite,
};
pub use members::AddMembers;

use super::chats::{self, Chat, Participant};
use super::contacts::who_blocked;
use super::message_ops::Stored;
use super::messages::Message;
use super::schema::{chat_participants as cp, chats as chats_t, group_invites, messages};
use super::users::User;
use super::StoreResult;
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

mod departure;
pub use departure::{RemoveMember, SetRole};

pub const ADMIN: &str = "admin";
pub const MEMBER: &str = "member";

/// Why a group change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such group for this user (or the target is not a member).
    NotFound(&'static str),
    /// The actor is a member but not an admin.
    NotAdmin,
    /// These ids are not users.
    Unknown(Vec<i64>),
    /// These users have blocked the actor.
    BlockedYou(Vec<i64>),
    /// The group would exceed its maximum size.
    TooMany { max: usize },
    /// The only admin cannot step down while others remain.
    LastAdmin,
    /// The invitee blocked the user who invited them: unblock to accept.
    YouBlocked,
}

/// What a change did: the group and its members afterwards, the system message, and who was
/// added, invited, removed or changed role.
#[derive(Debug, Clone)]
pub struct Change {
    pub chat: Chat,
    pub members: Vec<(Participant, User)>,
    pub system: Option<Stored>,
    pub actor: User,
    pub added: Vec<User>,
    /// Users invited instead of added (their `groups` setting did not allow the actor).
    pub invited: Vec<Invited>,
    pub removed: Option<User>,
    /// (user id, new role), including an admin appointed because the last one left.
    pub roles: Vec<(i64, String)>,
}

impl Change {
    /// Current members' ids.
    pub fn current(&self) -> Vec<i64> {
        self.members
            .iter()
            .filter(|(p, _)| p.is_current())
            .map(|(p, _)| p.user_id)
            .collect()
    }
}

pub type Outcome = Result<Change, Refusal>;

async fn user(tx: &mut Tx<'_>, id: i64) -> StoreResult<Option<User>> {
    super::users::find(&mut tx.conn, id).await
}

/// Users among `ids` that exist (and are not deleted).
async fn existing(tx: &mut Tx<'_>, ids: &[i64]) -> StoreResult<Vec<User>> {
    super::users::find_many(&mut tx.conn, ids).await
}

/// Inserts a `system` message recording a change, and makes it the chat's last message.
pub(super) async fn system_message(
    tx: &mut Tx<'_>,
    chat_id: i64,
    actor: &User,
    text: String,
    data: Value,
) -> StoreResult<Stored> {
    let id = tx.message_ids(1).await?[0];
    let (now, seq) = (tx.now, tx.next_seq().await?);
    let row = Message {
        id,
        chat_id,
        sender_id: actor.id,
        client_msg_id: None,
        reply_to_message_id: None,
        message_type: "system".into(),
        content: Some(text),
        media_url: None,
        media_size: None,
        media_duration: None,
        media_mime_type: None,
        file_name: None,
        thumbnail_url: None,
        latitude: None,
        longitude: None,
        location_name: None,
        contact_data: None,
        system_data: Some(data.to_string()),
        seq,
        sent_at: now,
        edited_at: None,
        deleted_at: None,
        updated_at: now,
        forward_count: 0,
        expires_at: None,
    };
    on_conn!(&mut tx.conn, |c| {
        diesel::insert_into(messages::table)
            .values(&row)
            .execute(c)
            .await?;
        diesel::update(chats_t::table.find(chat_id))
            .set((
                chats_t::last_message_id.eq(Some(id)),
                chats_t::updated_at.eq(now),
            ))
            .execute(c)
            .await?
    });
    // Being added to a group wakes the added users' phones.
    let added = matches!(data["action"].as_str(), Some("created" | "added"));
    if let (true, Some(ids)) = (added, data["user_ids"].as_array()) {
        let ids: Vec<i64> = ids.iter().filter_map(|v| v.as_i64()).collect();
        let notice = super::push::Notice {
            kind: super::push::Kind::GroupAdded,
            chat_id,
            message_id: Some(id),
            call_id: None,
            high_priority: false,
            expires_at: now + super::push::MESSAGE_TTL,
        };
        super::push::enqueue(tx, &ids, &notice).await?;
    }
    Ok(Stored {
        message: row,
        sender: actor.clone(),
        reply_to: None,
        after: None,
    })
}

fn names(users: &[User]) -> String {
    users
        .iter()
        .map(|u| u.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The group, its members, and the actor's row (current members only), or a refusal.
async fn load(
    tx: &mut Tx<'_>,
    chat_id: i64,
    actor: i64,
) -> StoreResult<Result<(Chat, Vec<(Participant, User)>, User), Refusal>> {
    let chat = chats::find(&mut tx.conn, chat_id)
        .await?
        .filter(Chat::is_group);
    let Some(chat) = chat else {
        return Ok(Err(Refusal::NotFound("group")));
    };
    let members = chats::participants(&mut tx.conn, chat_id).await?;
    let me = members
        .iter()
        .find(|(p, _)| p.user_id == actor && p.is_current());
    match me {
        Some((_, u)) => {
            let u = u.clone();
            Ok(Ok((chat, members, u)))
        }
        None => Ok(Err(Refusal::NotFound("group"))),
    }
}

pub(super) fn is_admin(members: &[(Participant, User)], user: i64) -> bool {
    members
        .iter()
        .any(|(p, _)| p.user_id == user && p.is_current() && p.role == ADMIN)
}

/// What a group change records besides the group itself: its system message, and who was
/// added, invited, removed or changed role. [`Record::finish`] reads the group back with it.
#[derive(Default)]
pub(super) struct Record {
    pub system: Option<Stored>,
    pub added: Vec<User>,
    pub invited: Vec<Invited>,
    pub removed: Option<User>,
    pub roles: Vec<(i64, String)>,
}

impl Record {
    /// Records the change with a `system` message by `actor`.
    pub(super) async fn note(
        mut self,
        tx: &mut Tx<'_>,
        chat_id: i64,
        actor: &User,
        text: String,
        data: Value,
    ) -> StoreResult<Self> {
        self.system = Some(system_message(tx, chat_id, actor, text, data).await?);
        Ok(self)
    }

    /// Enrolls `users` as members and records it with a `system` message by `actor`, whose
    /// `data` gains `actor_id` and `user_ids`: how creating a group, adding members and
    /// accepting an invite end.
    async fn admit(
        mut self,
        tx: &mut Tx<'_>,
        chat: &Chat,
        actor: &User,
        users: Vec<User>,
        text: String,
        mut data: Value,
    ) -> StoreResult<Self> {
        let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
        enroll(tx, chat, &ids, MEMBER).await?;
        data["actor_id"] = json!(actor.id);
        data["user_ids"] = json!(ids);
        self.added = users;
        self.note(tx, chat.id, actor, text, data).await
    }

    /// The change as done: the group and its members read back, with this record.
    pub(super) async fn finish(
        self,
        tx: &mut Tx<'_>,
        chat_id: i64,
        actor: User,
    ) -> StoreResult<Outcome> {
        let chat = chats::find(&mut tx.conn, chat_id)
            .await?
            .ok_or(diesel::result::Error::NotFound)?;
        let members = chats::participants(&mut tx.conn, chat_id).await?;
        Ok(Ok(Change {
            chat,
            members,
            system: self.system,
            actor,
            added: self.added,
            invited: self.invited,
            removed: self.removed,
            roles: self.roles,
        }))
    }
}

/// Adds users as members (or back as members), cursors at the chat's current end. An invite
/// they had to this group is spent, and someone back sees the live group again: their
/// snapshot from leaving goes.
async fn enroll(tx: &mut Tx<'_>, chat: &Chat, ids: &[i64], role: &str) -> StoreResult<()> {
    super::former::forget(tx, chat.id, ids).await?;
    let (now, last) = (tx.now, chat.last_message_id.unwrap_or(0));
    let chat_id = chat.id;
    on_conn!(&mut tx.conn, |c| {
        diesel::delete(
            group_invites::table
                .filter(group_invites::chat_id.eq(chat_id))
                .filter(group_invites::user_id.eq_any(ids)),
        )
        .execute(c)
        .await?
    });
    for &id in ids {
        let chat_id = chat.id;
        let role = role.to_string();
        on_conn!(&mut tx.conn, |c| {
            let updated = diesel::update(
                cp::table
                    .filter(cp::chat_id.eq(chat_id))
                    .filter(cp::user_id.eq(id)),
            )
            .set((
                cp::left_at.eq(None::<chrono::NaiveDateTime>),
                cp::last_visible_message_id.eq(None::<i64>),
                cp::joined_at.eq(now),
                cp::role.eq(&role),
                cp::last_delivered_message_id.eq(last),
                cp::last_read_message_id.eq(last),
            ))
            .execute(c)
            .await?;
            if updated == 0 {
                diesel::insert_into(cp::table)
                    .values((
                        cp::chat_id.eq(chat_id),
                        cp::user_id.eq(id),
                        cp::role.eq(&role),
                        cp::joined_at.eq(now),
                        cp::last_delivered_message_id.eq(last),
                        cp::last_read_message_id.eq(last),
                    ))
                    .execute(c)
                    .await?;
            }
        });
    }
    Ok(())
}

/// Refuses unknown users and users who blocked the actor.
async fn check_targets(
    tx: &mut Tx<'_>,
    actor: i64,
    ids: &[i64],
) -> StoreResult<Result<Vec<User>, Refusal>> {
    let found = existing(tx, ids).await?;
    let unknown: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !found.iter().any(|u| u.id == *id))
        .collect();
    if !unknown.is_empty() {
        return Ok(Err(Refusal::Unknown(unknown)));
    }
    let mut blocked = who_blocked(&mut tx.conn, ids, actor).await?;
    if !blocked.is_empty() {
        blocked.sort_unstable();
        return Ok(Err(Refusal::BlockedYou(blocked)));
    }
    let mut ordered = found;
    ordered.sort_by_key(|u| ids.iter().position(|id| *id == u.id));
    Ok(Ok(ordered))
}

/// Creates a group: the creator is its admin, the participants its members (or invited, as
/// their `groups` privacy setting requires; invites are valid for `invite_ttl`).
pub struct CreateGroup {
    pub creator: i64,
    pub name: String,
    pub description: Option<String>,
    /// A photo (stored key).
    pub avatar_url: Option<String>,
    pub participants: Vec<i64>,
    pub max_size: usize,
    pub invite_ttl: TimeDelta,
}

impl WriteOp for CreateGroup {
    type Output = Outcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Outcome> {
        if self.participants.len() + 1 > self.max_size {
            return Ok(Err(Refusal::TooMany { max: self.max_size }));
        }
        let Some(creator) = user(tx, self.creator).await? else {
            return Ok(Err(Refusal::Unknown(vec![self.creator])));
        };
        let targets = match check_targets(tx, creator.id, &self.participants).await? {
            Ok(users) => users,
            Err(r) => return Ok(Err(r)),
        };
        let (added, invitees) = invites::consent(tx, creator.id, targets).await?;
        let (now, name, description) = (tx.now, self.name.clone(), self.description.clone());
        let avatar = self.avatar_url.clone();
        let chat: Chat = on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(chats_t::table)
                .values((
                    chats_t::chat_type.eq("group"),
                    chats_t::name.eq(Some(name)),
                    chats_t::description.eq(description),
                    chats_t::avatar_url.eq(avatar),
                    chats_t::created_by.eq(Some(creator.id)),
                    chats_t::created_at.eq(now),
                    chats_t::updated_at.eq(now),
                ))
                .returning(Chat::as_returning())
                .get_result(c)
                .await?
        });
        enroll(tx, &chat, &[creator.id], ADMIN).await?;
        let invited = invites::invite(tx, chat.id, creator.id, invitees, self.invite_ttl).await?;
        let text = format!("{} created the group \"{}\"", creator.name, self.name);
        let data = json!({ "action": "created" });
        Record {
            invited,
            ..Record::default()
        }
        .admit(tx, &chat, &creator, added, text, data)
        .await?
        .finish(tx, chat.id, creator)
        .await
    }
}

/// Changes a group's name and/or description (admins).
pub struct UpdateGroup {
    pub actor: i64,
    pub chat_id: i64,
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    /// A new photo (stored key).
    pub avatar_url: Option<String>,
}

impl WriteOp for UpdateGroup {
    type Output = Outcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Outcome> {
        let (chat, members, actor) = match load(tx, self.chat_id, self.actor).await? {
            Ok(loaded) => loaded,
            Err(r) => return Ok(Err(r)),
        };
        if !is_admin(&members, actor.id) {
            return Ok(Err(Refusal::NotAdmin));
        }
        let name = self.name.clone().filter(|n| Some(n) != chat.name.as_ref());
        let description = self.description.clone().filter(|d| *d != chat.description);
        let avatar = self.avatar_url.clone();
        let (now, id) = (tx.now, chat.id);
        on_conn!(&mut tx.conn, |c| {
            diesel::update(chats_t::table.find(id))
                .set((
                    name.clone().map(|n| chats_t::name.eq(Some(n))),
                    description.clone().map(|d| chats_t::description.eq(d)),
                    avatar.clone().map(|a| chats_t::avatar_url.eq(Some(a))),
                    chats_t::updated_at.eq(now),
                ))
                .execute(c)
                .await?
        });
        let mut parts = Vec::new();
        if let Some(n) = &name {
            parts.push(format!("changed the group name to \"{n}\""));
        }
        if description.is_some() {
            parts.push("changed the group description".to_string());
        }
        if avatar.is_some() {
            parts.push("changed the group photo".to_string());
        }
        if parts.is_empty() {
            return Record::default().finish(tx, id, actor).await;
        }
        let text = format!("{} {}", actor.name, parts.join(" and "));
        let data = json!({
            "action": "updated",
            "actor_id": actor.id,
            "name": name,
            "description": description,
            "photo_changed": avatar.is_some(),
        });
        Record::default()
            .note(tx, id, &actor, text, data)
            .await?
            .finish(tx, id, actor)
            .await
    }
}
