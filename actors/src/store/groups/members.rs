//! Adding members to a group (or inviting them, as each user's `groups` privacy setting
//! requires). Leaving, removals and roles are in `departure`.

use chrono::TimeDelta;
use serde_json::json;

use super::invites::{consent, invite};
use super::{check_targets, is_admin, load, names, Outcome, Record, Refusal};
use crate::store::tx::{Tx, WriteOp};
use crate::store::StoreResult;

/// Adds members (admins). Users already in the group are skipped; users whose `groups`
/// privacy setting does not allow the actor get an invite instead (valid for `invite_ttl`).
pub struct AddMembers {
    pub actor: i64,
    pub chat_id: i64,
    pub user_ids: Vec<i64>,
    pub max_size: usize,
    pub invite_ttl: TimeDelta,
}

impl WriteOp for AddMembers {
    type Output = Outcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Outcome> {
        let (chat, members, actor) = match load(tx, self.chat_id, self.actor).await? {
            Ok(loaded) => loaded,
            Err(r) => return Ok(Err(r)),
        };
        if !is_admin(&members, actor.id) {
            return Ok(Err(Refusal::NotAdmin));
        }
        let current: Vec<i64> = members
            .iter()
            .filter(|(p, _)| p.is_current())
            .map(|(p, _)| p.user_id)
            .collect();
        let mut seen = std::collections::HashSet::new();
        let new: Vec<i64> = self
            .user_ids
            .iter()
            .copied()
            .filter(|id| !current.contains(id) && seen.insert(*id))
            .collect();
        if current.len() + new.len() > self.max_size {
            return Ok(Err(Refusal::TooMany { max: self.max_size }));
        }
        let targets = match check_targets(tx, actor.id, &new).await? {
            Ok(users) => users,
            Err(r) => return Ok(Err(r)),
        };
        // A user is invited (counted above as a member to be) rather than added unless their
        // setting allows the actor.
        let (added, invitees) = consent(tx, actor.id, targets).await?;
        let invited = invite(tx, chat.id, actor.id, invitees, self.invite_ttl).await?;
        let record = Record {
            invited,
            ..Record::default()
        };
        let record = if added.is_empty() {
            record
        } else {
            let text = format!("{} added {}", actor.name, names(&added));
            let data = json!({ "action": "added" });
            record.admit(tx, &chat, &actor, added, text, data).await?
        };
        record.finish(tx, chat.id, actor).await
    }
}
