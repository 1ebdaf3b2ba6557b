//! Contacts: who has whom in their address book, and who blocked whom. One row per ordered
//! pair (owner, other): `is_contact` (in the owner's contacts) and `is_blocked` (the owner
//! blocked the other) are independent, so blocking someone who is not a contact works too.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{contacts, users};
use super::users::User;
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// How an owner relates to another user in the owner's own list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// The other is in the owner's contacts and not blocked: what "contacts" privacy means.
    pub in_contacts: bool,
    /// The owner blocked the other.
    pub blocked: bool,
}

impl Relation {
    fn of(is_contact: bool, is_blocked: bool) -> Relation {
        Relation {
            in_contacts: is_contact && !is_blocked,
            blocked: is_blocked,
        }
    }
}

/// A contact row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contacts)]
pub struct Contact {
    pub id: i64,
    pub user_id: i64,
    pub contact_user_id: i64,
    pub contact_name: String,
    pub is_contact: bool,
    pub is_blocked: bool,
    pub added_at: NaiveDateTime,
}

/// How `owner` relates to `other`.
pub async fn relation(conn: &mut Conn<'_>, owner: i64, other: i64) -> StoreResult<Relation> {
    let row: Option<(bool, bool)> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq(owner))
            .filter(contacts::contact_user_id.eq(other))
            .select((contacts::is_contact, contacts::is_blocked))
            .first(c)
            .await
            .optional()?
    });
    Ok(row.map(|(c, b)| Relation::of(c, b)).unwrap_or_default())
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
    let rows: Vec<(i64, bool, bool)> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq_any(owners))
            .filter(contacts::contact_user_id.eq(viewer))
            .select((
                contacts::user_id,
                contacts::is_contact,
                contacts::is_blocked,
            ))
            .load(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(owner, c, b)| (owner, Relation::of(c, b)))
        .collect())
}

/// How `owner` relates to each of `others` (one query): the other direction of
/// [`relations_to`].
pub async fn relations_of(
    conn: &mut Conn<'_>,
    owner: i64,
    others: &[i64],
) -> StoreResult<HashMap<i64, Relation>> {
    if others.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, bool, bool)> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq(owner))
            .filter(contacts::contact_user_id.eq_any(others))
            .select((
                contacts::contact_user_id,
                contacts::is_contact,
                contacts::is_blocked,
            ))
            .load(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(other, c, b)| (other, Relation::of(c, b)))
        .collect())
}

/// Which of `users` have blocked `actor` (one query).
pub async fn who_blocked(conn: &mut Conn<'_>, users: &[i64], actor: i64) -> StoreResult<Vec<i64>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    Ok(on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq_any(users))
            .filter(contacts::contact_user_id.eq(actor))
            .filter(contacts::is_blocked.eq(true))
            .select(contacts::user_id)
            .load(c)
            .await?
    }))
}

/// Blocks among a set of users: (blocker, blocked) pairs.
pub async fn blocks_among(
    conn: &mut Conn<'_>,
    members: &[i64],
) -> StoreResult<HashSet<(i64, i64)>> {
    let rows: Vec<(i64, i64)> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq_any(members))
            .filter(contacts::contact_user_id.eq_any(members))
            .filter(contacts::is_blocked.eq(true))
            .select((contacts::user_id, contacts::contact_user_id))
            .load(c)
            .await?
    });
    Ok(rows.into_iter().collect())
}

/// A user's contact list (contacts and blocked users) with the users, by saved name.
pub async fn list(conn: &mut Conn<'_>, owner: i64) -> StoreResult<Vec<(Contact, User)>> {
    Ok(on_conn!(conn, |c| {
        contacts::table
            .inner_join(users::table.on(users::id.eq(contacts::contact_user_id)))
            .filter(contacts::user_id.eq(owner))
            .filter(users::deleted_at.is_null())
            .order(contacts::contact_name)
            .select((Contact::as_select(), User::as_select()))
            .load(c)
            .await?
    }))
}

/// Live users whose phone hash is one of `hashes` (one query).
pub async fn users_by_phone_hashes(
    conn: &mut Conn<'_>,
    hashes: &[String],
) -> StoreResult<Vec<User>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(on_conn!(conn, |c| {
        users::table
            .filter(users::phone_hash.eq_any(hashes))
            .filter(users::deleted_at.is_null())
            .select(User::as_select())
            .load(c)
            .await?
    }))
}

async fn row(tx: &mut Tx<'_>, owner: i64, other: i64) -> StoreResult<Option<Contact>> {
    Ok(on_conn!(&mut tx.conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq(owner))
            .filter(contacts::contact_user_id.eq(other))
            .select(Contact::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// Adds `other` to `owner`'s contacts under `name` (renames if already there). Answers
/// whether it was added now.
pub struct AddContact {
    pub owner: i64,
    pub other: i64,
    pub name: String,
}

impl WriteOp for AddContact {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        let (owner, other, name, now) = (self.owner, self.other, self.name.clone(), tx.now);
        match row(tx, owner, other).await? {
            Some(existing) => {
                on_conn!(&mut tx.conn, |c| {
                    diesel::update(contacts::table.find(existing.id))
                        .set((
                            contacts::is_contact.eq(true),
                            contacts::contact_name.eq(name),
                        ))
                        .execute(c)
                        .await?
                });
                Ok(!existing.is_contact)
            }
            None => {
                on_conn!(&mut tx.conn, |c| {
                    diesel::insert_into(contacts::table)
                        .values((
                            contacts::user_id.eq(owner),
                            contacts::contact_user_id.eq(other),
                            contacts::contact_name.eq(name),
                            contacts::is_contact.eq(true),
                            contacts::is_blocked.eq(false),
                            contacts::added_at.eq(now),
                        ))
                        .execute(c)
                        .await?
                });
                Ok(true)
            }
        }
    }
}

/// Removes `other` from `owner`'s contacts (a block stays). Answers whether it was a contact.
pub struct RemoveContact {
    pub owner: i64,
    pub other: i64,
}

impl WriteOp for RemoveContact {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        let Some(existing) = row(tx, self.owner, self.other).await? else {
            return Ok(false);
        };
        if !existing.is_contact {
            return Ok(false);
        }
        on_conn!(&mut tx.conn, |c| {
            if existing.is_blocked {
                diesel::update(contacts::table.find(existing.id))
                    .set(contacts::is_contact.eq(false))
                    .execute(c)
                    .await?
            } else {
                diesel::delete(contacts::table.find(existing.id))
                    .execute(c)
                    .await?
            }
        });
        Ok(true)
    }
}

/// Blocks `other` if not blocked, unblocks otherwise. Answers the new state.
pub struct ToggleBlock {
    pub owner: i64,
    pub other: i64,
    /// Saved as the contact name when the blocked user is not a contact.
    pub other_name: String,
}

impl WriteOp for ToggleBlock {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        let (owner, other, name, now) = (self.owner, self.other, self.other_name.clone(), tx.now);
        match row(tx, owner, other).await? {
            Some(existing) => {
                let blocked = !existing.is_blocked;
                on_conn!(&mut tx.conn, |c| {
                    if !blocked && !existing.is_contact {
                        diesel::delete(contacts::table.find(existing.id))
                            .execute(c)
                            .await?
                    } else {
                        diesel::update(contacts::table.find(existing.id))
                            .set(contacts::is_blocked.eq(blocked))
                            .execute(c)
                            .await?
                    }
                });
                Ok(blocked)
            }
            None => {
                on_conn!(&mut tx.conn, |c| {
                    diesel::insert_into(contacts::table)
                        .values((
                            contacts::user_id.eq(owner),
                            contacts::contact_user_id.eq(other),
                            contacts::contact_name.eq(name),
                            contacts::is_contact.eq(false),
                            contacts::is_blocked.eq(true),
                            contacts::added_at.eq(now),
                        ))
                        .execute(c)
                        .await?
                });
                Ok(true)
            }
        }
    }
}
