//! Users: profiles, privacy settings, presence columns.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use super::schema::users;
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// The `about` a new account starts with.
pub const DEFAULT_ABOUT: &str = "Hey there! I am using Courier.";

/// A user row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub phone_number: String,
    pub phone_hash: String,
    pub country_code: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub about: String,
    pub last_seen_at: Option<NaiveDateTime>,
    pub is_online: bool,
    pub privacy_last_seen: String,
    pub privacy_profile_photo: String,
    pub privacy_about: String,
    pub phone_verified_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
    /// Who may add this user to groups (others send an invite).
    pub privacy_groups: String,
    /// Set while an operator has suspended the account (`courier users suspend`).
    pub suspended_at: Option<NaiveDateTime>,
}

/// Who may see a piece of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Everyone,
    Contacts,
    Nobody,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Everyone => "everyone",
            Visibility::Contacts => "contacts",
            Visibility::Nobody => "nobody",
        }
    }

    /// Parses a stored value; anything unknown is treated as the most private setting.
    pub fn parse(s: &str) -> Visibility {
        match s {
            "everyone" => Visibility::Everyone,
            "contacts" => Visibility::Contacts,
            _ => Visibility::Nobody,
        }
    }

    /// Whether a viewer may see it, given whether the owner has the viewer in contacts.
    pub fn allows(self, owner_has_viewer_in_contacts: bool) -> bool {
        match self {
            Visibility::Everyone => true,
            Visibility::Contacts => owner_has_viewer_in_contacts,
            Visibility::Nobody => false,
        }
    }
}

impl User {
    pub fn last_seen_visibility(&self) -> Visibility {
        Visibility::parse(&self.privacy_last_seen)
    }
    pub fn photo_visibility(&self) -> Visibility {
        Visibility::parse(&self.privacy_profile_photo)
    }
    pub fn about_visibility(&self) -> Visibility {
        Visibility::parse(&self.privacy_about)
    }
    /// Who may add this user to a group directly.
    pub fn groups_visibility(&self) -> Visibility {
        Visibility::parse(&self.privacy_groups)
    }
}

/// A live (not deleted) user by id.
pub async fn find(conn: &mut Conn<'_>, id: i64) -> StoreResult<Option<User>> {
    Ok(on_conn!(conn, |c| {
        users::table
            .find(id)
            .filter(users::deleted_at.is_null())
            .select(User::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// Live users by id, in no particular order; unknown ids are skipped.
pub async fn find_many(conn: &mut Conn<'_>, ids: &[i64]) -> StoreResult<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(on_conn!(conn, |c| {
        users::table
            .filter(users::id.eq_any(ids))
            .filter(users::deleted_at.is_null())
            .select(User::as_select())
            .load(c)
            .await?
    }))
}

/// A live user by the keyed hash of their phone number.
pub async fn find_by_phone_hash(conn: &mut Conn<'_>, hash: &str) -> StoreResult<Option<User>> {
    Ok(on_conn!(conn, |c| {
        users::table
            .filter(users::phone_hash.eq(hash))
            .filter(users::deleted_at.is_null())
            .select(User::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// Changes name and/or about. Answers the updated user (None if it no longer exists).
pub struct UpdateProfile {
    pub user_id: i64,
    pub name: Option<String>,
    pub about: Option<String>,
}

impl WriteOp for UpdateProfile {
    type Output = Option<User>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Option<User>> {
        let now = tx.now;
        let (id, name, about) = (self.user_id, self.name.clone(), self.about.clone());
        on_conn!(&mut tx.conn, |c| {
            diesel::update(users::table.find(id).filter(users::deleted_at.is_null()))
                .set((
                    name.map(|n| users::name.eq(n)),
                    about.map(|a| users::about.eq(a)),
                    users::updated_at.eq(now),
                ))
                .execute(c)
                .await?
        });
        find(&mut tx.conn, id).await
    }
}

/// Changes any of the privacy settings. Answers the updated user.
pub struct UpdatePrivacy {
    pub user_id: i64,
    pub last_seen: Option<Visibility>,
    pub profile_photo: Option<Visibility>,
    pub about: Option<Visibility>,
    /// Who may add the user to groups.
    pub groups: Option<Visibility>,
}

impl WriteOp for UpdatePrivacy {
    type Output = Option<User>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Option<User>> {
        let now = tx.now;
        let id = self.user_id;
        let (ls, pp, ab, gr) = (self.last_seen, self.profile_photo, self.about, self.groups);
        on_conn!(&mut tx.conn, |c| {
            diesel::update(users::table.find(id).filter(users::deleted_at.is_null()))
                .set((
                    ls.map(|v| users::privacy_last_seen.eq(v.as_str())),
                    pp.map(|v| users::privacy_profile_photo.eq(v.as_str())),
                    ab.map(|v| users::privacy_about.eq(v.as_str())),
                    gr.map(|v| users::privacy_groups.eq(v.as_str())),
                    users::updated_at.eq(now),
                ))
                .execute(c)
                .await?
        });
        find(&mut tx.conn, id).await
    }
}

/// Records users going online or offline (`last_seen_at` stamped either way), at the
/// transaction's time, which it answers: one UPDATE for those now online and one for those
/// now offline, however many there are. Of several changes of one user, the last counts.
pub async fn set_presence(tx: &mut Tx<'_>, changes: &[(i64, bool)]) -> StoreResult<NaiveDateTime> {
    let now = tx.now;
    let mut last: std::collections::HashMap<i64, bool> = Default::default();
    for &(user_id, online) in changes {
        last.insert(user_id, online);
    }
    for state in [true, false] {
        let mut ids: Vec<i64> = last
            .iter()
            .filter(|(_, online)| **online == state)
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        ids.sort_unstable();
        on_conn!(&mut tx.conn, |c| {
            diesel::update(users::table.filter(users::id.eq_any(&ids)))
                .set((users::is_online.eq(state), users::last_seen_at.eq(now)))
                .execute(c)
                .await?
        });
    }
    Ok(now)
}

/// Marks every user offline: run at start, since no socket survives a restart.
pub struct ResetPresence;

impl WriteOp for ResetPresence {
    type Output = usize;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<usize> {
        Ok(on_conn!(&mut tx.conn, |c| {
            diesel::update(users::table.filter(users::is_online.eq(true)))
                .set(users::is_online.eq(false))
                .execute(c)
                .await?
        }))
    }
}

/// Sets (or clears) the avatar; answers the previous one so its objects can be removed.
pub struct SetAvatar {
    pub user_id: i64,
    pub avatar_url: Option<String>,
}

impl WriteOp for SetAvatar {
    type Output = Option<String>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Option<String>> {
        let (id, url, now) = (self.user_id, self.avatar_url.clone(), tx.now);
        let previous = find(&mut tx.conn, id).await?.and_then(|u| u.avatar_url);
        on_conn!(&mut tx.conn, |c| {
            diesel::update(users::table.find(id))
                .set((users::avatar_url.eq(url), users::updated_at.eq(now)))
                .execute(c)
                .await?
        });
        Ok(previous)
    }
}
