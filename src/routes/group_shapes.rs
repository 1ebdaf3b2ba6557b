//! What the JSON and the multipart forms of the group routes share: the checks of a new
//! group's input, and the answers to a group's creation.

use std::collections::HashSet;

use courier_actors::store::groups::Change;
use serde_json::Value;

use crate::api::groups::{GroupCreated, GroupSummary};
use crate::error::{ApiError, ApiResult};
use crate::routes::group_limits::outcome;
use crate::state::AppState;
use crate::validate;

const MAX_DESCRIPTION: usize = 512;

/// A list of user ids without repeats (422 naming the repeated ones).
pub fn distinct(field: &str, ids: &[i64]) -> ApiResult<()> {
    let mut seen = HashSet::new();
    let mut repeated: Vec<i64> = ids.iter().copied().filter(|id| !seen.insert(*id)).collect();
    if repeated.is_empty() {
        return Ok(());
    }
    repeated.dedup();
    Err(ApiError {
        ids: Some(repeated),
        ..ApiError::invalid(field, "lists the same user more than once")
    })
}

/// `description`: absent (keep), `null` or `""` (clear), or text up to 512 characters.
pub fn description_of(value: Option<Value>) -> ApiResult<Option<Option<String>>> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(validate::text(
            "description",
            &s,
            1,
            MAX_DESCRIPTION,
        )?))),
        Some(_) => Err(ApiError::invalid("description", "must be a string or null")),
    }
}

/// A new group's participants: no repeats, not the creator, within the size limit.
pub fn check_participants(state: &AppState, creator: i64, ids: &[i64]) -> ApiResult<()> {
    distinct("participants", ids)?;
    if ids.contains(&creator) {
        return Err(ApiError::invalid(
            "participants",
            "must not include yourself (you are added as admin)",
        ));
    }
    if ids.len() + 1 > state.settings.limits.max_group_size {
        return Err(ApiError {
            code: "group_full",
            ..ApiError::invalid(
                "participants",
                format!(
                    "a group has at most {} members",
                    state.settings.limits.max_group_size
                ),
            )
        });
    }
    Ok(())
}

pub fn summary(change: &Change) -> GroupSummary {
    let c = &change.chat;
    GroupSummary {
        id: c.id,
        name: c.name.clone(),
        description: c.description.clone(),
        avatar_url: c.avatar_url.clone(),
        created_by: c.created_by,
        participants_count: change.current().len(),
        created_at: c.created_at.and_utc(),
        updated_at: c.updated_at.and_utc(),
    }
}

/// The answer to a group's creation: the group, who was added and who was invited.
pub fn created(change: &Change) -> GroupCreated {
    let (added_members, invited) = outcome(change);
    GroupCreated {
        group: summary(change),
        added_members,
        invited,
    }
}
