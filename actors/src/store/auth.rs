//! One-time codes and device sessions (refresh-token families).
//!
//! A device session is created at sign-in. Its refresh token is rotated on every use; the
//! session row remembers the id (`jti`) of the one refresh token currently valid. Presenting
//! an older one means a token was copied: the whole session is revoked.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{auth_sessions, otp_codes, users};
use super::users::{find, find_by_phone_hash, User, DEFAULT_ABOUT};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// A device session row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = auth_sessions)]
pub struct AuthSession {
    pub id: i64,
    pub user_id: i64,
    pub refresh_jti: String,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = otp_codes)]
pub(crate) struct OtpCode {
    pub(crate) id: i64,
    country_code: String,
    code_hash: String,
    attempts: i32,
    expires_at: NaiveDateTime,
}

/// The session if it exists, is not revoked, has not expired at `now`, and its account is
/// not suspended.
pub async fn active_session(
    conn: &mut Conn<'_>,
    id: i64,
    now: NaiveDateTime,
) -> StoreResult<Option<AuthSession>> {
    Ok(on_conn!(conn, |c| {
        auth_sessions::table
            .inner_join(users::table)
            .filter(auth_sessions::id.eq(id))
            .filter(users::suspended_at.is_null())
            .filter(users::deleted_at.is_null())
            .filter(auth_sessions::revoked_at.is_null())
            .filter(auth_sessions::expires_at.gt(now))
            .select(AuthSession::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// Stores a new code for a phone; earlier unused codes for it stop working.
pub struct CreateOtp {
    pub phone_hash: String,
    pub country_code: String,
    pub code_hash: String,
    pub expires_at: NaiveDateTime,
}

impl WriteOp for CreateOtp {
    type Output = ();

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<()> {
        let now = tx.now;
        let phone = self.phone_hash.clone();
        let row = (
            otp_codes::phone_hash.eq(self.phone_hash.clone()),
            otp_codes::country_code.eq(self.country_code.clone()),
            otp_codes::code_hash.eq(self.code_hash.clone()),
            otp_codes::attempts.eq(0),
            otp_codes::expires_at.eq(self.expires_at),
            otp_codes::created_at.eq(now),
        );
        on_conn!(&mut tx.conn, |c| {
            diesel::update(otp_codes::table)
                .filter(otp_codes::phone_hash.eq(&phone))
                .filter(otp_codes::consumed_at.is_null())
                .set(otp_codes::consumed_at.eq(now))
                .execute(c)
                .await?;
            diesel::insert_into(otp_codes::table)
                .values(row)
                .execute(c)
                .await?
        });
        Ok(())
    }
}

/// What checking a one-time code found (nothing consumed yet).
pub(crate) enum CodeCheck {
    /// The right code, still live: the caller consumes it with [`consume_code`].
    Valid(OtpCode),
    NoCode,
    Expired,
    /// Wrong (the try is counted; the last allowed one burns the code).
    Wrong {
        attempts_left: i32,
    },
}

/// Checks `code_hash` against the newest live code of a phone, counting a wrong try.
pub(crate) async fn check_code(
    tx: &mut Tx<'_>,
    phone_hash: &str,
    code_hash: &str,
    max_attempts: i32,
) -> StoreResult<CodeCheck> {
    let now = tx.now;
    let code: Option<OtpCode> = on_conn!(&mut tx.conn, |c| {
        otp_codes::table
            .filter(otp_codes::phone_hash.eq(phone_hash))
            .filter(otp_codes::consumed_at.is_null())
            .order(otp_codes::id.desc())
            .select(OtpCode::as_select())
            .first(c)
            .await
            .optional()?
    });
    let Some(code) = code else {
        return Ok(CodeCheck::NoCode);
    };
    if code.expires_at <= now {
        return Ok(CodeCheck::Expired);
    }
    if !constant_time_eq(code.code_hash.as_bytes(), code_hash.as_bytes()) {
        let attempts = code.attempts + 1;
        let burned = attempts >= max_attempts;
        on_conn!(&mut tx.conn, |c| {
            diesel::update(otp_codes::table.find(code.id))
                .set((
                    otp_codes::attempts.eq(attempts),
                    otp_codes::consumed_at.eq(if burned { Some(now) } else { None }),
                ))
                .execute(c)
                .await?
        });
        return Ok(CodeCheck::Wrong {
            attempts_left: (max_attempts - attempts).max(0),
        });
    }
    Ok(CodeCheck::Valid(code))
}

/// Marks a code used: it never works again.
pub(crate) async fn consume_code(tx: &mut Tx<'_>, id: i64) -> StoreResult<()> {
    let now = tx.now;
    on_conn!(&mut tx.conn, |c| {
        diesel::update(otp_codes::table.find(id))
            .set(otp_codes::consumed_at.eq(Some(now)))
            .execute(c)
            .await?
    });
    Ok(())
}

/// What checking a code found.
// Returned once per sign-in; boxing the user would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum VerifyOutcome {
    /// The code was right: the user (created if new) and their new device session.
    Verified {
        user: User,
        session: AuthSession,
        created: bool,
    },
    /// No live code for this phone (never sent, already used, or superseded).
    NoCode,
    /// The code expired before it was used.
    Expired,
    /// Wrong code; `attempts_left` more tries before the code is burned.
    Wrong { attempts_left: i32 },
    /// The code was right but the account is suspended: nothing was written.
    Suspended,
}

/// Checks a code and, if right, signs the user in (creating the account on first use).
pub struct VerifyOtp {
    pub phone_hash: String,
    pub phone_number: String,
    pub code_hash: String,
    pub max_attempts: i32,
    /// Name for a new account (an existing account keeps its name).
    pub name: Option<String>,
    pub refresh_jti: String,
    pub session_expires_at: NaiveDateTime,
    pub user_agent: Option<String>,
}

impl WriteOp for VerifyOtp {
    type Output = VerifyOutcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<VerifyOutcome> {
        let now = tx.now;
        let phone = self.phone_hash.clone();
        let code = match check_code(tx, &phone, &self.code_hash, self.max_attempts).await? {
            CodeCheck::Valid(code) => code,
            CodeCheck::NoCode => return Ok(VerifyOutcome::NoCode),
            CodeCheck::Expired => return Ok(VerifyOutcome::Expired),
            CodeCheck::Wrong { attempts_left } => {
                return Ok(VerifyOutcome::Wrong { attempts_left })
            }
        };
        let existing = find_by_phone_hash(&mut tx.conn, &phone).await?;
        // Told only to whoever holds the right code, so it says nothing to anyone else.
        if existing.as_ref().is_some_and(|u| u.suspended_at.is_some()) {
            return Ok(VerifyOutcome::Suspended);
        }
        consume_code(tx, code.id).await?;

        let (user, created) = match existing {
            Some(user) => {
                let id = user.id;
                on_conn!(&mut tx.conn, |c| {
                    diesel::update(users::table.find(id))
                        .set(users::phone_verified_at.eq(Some(now)))
                        .execute(c)
                        .await?
                });
                (user, false)
            }
            None => {
                let id = free_user_id(tx).await?;
                let row = (
                    users::id.eq(id),
                    users::phone_number.eq(self.phone_number.clone()),
                    users::phone_hash.eq(phone.clone()),
                    users::country_code.eq(code.country_code.clone()),
                    users::name.eq(self.name.clone().unwrap_or_else(|| "User".to_string())),
                    users::about.eq(DEFAULT_ABOUT),
                    users::phone_verified_at.eq(Some(now)),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                );
                on_conn!(&mut tx.conn, |c| {
                    diesel::insert_into(users::table)
                        .values(row)
                        .execute(c)
                        .await?
                });
                let user = find(&mut tx.conn, id)
                    .await?
                    .ok_or(diesel::result::Error::NotFound)?;
                (user, true)
            }
        };

        let session = create_session(
            tx,
            user.id,
            &self.refresh_jti,
            self.session_expires_at,
            self.user_agent.clone(),
        )
        .await?;
        Ok(VerifyOutcome::Verified {
            user,
            session,
            created,
        })
    }
}

/// User ids are below 2^53, so JavaScript clients hold them exactly.
pub const MAX_USER_ID: i64 = 1 << 53;

/// A random id no user row has (deleted ones included), for a new account: ids that cannot
/// be guessed from one another cannot be walked through to list users.
async fn free_user_id(tx: &mut Tx<'_>) -> StoreResult<i64> {
    // A collision is rare (a handful of users among 2^53 ids); a few tries are plenty.
    for _ in 0..16 {
        let id = rand::random_range(1..MAX_USER_ID);
        let taken: Option<i64> = on_conn!(&mut tx.conn, |c| {
            users::table
                .find(id)
                .select(users::id)
                .first(c)
                .await
                .optional()?
        });
        if taken.is_none() {
            return Ok(id);
        }
    }
    // Unreachable in practice; answered as "unavailable, try again".
    Err(super::StoreError::Pool("no free user id found".into()))
}

async fn create_session(
    tx: &mut Tx<'_>,
    user_id: i64,
    jti: &str,
    expires_at: NaiveDateTime,
    user_agent: Option<String>,
) -> StoreResult<AuthSession> {
    let now = tx.now;
    let row = (
        auth_sessions::user_id.eq(user_id),
        auth_sessions::refresh_jti.eq(jti.to_string()),
        auth_sessions::user_agent.eq(user_agent),
        auth_sessions::created_at.eq(now),
        auth_sessions::last_used_at.eq(now),
        auth_sessions::expires_at.eq(expires_at),
    );
    Ok(on_conn!(&mut tx.conn, |c| {
        diesel::insert_into(auth_sessions::table)
            .values(row)
            .returning(AuthSession::as_returning())
            .get_result(c)
            .await?
    }))
}

/// What presenting a refresh token did.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RefreshOutcome {
    /// The token was the current one: it is replaced by `new_jti`.
    Rotated { user: User, session: AuthSession },
    /// The token had already been used: the whole session is now revoked.
    ReuseDetected,
    /// The session is revoked, expired or unknown.
    Inactive,
    /// The session's account is suspended.
    Suspended,
}

/// Rotates a session's refresh token, or revokes the session if an old token is replayed.
pub struct RotateRefresh {
    pub session_id: i64,
    pub presented_jti: String,
    pub new_jti: String,
    pub new_expires_at: NaiveDateTime,
}

impl WriteOp for RotateRefresh {
    type Output = RefreshOutcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<RefreshOutcome> {
        let now = tx.now;
        if super::accounts::session_owner_suspended(&mut tx.conn, self.session_id).await? {
            return Ok(RefreshOutcome::Suspended);
        }
        let Some(session) = active_session(&mut tx.conn, self.session_id, now).await? else {
            return Ok(RefreshOutcome::Inactive);
        };
        if !constant_time_eq(
            session.refresh_jti.as_bytes(),
            self.presented_jti.as_bytes(),
        ) {
            revoke(tx, session.id, "refresh token reused").await?;
            return Ok(RefreshOutcome::ReuseDetected);
        }
        let Some(user) = find(&mut tx.conn, session.user_id).await? else {
            return Ok(RefreshOutcome::Inactive);
        };
        let (id, jti, exp) = (session.id, self.new_jti.clone(), self.new_expires_at);
        let session = on_conn!(&mut tx.conn, |c| {
            diesel::update(auth_sessions::table.find(id))
                .set((
                    auth_sessions::refresh_jti.eq(jti),
                    auth_sessions::last_used_at.eq(now),
                    auth_sessions::expires_at.eq(exp),
                ))
                .returning(AuthSession::as_returning())
                .get_result(c)
                .await?
        });
        Ok(RefreshOutcome::Rotated { user, session })
    }
}

/// Revokes a session (logout). Answers whether it was active.
pub struct RevokeSession {
    pub session_id: i64,
    pub reason: &'static str,
}

impl WriteOp for RevokeSession {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        revoke(tx, self.session_id, self.reason).await
    }
}

async fn revoke(tx: &mut Tx<'_>, id: i64, reason: &str) -> StoreResult<bool> {
    let now = tx.now;
    let reason = reason.to_string();
    let n = on_conn!(&mut tx.conn, |c| {
        diesel::update(
            auth_sessions::table
                .find(id)
                .filter(auth_sessions::revoked_at.is_null()),
        )
        .set((
            auth_sessions::revoked_at.eq(Some(now)),
            auth_sessions::revoked_reason.eq(Some(reason)),
        ))
        .execute(c)
        .await?
    });
    // A device signed out is not woken any more.
    super::push::forget_sessions(tx, &[id]).await?;
    Ok(n > 0)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
