//! Per-user limits on groups: how many a user creates (`limits.groups_per_hour`) and how many
//! users they add to groups or invite to them (`limits.group_adds_per_hour`). A request takes
//! its share before it writes anything; what it does not use (a refusal, users who were
//! members already) is given back.

use std::sync::Arc;

use chrono::TimeDelta;
use courier_actors::ratelimit::RateLimiter;
use courier_actors::store::groups::Change;

use crate::api::common::Named;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A share of a limit taken by a request; given back on drop unless kept.
#[must_use]
pub struct Reservation {
    limiter: Arc<RateLimiter>,
    key: String,
    taken: u32,
}

impl Reservation {
    /// Keeps `used` of the share (at most what was taken) and gives back the rest.
    pub fn keep(mut self, used: usize) {
        let used = u32::try_from(used).unwrap_or(u32::MAX).min(self.taken);
        self.taken -= used;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.taken > 0 {
            self.limiter.refund_soon(&self.key, self.taken);
        }
    }
}

async fn reserve(state: &AppState, key: String, n: u32, limit: u32) -> ApiResult<Reservation> {
    let hour = TimeDelta::hours(1);
    state
        .engine
        .limiter
        .hit_n(&key, n, limit, hour)
        .await
        .map_err(ApiError::too_many)?;
    Ok(Reservation {
        limiter: state.engine.limiter.clone(),
        key,
        taken: n,
    })
}

/// One group creation by `user_id` (429 past `limits.groups_per_hour`).
pub async fn reserve_group(state: &AppState, user_id: i64) -> ApiResult<Reservation> {
    let limit = state.settings.limits.groups_per_hour;
    reserve(state, format!("group-create:user:{user_id}"), 1, limit).await
}

/// `n` users added or invited by `user_id` (429 past `limits.group_adds_per_hour`; 422 on
/// `field` if `n` alone is more than an hour allows).
pub async fn reserve_adds(
    state: &AppState,
    user_id: i64,
    field: &str,
    n: usize,
) -> ApiResult<Reservation> {
    let limit = state.settings.limits.group_adds_per_hour;
    let n = match u32::try_from(n) {
        Ok(n) if n <= limit => n,
        _ => {
            return Err(ApiError::invalid(
                field,
                format!("at most {limit} users can be added to groups or invited per hour"),
            ))
        }
    };
    reserve(state, format!("group-adds:user:{user_id}"), n, limit).await
}

/// How long a group invite stays valid.
pub fn invite_ttl(state: &AppState) -> TimeDelta {
    TimeDelta::seconds(state.settings.limits.group_invite_ttl_secs as i64)
}

/// `added_members` and `invited` of a create or add answer: `[{id, name}]` each.
pub fn outcome(change: &Change) -> (Vec<Named>, Vec<Named>) {
    let added = change
        .added
        .iter()
        .map(|u| Named {
            id: u.id,
            name: u.name.clone(),
        })
        .collect();
    let invited = change
        .invited
        .iter()
        .map(|i| Named {
            id: i.user.id,
            name: i.user.name.clone(),
        })
        .collect();
    (added, invited)
}
