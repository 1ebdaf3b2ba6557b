//! Who may see whose presence (online state and last seen): the owner's `last_seen` setting
//! decides (everyone, their contacts, nobody), and a block on either side hides it.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::contacts;
use super::users::{find_many, User, Visibility};
use super::{Conn, StoreResult};
use crate::on_conn;

/// Which of `viewers` may see `owner`'s presence. Two indexed queries.
pub async fn viewers_of(
    conn: &mut Conn<'_>,
    owner: &User,
    viewers: &[i64],
) -> StoreResult<HashSet<i64>> {
    let visibility = owner.last_seen_visibility();
    if visibility == Visibility::Nobody || viewers.is_empty() {
        return Ok(HashSet::new());
    }
    let uid = owner.id;
    // The owner's rows about the viewers: in their contacts? blocked?
    let owned: HashMap<i64, (bool, bool)> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq(uid))
            .filter(contacts::contact_user_id.eq_any(viewers))
            .select((
                contacts::contact_user_id,
                contacts::is_contact,
                contacts::is_blocked,
            ))
            .load::<(i64, bool, bool)>(c)
            .await?
    })
    .into_iter()
    .map(|(viewer, is_contact, blocked)| (viewer, (is_contact, blocked)))
    .collect();
    // Viewers who blocked the owner.
    let blocked_owner: HashSet<i64> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq_any(viewers))
            .filter(contacts::contact_user_id.eq(uid))
            .filter(contacts::is_blocked.eq(true))
            .select(contacts::user_id)
            .load::<i64>(c)
            .await?
    })
    .into_iter()
    .collect();
    Ok(viewers
        .iter()
        .copied()
        .filter(|v| {
            let (in_contacts, blocked) = owned.get(v).copied().unwrap_or((false, false));
            !blocked && !blocked_owner.contains(v) && visibility.allows(in_contacts && !blocked)
        })
        .collect())
}

/// The users among `owners`, each with whether `viewer` may see their presence. Unknown ids
/// are left out. Three indexed queries.
pub async fn as_seen_by(
    conn: &mut Conn<'_>,
    viewer: i64,
    owners: &[i64],
) -> StoreResult<Vec<(User, bool)>> {
    let users = find_many(conn, owners).await?;
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    // The owners' rows about the viewer, and the viewer's blocks of them.
    let rows: Vec<(i64, i64, bool, bool)> = on_conn!(conn, |c| {
        contacts::table
            .filter(
                contacts::user_id
                    .eq_any(&ids)
                    .and(contacts::contact_user_id.eq(viewer))
                    .or(contacts::user_id
                        .eq(viewer)
                        .and(contacts::contact_user_id.eq_any(&ids))),
            )
            .select((
                contacts::user_id,
                contacts::contact_user_id,
                contacts::is_contact,
                contacts::is_blocked,
            ))
            .load(c)
            .await?
    });
    let mut owned: HashMap<i64, (bool, bool)> = HashMap::new();
    let mut blocked_by_viewer: HashSet<i64> = HashSet::new();
    for (user, other, is_contact, blocked) in rows {
        if user == viewer && blocked {
            blocked_by_viewer.insert(other);
        }
        if other == viewer && user != viewer {
            owned.insert(user, (is_contact, blocked));
        }
    }
    Ok(users
        .into_iter()
        .map(|u| {
            let (in_contacts, blocked) = owned.get(&u.id).copied().unwrap_or((false, false));
            let visible = u.id == viewer
                || (!blocked
                    && !blocked_by_viewer.contains(&u.id)
                    && u.last_seen_visibility().allows(in_contacts && !blocked));
            (u, visible)
        })
        .collect())
}
