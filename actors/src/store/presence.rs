//! Who may see whose presence (online state and last seen): the owner's `last_seen` setting
//! decides (everyone, their contacts, nobody), and a block on either side hides it.

use std::collections::HashSet;

use super::contacts::{relations_of, relations_to, who_blocked, Relation};
use super::users::{find_many, User};
use super::{Conn, StoreResult};

/// The rule: `owner`'s presence shows to a viewer whom the owner relates to as `rel`, unless
/// either of them blocked the other.
fn shows(owner: &User, rel: Relation, viewer_blocked_owner: bool) -> bool {
    !rel.blocked && !viewer_blocked_owner && owner.last_seen_visibility().allows(rel.in_contacts)
}

/// Which of `viewers` may see `owner`'s presence (the owner always may). Two indexed queries.
pub async fn viewers_of(
    conn: &mut Conn<'_>,
    owner: &User,
    viewers: &[i64],
) -> StoreResult<HashSet<i64>> {
    let rels = relations_of(conn, owner.id, viewers).await?;
    let blocked_owner: HashSet<i64> = who_blocked(conn, viewers, owner.id)
        .await?
        .into_iter()
        .collect();
    Ok(viewers
        .iter()
        .copied()
        .filter(|v| {
            let rel = rels.get(v).copied().unwrap_or_default();
            *v == owner.id || shows(owner, rel, blocked_owner.contains(v))
        })
        .collect())
}

/// The users among `owners`, each with whether `viewer` may see their presence (always their
/// own). Unknown ids are left out. Three indexed queries.
pub async fn as_seen_by(
    conn: &mut Conn<'_>,
    viewer: i64,
    owners: &[i64],
) -> StoreResult<Vec<(User, bool)>> {
    let users = find_many(conn, owners).await?;
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let rels = relations_to(conn, &ids, viewer).await?;
    let mine = relations_of(conn, viewer, &ids).await?;
    Ok(users
        .into_iter()
        .map(|u| {
            let rel = rels.get(&u.id).copied().unwrap_or_default();
            let blocked = mine.get(&u.id).is_some_and(|r| r.blocked);
            let visible = u.id == viewer || shows(&u, rel, blocked);
            (u, visible)
        })
        .collect())
}
