//! Data exports: the rows that track each user's requests for a copy of their data, from
//! `pending` (being built) to `ready` (a ZIP in the store, until `expires_at`) or `failed`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::data_exports;
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// An export row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = data_exports)]
pub struct Export {
    pub id: i64,
    pub user_id: i64,
    pub status: String,
    pub object_key: Option<String>,
    pub size: Option<i64>,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
}

/// Starts an export for a user, unless one is being built already: answers the export and
/// whether it is new.
pub struct StartExport {
    pub user_id: i64,
}

impl WriteOp for StartExport {
    type Output = (Export, bool);

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<(Export, bool)> {
        let (uid, now) = (self.user_id, tx.now);
        let building: Option<Export> = on_conn!(&mut tx.conn, |c| {
            data_exports::table
                .filter(data_exports::user_id.eq(uid))
                .filter(data_exports::status.eq("pending"))
                .select(Export::as_select())
                .first(c)
                .await
                .optional()?
        });
        if let Some(e) = building {
            return Ok((e, false));
        }
        let row = on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(data_exports::table)
                .values((
                    data_exports::user_id.eq(uid),
                    data_exports::status.eq("pending"),
                    data_exports::created_at.eq(now),
                ))
                .returning(Export::as_returning())
                .get_result(c)
                .await?
        });
        Ok((row, true))
    }
}

/// Records how a build ended: the stored ZIP (key, size, until when), or why it failed.
pub struct FinishExport {
    pub id: i64,
    pub outcome: Result<(String, i64, NaiveDateTime), String>,
}

impl WriteOp for FinishExport {
    type Output = ();

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<()> {
        let (id, now) = (self.id, tx.now);
        let (status, key, size, until, error) = match self.outcome.clone() {
            Ok((key, size, until)) => ("ready", Some(key), Some(size), Some(until), None),
            Err(e) => ("failed", None, None, None, Some(e)),
        };
        on_conn!(&mut tx.conn, |c| {
            diesel::update(data_exports::table.find(id))
                .set((
                    data_exports::status.eq(status),
                    data_exports::object_key.eq(key),
                    data_exports::size.eq(size),
                    data_exports::expires_at.eq(until),
                    data_exports::error.eq(error),
                    data_exports::finished_at.eq(Some(now)),
                ))
                .execute(c)
                .await?
        });
        Ok(())
    }
}

/// Removes the rows of exports whose download expired at `now` or before; answers their
/// stored keys, for the caller to remove from the store.
pub struct PurgeExports {
    pub now: NaiveDateTime,
}

impl WriteOp for PurgeExports {
    type Output = Vec<String>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Vec<String>> {
        let now = self.now;
        Ok(on_conn!(&mut tx.conn, |c| {
            diesel::delete(data_exports::table.filter(data_exports::expires_at.le(now)))
                .returning(data_exports::object_key)
                .get_results::<Option<String>>(c)
                .await?
        })
        .into_iter()
        .flatten()
        .collect())
    }
}

/// The user's latest export.
pub async fn latest(conn: &mut Conn<'_>, user_id: i64) -> StoreResult<Option<Export>> {
    Ok(on_conn!(conn, |c| {
        data_exports::table
            .filter(data_exports::user_id.eq(user_id))
            .order(data_exports::id.desc())
            .select(Export::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// Exports still being built (a restart left them so): built again.
pub async fn pending(conn: &mut Conn<'_>) -> StoreResult<Vec<Export>> {
    Ok(on_conn!(conn, |c| {
        data_exports::table
            .filter(data_exports::status.eq("pending"))
            .select(Export::as_select())
            .load(c)
            .await?
    }))
}
