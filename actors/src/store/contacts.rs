//! Contacts: who has whom in their address book, and who blocked whom.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::contacts;
use super::users::{User, Visibility};
use super::{Conn, StoreResult};
use crate::on_conn;

/// How `owner` relates to `other` in owner's own contact list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// `other` is in owner's contacts (and not blocked).
    pub in_contacts: bool,
    /// owner has blocked `other`.
    pub blocked: bool,
}

/// How `owner` relates to `other`.
pub async fn relation(conn: &mut Conn<'_>, owner: i64, other: i64) -> StoreResult<Relation> {
    let row: Option<bool> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq(owner))
            .filter(contacts::contact_user_id.eq(other))
            .select(contacts::is_blocked)
            .first(c)
            .await
            .optional()?
    });
    Ok(match row {
        None => Relation::default(),
        Some(blocked) => Relation {
            in_contacts: !blocked,
            blocked,
        },
    })
}

/// Who may be told that `user` came online or went offline: people they share a chat with and
/// people who have them in their contacts, as their last-seen setting allows, minus anyone
/// either side has blocked. Four indexed queries.
pub async fn presence_audience(conn: &mut Conn<'_>, user: &User) -> StoreResult<Vec<i64>> {
    use super::schema::chat_participants as cp;
    let uid = user.id;
    let visibility = user.last_seen_visibility();
    if visibility == Visibility::Nobody {
        return Ok(Vec::new());
    }
    let own: Vec<(i64, bool)> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq(uid))
            .select((contacts::contact_user_id, contacts::is_blocked))
            .load(c)
            .await?
    });
    let blocked_by_me: HashSet<i64> = own.iter().filter(|(_, b)| *b).map(|(id, _)| *id).collect();
    let mut audience: HashSet<i64> = HashSet::new();
    if visibility == Visibility::Contacts {
        audience.extend(own.iter().filter(|(_, b)| !*b).map(|(id, _)| *id));
    } else {
        let chats: Vec<i64> = on_conn!(conn, |c| {
            cp::table
                .filter(cp::user_id.eq(uid))
                .filter(cp::left_at.is_null())
                .select(cp::chat_id)
                .load(c)
                .await?
        });
        let partners: Vec<i64> = on_conn!(conn, |c| {
            cp::table
                .filter(cp::chat_id.eq_any(&chats))
                .filter(cp::left_at.is_null())
                .filter(cp::user_id.ne(uid))
                .select(cp::user_id)
                .load(c)
                .await?
        });
        audience.extend(partners);
        audience.extend(own.iter().filter(|(_, b)| !*b).map(|(id, _)| *id));
    }
    let followers: Vec<(i64, bool)> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::contact_user_id.eq(uid))
            .select((contacts::user_id, contacts::is_blocked))
            .load(c)
            .await?
    });
    for (id, blocked_me) in followers {
        if blocked_me {
            audience.remove(&id);
        } else if visibility == Visibility::Everyone {
            audience.insert(id);
        }
    }
    audience.retain(|id| !blocked_by_me.contains(id) && *id != uid);
    Ok(audience.into_iter().collect())
}

/// How each of `owners` relates to `viewer` (one query): what privacy settings need.
pub async fn relations_to(
    conn: &mut Conn<'_>,
    owners: &[i64],
    viewer: i64,
) -> StoreResult<HashMap<i64, Relation>> {
    if owners.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, bool)> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq_any(owners))
            .filter(contacts::contact_user_id.eq(viewer))
            .select((contacts::user_id, contacts::is_blocked))
            .load(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(owner, blocked)| {
            (
                owner,
                Relation {
                    in_contacts: !blocked,
                    blocked,
                },
            )
        })
        .collect())
}
