//! Statuses (24-hour stories): who may see them, views, expiry.
//!
//! Audience: the owner, and users the owner has in contacts and has not blocked. Nothing
//! expired is returned, whether or not the purge has run yet.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{contacts, status_views, statuses, users};
use super::users::User;
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// A status row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = statuses)]
pub struct Status {
    pub id: i64,
    pub user_id: i64,
    pub content_type: String,
    pub content: Option<String>,
    pub media_url: Option<String>,
    pub background_color: Option<String>,
    pub font_style: Option<String>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// A status that has not expired, if `viewer` is in its audience.
pub async fn visible(
    conn: &mut Conn<'_>,
    id: i64,
    viewer: i64,
    now: NaiveDateTime,
) -> StoreResult<Option<Status>> {
    let status: Option<Status> = on_conn!(conn, |c| {
        statuses::table
            .find(id)
            .filter(statuses::expires_at.gt(now))
            .select(Status::as_select())
            .first(c)
            .await
            .optional()?
    });
    let Some(status) = status else {
        return Ok(None);
    };
    if status.user_id == viewer || in_audience(conn, status.user_id, viewer).await? {
        Ok(Some(status))
    } else {
        Ok(None)
    }
}

/// Whether `owner` shares statuses with `viewer`: viewer is a contact, not blocked.
pub async fn in_audience(conn: &mut Conn<'_>, owner: i64, viewer: i64) -> StoreResult<bool> {
    let n: i64 = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq(owner))
            .filter(contacts::contact_user_id.eq(viewer))
            .filter(contacts::is_contact.eq(true))
            .filter(contacts::is_blocked.eq(false))
            .count()
            .get_result(c)
            .await?
    });
    Ok(n > 0)
}

/// The statuses `viewer` may see (theirs included), with their owners and which the viewer has
/// seen. Three queries.
pub async fn feed(
    conn: &mut Conn<'_>,
    viewer: i64,
    now: NaiveDateTime,
) -> StoreResult<(Vec<Status>, HashMap<i64, User>, Vec<i64>)> {
    let sharing: Vec<i64> = on_conn!(conn, |c| {
        contacts::table
            .filter(contacts::contact_user_id.eq(viewer))
            .filter(contacts::is_contact.eq(true))
            .filter(contacts::is_blocked.eq(false))
            .select(contacts::user_id)
            .load(c)
            .await?
    });
    let mut owners = sharing;
    owners.push(viewer);
    let rows: Vec<(Status, User)> = on_conn!(conn, |c| {
        statuses::table
            .inner_join(users::table)
            .filter(statuses::user_id.eq_any(&owners))
            .filter(statuses::expires_at.gt(now))
            .filter(users::deleted_at.is_null())
            .order((statuses::created_at.desc(), statuses::id.desc()))
            .select((Status::as_select(), User::as_select()))
            .load(c)
            .await?
    });
    let ids: Vec<i64> = rows.iter().map(|(s, _)| s.id).collect();
    let seen: Vec<i64> = on_conn!(conn, |c| {
        status_views::table
            .filter(status_views::viewer_id.eq(viewer))
            .filter(status_views::status_id.eq_any(&ids))
            .select(status_views::status_id)
            .load(c)
            .await?
    });
    let mut people = HashMap::new();
    let mut list = Vec::new();
    for (s, u) in rows {
        people.insert(u.id, u);
        list.push(s);
    }
    Ok((list, people, seen))
}

/// Who viewed a status, and when, earliest first.
pub async fn views(conn: &mut Conn<'_>, status_id: i64) -> StoreResult<Vec<(User, NaiveDateTime)>> {
    Ok(on_conn!(conn, |c| {
        status_views::table
            .inner_join(users::table.on(users::id.eq(status_views::viewer_id)))
            .filter(status_views::status_id.eq(status_id))
            .order(status_views::viewed_at)
            .select((User::as_select(), status_views::viewed_at))
            .load(c)
            .await?
    }))
}

/// Posts a status.
pub struct CreateStatus {
    pub user_id: i64,
    pub content_type: &'static str,
    pub content: Option<String>,
    pub media_url: Option<String>,
    pub background_color: Option<String>,
    pub font_style: Option<String>,
    pub expires_at: NaiveDateTime,
}

impl WriteOp for CreateStatus {
    type Output = Status;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Status> {
        let now = tx.now;
        let row = (
            statuses::user_id.eq(self.user_id),
            statuses::content_type.eq(self.content_type),
            statuses::content.eq(self.content.clone()),
            statuses::media_url.eq(self.media_url.clone()),
            statuses::background_color.eq(self.background_color.clone()),
            statuses::font_style.eq(self.font_style.clone()),
            statuses::expires_at.eq(self.expires_at),
            statuses::created_at.eq(now),
        );
        Ok(on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(statuses::table)
                .values(row)
                .returning(Status::as_returning())
                .get_result(c)
                .await?
        }))
    }
}

/// Records a view (once per viewer); answers when it was first viewed.
pub struct ViewStatus {
    pub status_id: i64,
    pub viewer: i64,
}

impl WriteOp for ViewStatus {
    type Output = NaiveDateTime;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<NaiveDateTime> {
        let (id, viewer, now) = (self.status_id, self.viewer, tx.now);
        let earlier: Option<NaiveDateTime> = on_conn!(&mut tx.conn, |c| {
            status_views::table
                .filter(status_views::status_id.eq(id))
                .filter(status_views::viewer_id.eq(viewer))
                .select(status_views::viewed_at)
                .first(c)
                .await
                .optional()?
        });
        if let Some(at) = earlier {
            return Ok(at);
        }
        on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(status_views::table)
                .values((
                    status_views::status_id.eq(id),
                    status_views::viewer_id.eq(viewer),
                    status_views::viewed_at.eq(now),
                ))
                .execute(c)
                .await?
        });
        Ok(now)
    }
}

/// Deletes statuses (their views go with them); answers their media keys, to remove.
async fn delete_rows(tx: &mut Tx<'_>, ids: &[i64]) -> StoreResult<Vec<String>> {
    let media: Vec<Option<String>> = on_conn!(&mut tx.conn, |c| {
        statuses::table
            .filter(statuses::id.eq_any(ids))
            .select(statuses::media_url)
            .load(c)
            .await?
    });
    on_conn!(&mut tx.conn, |c| {
        diesel::delete(status_views::table.filter(status_views::status_id.eq_any(ids)))
            .execute(c)
            .await?;
        diesel::delete(statuses::table.filter(statuses::id.eq_any(ids)))
            .execute(c)
            .await?
    });
    Ok(media.into_iter().flatten().collect())
}

/// Deletes one's own status; None if there is no such status of that owner.
pub struct DeleteStatus {
    pub status_id: i64,
    pub owner: i64,
}

impl WriteOp for DeleteStatus {
    type Output = Option<Vec<String>>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Option<Vec<String>>> {
        let (id, owner) = (self.status_id, self.owner);
        let mine: i64 = on_conn!(&mut tx.conn, |c| {
            statuses::table
                .find(id)
                .filter(statuses::user_id.eq(owner))
                .count()
                .get_result(c)
                .await?
        });
        if mine == 0 {
            return Ok(None);
        }
        delete_rows(tx, &[id]).await.map(Some)
    }
}

/// Up to `limit` statuses expired at `now`, with their media keys (to remove before the rows).
pub async fn expired(
    conn: &mut Conn<'_>,
    now: NaiveDateTime,
    limit: i64,
) -> StoreResult<Vec<(i64, Option<String>)>> {
    Ok(on_conn!(conn, |c| {
        statuses::table
            .filter(statuses::expires_at.le(now))
            .order(statuses::id)
            .select((statuses::id, statuses::media_url))
            .limit(limit)
            .load(c)
            .await?
    }))
}

/// Deletes these statuses if they have expired (their files are already gone); answers how
/// many went.
pub struct PurgeExpired {
    pub ids: Vec<i64>,
}

impl WriteOp for PurgeExpired {
    type Output = usize;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<usize> {
        let now = tx.now;
        let ids: Vec<i64> = on_conn!(&mut tx.conn, |c| {
            statuses::table
                .filter(statuses::id.eq_any(&self.ids))
                .filter(statuses::expires_at.le(now))
                .select(statuses::id)
                .load(c)
                .await?
        });
        if !ids.is_empty() {
            delete_rows(tx, &ids).await?;
        }
        Ok(ids.len())
    }
}
