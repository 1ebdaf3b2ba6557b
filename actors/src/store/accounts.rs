//! What an operator does to accounts (`courier users …`, `courier stats`): counts, suspension,
//! signing every device out. A suspended account cannot sign in or refresh, and its tokens stop
//! working at once (every session check joins the account, see [`super::auth::active_session`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{auth_sessions, chats, messages, users};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// Why a session is revoked when an operator signs its user out.
pub const REASON_SIGNED_OUT: &str = "signed out by an operator";
/// Why a session is revoked when its account is suspended.
pub const REASON_SUSPENDED: &str = "account suspended";

/// Device sessions of a user that are neither revoked nor expired at `now`.
pub async fn active_sessions(
    conn: &mut Conn<'_>,
    user_id: i64,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    Ok(on_conn!(conn, |c| {
        auth_sessions::table
            .filter(auth_sessions::user_id.eq(user_id))
            .filter(auth_sessions::revoked_at.is_null())
            .filter(auth_sessions::expires_at.gt(now))
            .count()
            .get_result(c)
            .await?
    }))
}

/// Whether the session exists and its account is suspended (a refresh is then refused as
/// such, whatever the session's own state).
pub async fn session_owner_suspended(conn: &mut Conn<'_>, session_id: i64) -> StoreResult<bool> {
    let suspended: Option<Option<NaiveDateTime>> = on_conn!(conn, |c| {
        auth_sessions::table
            .inner_join(users::table)
            .filter(auth_sessions::id.eq(session_id))
            .select(users::suspended_at)
            .first(c)
            .await
            .optional()?
    });
    Ok(matches!(suspended, Some(Some(_))))
}

/// Rows in the database, for `courier stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Accounts not deleted.
    pub users: i64,
    /// Of those, suspended ones.
    pub suspended: i64,
    pub chats: i64,
    pub messages: i64,
}

pub async fn counts(conn: &mut Conn<'_>) -> StoreResult<Counts> {
    Ok(on_conn!(conn, |c| {
        let users: i64 = users::table
            .filter(users::deleted_at.is_null())
            .count()
            .get_result(c)
            .await?;
        let suspended: i64 = users::table
            .filter(users::deleted_at.is_null())
            .filter(users::suspended_at.is_not_null())
            .count()
            .get_result(c)
            .await?;
        let chats: i64 = chats::table.count().get_result(c).await?;
        let messages: i64 = messages::table.count().get_result(c).await?;
        Counts {
            users,
            suspended,
            chats,
            messages,
        }
    }))
}

/// Revokes every live session of a user for `reason`; answers the ids of those it ended
/// (whose sockets the caller closes).
pub(crate) async fn revoke_all(
    tx: &mut Tx<'_>,
    user_id: i64,
    reason: &str,
) -> StoreResult<Vec<i64>> {
    let now = tx.now;
    let reason = reason.to_string();
    let ended: Vec<i64> = on_conn!(&mut tx.conn, |c| {
        diesel::update(
            auth_sessions::table
                .filter(auth_sessions::user_id.eq(user_id))
                .filter(auth_sessions::revoked_at.is_null()),
        )
        .set((
            auth_sessions::revoked_at.eq(Some(now)),
            auth_sessions::revoked_reason.eq(Some(reason)),
        ))
        .returning(auth_sessions::id)
        .get_results(c)
        .await?
    });
    // A device signed out is not woken any more.
    super::push::forget_sessions(tx, &ended).await?;
    Ok(ended)
}

/// Ends every device session of a user (`courier users sign-out`); answers how many were live.
pub struct SignOutAll {
    pub user_id: i64,
}

impl WriteOp for SignOutAll {
    type Output = usize;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<usize> {
        Ok(revoke_all(tx, self.user_id, REASON_SIGNED_OUT).await?.len())
    }
}

/// Suspends an account and ends its sessions; an account already suspended keeps the time
/// it was suspended at. Answers how many sessions ended.
pub struct Suspend {
    pub user_id: i64,
}

impl WriteOp for Suspend {
    type Output = usize;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<usize> {
        let (id, now) = (self.user_id, tx.now);
        on_conn!(&mut tx.conn, |c| {
            diesel::update(users::table.find(id).filter(users::suspended_at.is_null()))
                .set(users::suspended_at.eq(Some(now)))
                .execute(c)
                .await?
        });
        Ok(revoke_all(tx, id, REASON_SUSPENDED).await?.len())
    }
}

/// Lifts a suspension; answers whether the account was suspended. The sessions it ended stay
/// ended: the user signs in again.
pub struct Unsuspend {
    pub user_id: i64,
}

impl WriteOp for Unsuspend {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        let id = self.user_id;
        let n = on_conn!(&mut tx.conn, |c| {
            diesel::update(
                users::table
                    .find(id)
                    .filter(users::suspended_at.is_not_null()),
            )
            .set(users::suspended_at.eq(None::<NaiveDateTime>))
            .execute(c)
            .await?
        });
        Ok(n > 0)
    }
}
