//! Contacts: who has whom in their address book, and who blocked whom.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::contacts;
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
