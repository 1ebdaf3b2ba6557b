//! Dead sign-in rows: one-time codes and device sessions that expired or ended are deleted a
//! while later (the server's janitor does it, see [`Engine::start`](crate::Engine::start)),
//! and sessions ended by another process (an operator's `courier users …`) are found so that
//! the server closes their sockets.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{auth_sessions, otp_codes};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// Rows one purge transaction deletes at most, per table: a long backlog is worked off in
/// short transactions that leave room for everyone else's writes.
pub const PURGE_BATCH: i64 = 1000;

/// Deletes up to [`PURGE_BATCH`] codes that expired before `before`, and as many sessions that
/// expired or were revoked before it. Answers (codes, sessions) deleted.
pub struct PurgeAuth {
    pub before: NaiveDateTime,
}

impl WriteOp for PurgeAuth {
    type Output = (usize, usize);

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<(usize, usize)> {
        let before = self.before;
        Ok(on_conn!(&mut tx.conn, |c| {
            let codes: Vec<i64> = otp_codes::table
                .filter(otp_codes::expires_at.lt(before))
                .select(otp_codes::id)
                .limit(PURGE_BATCH)
                .load(c)
                .await?;
            let codes = diesel::delete(otp_codes::table.filter(otp_codes::id.eq_any(&codes)))
                .execute(c)
                .await?;
            let sessions: Vec<i64> = auth_sessions::table
                .filter(
                    auth_sessions::expires_at
                        .lt(before)
                        .or(auth_sessions::revoked_at.lt(before)),
                )
                .select(auth_sessions::id)
                .limit(PURGE_BATCH)
                .load(c)
                .await?;
            let sessions =
                diesel::delete(auth_sessions::table.filter(auth_sessions::id.eq_any(&sessions)))
                    .execute(c)
                    .await?;
            (codes, sessions)
        }))
    }
}

/// Sessions revoked at `since` or later, as (user id, session id), at most `limit`.
pub async fn revoked_since(
    conn: &mut Conn<'_>,
    since: NaiveDateTime,
    limit: i64,
) -> StoreResult<Vec<(i64, i64)>> {
    Ok(on_conn!(conn, |c| {
        auth_sessions::table
            .filter(auth_sessions::revoked_at.ge(since))
            .select((auth_sessions::user_id, auth_sessions::id))
            .limit(limit)
            .load(c)
            .await?
    }))
}
