//! Group invites: a user whose `groups` privacy setting does not allow an adder is invited
//! instead of added. One pending invite per (group, user), valid until it expires; accepting
//! joins the group as an add would, declining removes it.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::{Outcome, Record, Refusal};
use crate::on_conn;
use crate::store::chats::{self, Chat};
use crate::store::contacts::{relation, relations_to};
use crate::store::schema::{
    chat_participants as cp, chats as chats_t, group_invites, users as users_t,
};
use crate::store::tx::{Tx, WriteOp};
use crate::store::users::{self, User};
use crate::store::{Conn, StoreResult};

/// A group invite row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = group_invites)]
pub struct Invite {
    pub id: i64,
    pub chat_id: i64,
    /// The invitee.
    pub user_id: i64,
    pub invited_by: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// An invite a change sent, with its invitee.
#[derive(Debug, Clone)]
pub struct Invited {
    pub invite: Invite,
    pub user: User,
}

/// A pending invite as its invitee sees it: the group, who invited them, how many are in it.
#[derive(Debug, Clone)]
pub struct PendingInvite {
    pub invite: Invite,
    pub chat: Chat,
    pub inviter: User,
    pub participants_count: i64,
}

/// Splits `targets` into those `actor` may add (their `groups` setting allows the actor:
/// everyone, or contacts and they have the actor in their contacts) and those to invite.
pub(super) async fn consent(
    tx: &mut Tx<'_>,
    actor: i64,
    targets: Vec<User>,
) -> StoreResult<(Vec<User>, Vec<User>)> {
    let ids: Vec<i64> = targets.iter().map(|u| u.id).collect();
    let relations = relations_to(&mut tx.conn, &ids, actor).await?;
    Ok(targets.into_iter().partition(|u| {
        let in_contacts = relations.get(&u.id).is_some_and(|r| r.in_contacts);
        u.groups_visibility().allows(in_contacts)
    }))
}

/// Invites `users` to the group on behalf of `actor`, valid for `ttl`; an invite still
/// pending is renewed. Expired invites (of any group) are removed on the way, so the table
/// holds little more than the pending ones.
pub(super) async fn invite(
    tx: &mut Tx<'_>,
    chat_id: i64,
    actor: i64,
    users: Vec<User>,
    ttl: TimeDelta,
) -> StoreResult<Vec<Invited>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let now = tx.now;
    let expires = now + ttl;
    on_conn!(&mut tx.conn, |c| {
        diesel::delete(group_invites::table.filter(group_invites::expires_at.le(now)))
            .execute(c)
            .await?
    });
    for user_id in users.iter().map(|u| u.id) {
        on_conn!(&mut tx.conn, |c| {
            let renewed = diesel::update(
                group_invites::table
                    .filter(group_invites::chat_id.eq(chat_id))
                    .filter(group_invites::user_id.eq(user_id)),
            )
            .set((
                group_invites::invited_by.eq(actor),
                group_invites::created_at.eq(now),
                group_invites::expires_at.eq(expires),
            ))
            .execute(c)
            .await?;
            if renewed == 0 {
                diesel::insert_into(group_invites::table)
                    .values((
                        group_invites::chat_id.eq(chat_id),
                        group_invites::user_id.eq(user_id),
                        group_invites::invited_by.eq(actor),
                        group_invites::created_at.eq(now),
                        group_invites::expires_at.eq(expires),
                    ))
                    .execute(c)
                    .await?;
            }
        });
    }
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let rows: Vec<Invite> = on_conn!(&mut tx.conn, |c| {
        group_invites::table
            .filter(group_invites::chat_id.eq(chat_id))
            .filter(group_invites::user_id.eq_any(&ids))
            .select(Invite::as_select())
            .load(c)
            .await?
    });
    let mut by_user: HashMap<i64, Invite> = rows.into_iter().map(|i| (i.user_id, i)).collect();
    Ok(users
        .into_iter()
        .filter_map(|user| {
            let invite = by_user.remove(&user.id)?;
            Some(Invited { invite, user })
        })
        .collect())
}

/// `user_id`'s invite `id` if it is still pending at `now`.
pub async fn find_pending(
    conn: &mut Conn<'_>,
    id: i64,
    user_id: i64,
    now: NaiveDateTime,
) -> StoreResult<Option<Invite>> {
    Ok(on_conn!(conn, |c| {
        group_invites::table
            .find(id)
            .filter(group_invites::user_id.eq(user_id))
            .filter(group_invites::expires_at.gt(now))
            .select(Invite::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// `user_id`'s pending invites, newest first, at most `limit` (two queries).
pub async fn pending_for(
    conn: &mut Conn<'_>,
    user_id: i64,
    now: NaiveDateTime,
    limit: i64,
) -> StoreResult<Vec<PendingInvite>> {
    let rows: Vec<(Invite, Chat, User)> = on_conn!(conn, |c| {
        group_invites::table
            .inner_join(chats_t::table)
            .inner_join(users_t::table.on(users_t::id.eq(group_invites::invited_by)))
            .filter(group_invites::user_id.eq(user_id))
            .filter(group_invites::expires_at.gt(now))
            .filter(chats_t::deleted_at.is_null())
            .order((group_invites::created_at.desc(), group_invites::id.desc()))
            .limit(limit)
            .select((Invite::as_select(), Chat::as_select(), User::as_select()))
            .load(c)
            .await?
    });
    let chat_ids: Vec<i64> = rows.iter().map(|(i, _, _)| i.chat_id).collect();
    let counts: Vec<(i64, i64)> = on_conn!(conn, |c| {
        cp::table
            .filter(cp::chat_id.eq_any(&chat_ids))
            .filter(cp::left_at.is_null())
            .group_by(cp::chat_id)
            .select((cp::chat_id, diesel::dsl::count_star()))
            .load(c)
            .await?
    });
    let counts: HashMap<i64, i64> = counts.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|(invite, chat, inviter)| PendingInvite {
            participants_count: counts.get(&chat.id).copied().unwrap_or(0),
            invite,
            chat,
            inviter,
        })
        .collect())
}

/// The invitee accepts: they join the group as an add by the inviter would (a `system`
/// message, the size limit), unless they have since blocked the inviter.
pub struct AcceptInvite {
    pub user_id: i64,
    pub chat_id: i64,
    pub invite_id: i64,
    pub max_size: usize,
}

impl WriteOp for AcceptInvite {
    type Output = Outcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Outcome> {
        let gone = || Ok(Err(Refusal::NotFound("invite")));
        let invite = find_pending(&mut tx.conn, self.invite_id, self.user_id, tx.now).await?;
        let Some(invite) = invite.filter(|i| i.chat_id == self.chat_id) else {
            return gone();
        };
        let Some(chat) = chats::find(&mut tx.conn, invite.chat_id)
            .await?
            .filter(Chat::is_group)
        else {
            return gone();
        };
        let Some(user) = users::find(&mut tx.conn, self.user_id).await? else {
            return gone();
        };
        let members = chats::participants(&mut tx.conn, chat.id).await?;
        let current = members.iter().filter(|(p, _)| p.is_current()).count();
        if members
            .iter()
            .any(|(p, _)| p.user_id == user.id && p.is_current())
        {
            // Already in: nothing to join; the invite is spent.
            spend(tx, invite.id).await?;
            return Record::default().finish(tx, chat.id, user).await;
        }
        if relation(&mut tx.conn, user.id, invite.invited_by)
            .await?
            .blocked
        {
            return Ok(Err(Refusal::YouBlocked));
        }
        if current + 1 > self.max_size {
            return Ok(Err(Refusal::TooMany { max: self.max_size }));
        }
        let inviter = users::find(&mut tx.conn, invite.invited_by).await?;
        let text = match &inviter {
            Some(by) => format!("{} joined, invited by {}", user.name, by.name),
            None => format!("{} joined", user.name),
        };
        let data = json!({ "action": "joined", "invited_by": invite.invited_by });
        Record::default()
            .admit(tx, &chat, &user, vec![user.clone()], text, data)
            .await?
            .finish(tx, chat.id, user)
            .await
    }
}

async fn spend(tx: &mut Tx<'_>, id: i64) -> StoreResult<()> {
    on_conn!(&mut tx.conn, |c| {
        diesel::delete(group_invites::table.find(id))
            .execute(c)
            .await?
    });
    Ok(())
}

/// The invitee declines a pending invite. Answers whether there was one.
pub struct DeclineInvite {
    pub user_id: i64,
    pub invite_id: i64,
}

impl WriteOp for DeclineInvite {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        let (id, user_id, now) = (self.invite_id, self.user_id, tx.now);
        let n = on_conn!(&mut tx.conn, |c| {
            diesel::delete(
                group_invites::table
                    .find(id)
                    .filter(group_invites::user_id.eq(user_id))
                    .filter(group_invites::expires_at.gt(now)),
            )
            .execute(c)
            .await?
        });
        Ok(n > 0)
    }
}
