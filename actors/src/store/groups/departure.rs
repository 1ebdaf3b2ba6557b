//! Leaving a group, removing members and changing roles. A departure also records the group
//! as the member leaves it, which is what they see of it from then on (see
//! [`crate::store::former`]).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::{is_admin, load, system_message, Outcome, Record, Refusal, ADMIN, MEMBER};
use crate::on_conn;
use crate::store::chats::Participant;
use crate::store::former;
use crate::store::schema::chat_participants as cp;
use crate::store::tx::{Tx, WriteOp};
use crate::store::users::User;
use crate::store::StoreResult;

/// Removes a member (admins), or leaves (the member themself). When the last admin goes, the
/// longest-standing member becomes admin.
pub struct RemoveMember {
    pub actor: i64,
    pub chat_id: i64,
    pub target: i64,
}

impl WriteOp for RemoveMember {
    type Output = Outcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Outcome> {
        let (chat, members, actor) = match load(tx, self.chat_id, self.actor).await? {
            Ok(loaded) => loaded,
            Err(r) => return Ok(Err(r)),
        };
        let leaving = self.target == actor.id;
        if !leaving && !is_admin(&members, actor.id) {
            return Ok(Err(Refusal::NotAdmin));
        }
        let target = members
            .iter()
            .find(|(p, _)| p.user_id == self.target && p.is_current());
        let Some((_, target)) = target.cloned() else {
            return Ok(Err(Refusal::NotFound("member")));
        };
        let (now, chat_id, target_id) = (tx.now, chat.id, target.id);
        // The system message is stamped before the departure so the leaver still sees it.
        let text = if leaving {
            format!("{} left", actor.name)
        } else {
            format!("{} removed {}", actor.name, target.name)
        };
        let action = if leaving { "left" } else { "removed" };
        let data = json!({ "action": action, "actor_id": actor.id, "user_ids": [target_id] });
        let system = system_message(tx, chat_id, &actor, text, data).await?;
        on_conn!(&mut tx.conn, |c| {
            diesel::update(
                cp::table
                    .filter(cp::chat_id.eq(chat_id))
                    .filter(cp::user_id.eq(target_id)),
            )
            .set((
                cp::left_at.eq(Some(now)),
                cp::last_visible_message_id.eq(Some(system.message.id)),
                cp::role.eq(MEMBER),
            ))
            .execute(c)
            .await?
        });
        let mut roles = Vec::new();
        let rest: Vec<&(Participant, User)> = members
            .iter()
            .filter(|(p, _)| p.is_current() && p.user_id != target_id)
            .collect();
        if !rest.is_empty() && !rest.iter().any(|(p, _)| p.role == ADMIN) {
            // unwrap: `rest` is not empty.
            let heir = rest
                .iter()
                .min_by_key(|(p, _)| (p.joined_at, p.id))
                .map(|(p, _)| p.user_id)
                .unwrap();
            on_conn!(&mut tx.conn, |c| {
                diesel::update(
                    cp::table
                        .filter(cp::chat_id.eq(chat_id))
                        .filter(cp::user_id.eq(heir)),
                )
                .set(cp::role.eq(ADMIN))
                .execute(c)
                .await?
            });
            roles.push((heir, ADMIN.to_string()));
        }
        let record = Record {
            system: Some(system),
            removed: Some(target),
            roles,
            ..Record::default()
        };
        let outcome = record.finish(tx, chat_id, actor).await?;
        if let Ok(change) = &outcome {
            former::record(tx, &change.chat, &change.members, target_id).await?;
        }
        Ok(outcome)
    }
}

/// Makes a member admin or member (admins). The only admin cannot demote themself while
/// others remain.
pub struct SetRole {
    pub actor: i64,
    pub chat_id: i64,
    pub target: i64,
    pub role: &'static str,
}

impl WriteOp for SetRole {
    type Output = Outcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Outcome> {
        let (chat, members, actor) = match load(tx, self.chat_id, self.actor).await? {
            Ok(loaded) => loaded,
            Err(r) => return Ok(Err(r)),
        };
        if !is_admin(&members, actor.id) {
            return Ok(Err(Refusal::NotAdmin));
        }
        let target = members
            .iter()
            .find(|(p, _)| p.user_id == self.target && p.is_current());
        let Some((target, _)) = target else {
            return Ok(Err(Refusal::NotFound("member")));
        };
        if target.role == self.role {
            return Record::default().finish(tx, chat.id, actor).await;
        }
        let admins = members
            .iter()
            .filter(|(p, _)| p.is_current() && p.role == ADMIN)
            .count();
        let current = members.iter().filter(|(p, _)| p.is_current()).count();
        if self.role == MEMBER && admins == 1 && current > 1 {
            return Ok(Err(Refusal::LastAdmin));
        }
        let (chat_id, target_id, role) = (chat.id, target.user_id, self.role);
        on_conn!(&mut tx.conn, |c| {
            diesel::update(
                cp::table
                    .filter(cp::chat_id.eq(chat_id))
                    .filter(cp::user_id.eq(target_id)),
            )
            .set(cp::role.eq(role))
            .execute(c)
            .await?
        });
        Record {
            roles: vec![(target_id, role.to_string())],
            ..Record::default()
        }
        .finish(tx, chat_id, actor)
        .await
    }
}
