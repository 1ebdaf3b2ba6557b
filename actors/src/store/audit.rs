//! System admins and the audit log of what they (and the automatic defences) did. The log is
//! append-only: this module only ever inserts into it and reads it, and the database refuses
//! any UPDATE or DELETE of its rows (a trigger on each backend). Every moderation write here
//! records its audit entry in the same transaction as the change itself.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::message_ops::{DeleteForEveryone, Refusal};
use super::messages::Message;
use super::schema::{audit_log, chats, messages, system_admins, users};
use super::{accounts, Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// An entry of the audit log.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    /// The admin who acted; `None` for the system (automatic defence) or an operator's
    /// command line.
    pub admin_id: Option<i64>,
    pub action: String,
    pub target_type: String,
    pub target_id: i64,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Appends an entry to the audit log, in the caller's transaction.
pub async fn record(
    tx: &mut Tx<'_>,
    admin_id: Option<i64>,
    action: &str,
    target: (&str, i64),
    note: Option<&str>,
) -> StoreResult<()> {
    let now = tx.now;
    let (action, target_type, note) = (
        action.to_string(),
        target.0.to_string(),
        note.map(str::to_string),
    );
    on_conn!(&mut tx.conn, |c| {
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::admin_id.eq(admin_id),
                audit_log::action.eq(action),
                audit_log::target_type.eq(target_type),
                audit_log::target_id.eq(target.1),
                audit_log::note.eq(note),
                audit_log::created_at.eq(now),
            ))
            .execute(c)
            .await?
    });
    Ok(())
}

/// One page of the audit log, newest first, and how many entries there are.
pub async fn page(
    conn: &mut Conn<'_>,
    limit: i64,
    offset: i64,
) -> StoreResult<(Vec<AuditEntry>, i64)> {
    Ok(on_conn!(conn, |c| {
        let total: i64 = audit_log::table.count().get_result(c).await?;
        let rows = audit_log::table
            .order(audit_log::id.desc())
            .limit(limit)
            .offset(offset)
            .select(AuditEntry::as_select())
            .load(c)
            .await?;
        (rows, total)
    }))
}

/// Whether a user was made a system admin with `courier admin grant`.
pub async fn is_granted(conn: &mut Conn<'_>, user_id: i64) -> StoreResult<bool> {
    let n: i64 = on_conn!(conn, |c| {
        system_admins::table
            .find(user_id)
            .count()
            .get_result(c)
            .await?
    });
    Ok(n > 0)
}

/// Makes a user a system admin (`grant`) or ends it; answers whether anything changed. Done by
/// an operator's command line only, never through the API; audited with no admin id.
pub struct SetAdmin {
    pub user_id: i64,
    pub grant: bool,
}

impl WriteOp for SetAdmin {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        let (id, now) = (self.user_id, tx.now);
        let changed = on_conn!(&mut tx.conn, |c| {
            if self.grant {
                diesel::insert_into(system_admins::table)
                    .values((
                        system_admins::user_id.eq(id),
                        system_admins::granted_at.eq(now),
                    ))
                    .on_conflict_do_nothing()
                    .execute(c)
                    .await?
            } else {
                diesel::delete(system_admins::table.find(id))
                    .execute(c)
                    .await?
            }
        });
        if changed > 0 {
            let action = if self.grant {
                "admin_grant"
            } else {
                "admin_revoke"
            };
            record(tx, None, action, ("user", id), None).await?;
        }
        Ok(changed > 0)
    }
}

/// Suspends `user_id` (if not suspended yet) and ends every live session; answers the ended
/// sessions (whose sockets the caller closes), or `None` if the account was suspended already
/// or does not exist. Audited as `action` by `admin_id`.
pub async fn suspend(
    tx: &mut Tx<'_>,
    user_id: i64,
    admin_id: Option<i64>,
    action: &str,
    note: Option<&str>,
) -> StoreResult<Option<Vec<i64>>> {
    let now = tx.now;
    let n = on_conn!(&mut tx.conn, |c| {
        diesel::update(
            users::table
                .find(user_id)
                .filter(users::suspended_at.is_null())
                .filter(users::deleted_at.is_null()),
        )
        .set(users::suspended_at.eq(Some(now)))
        .execute(c)
        .await?
    });
    if n == 0 {
        return Ok(None);
    }
    let ended = accounts::revoke_all(tx, user_id, accounts::REASON_SUSPENDED).await?;
    record(tx, admin_id, action, ("user", user_id), note).await?;
    Ok(Some(ended))
}

/// An admin suspends an account: it cannot sign in, its sessions end at once. Answers the
/// ended sessions, or `None` if it was suspended already (nothing is written then).
pub struct AdminSuspend {
    pub admin_id: i64,
    pub user_id: i64,
    pub note: Option<String>,
}

impl WriteOp for AdminSuspend {
    type Output = Option<Vec<i64>>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Option<Vec<i64>>> {
        let note = self.note.clone();
        suspend(
            tx,
            self.user_id,
            Some(self.admin_id),
            "suspend",
            note.as_deref(),
        )
        .await
    }
}

/// An admin lifts a suspension; answers whether the account was suspended.
pub struct AdminUnsuspend {
    pub admin_id: i64,
    pub user_id: i64,
    pub note: Option<String>,
}

impl WriteOp for AdminUnsuspend {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        let id = self.user_id;
        let lifted = accounts::Unsuspend { user_id: id }.apply(tx).await?;
        if lifted {
            let note = self.note.clone();
            record(
                tx,
                Some(self.admin_id),
                "unsuspend",
                ("user", id),
                note.as_deref(),
            )
            .await?;
        }
        Ok(lifted)
    }
}

/// An admin deletes a message for everyone, as its sender could (the same change and event).
/// Answers the deleted row and the stored keys of its files, or why not.
pub struct AdminDeleteMessage {
    pub admin_id: i64,
    pub message_id: i64,
    pub note: Option<String>,
}

impl WriteOp for AdminDeleteMessage {
    type Output = Result<(Message, Vec<String>), Refusal>;

    async fn apply(
        &mut self,
        tx: &mut Tx<'_>,
    ) -> StoreResult<Result<(Message, Vec<String>), Refusal>> {
        let id = self.message_id;
        let found: Option<(i64, i64)> = on_conn!(&mut tx.conn, |c| {
            messages::table
                .find(id)
                .select((messages::chat_id, messages::sender_id))
                .first(c)
                .await
                .optional()?
        });
        let Some((chat_id, sender_id)) = found else {
            return Ok(Err(Refusal::NotFound));
        };
        let mut op = DeleteForEveryone {
            chat_id,
            message_id: id,
            user_id: sender_id,
        };
        let out = op.apply(tx).await?;
        if out.is_ok() {
            let note = self.note.clone();
            record(
                tx,
                Some(self.admin_id),
                "delete_message",
                ("message", id),
                note.as_deref(),
            )
            .await?;
        }
        Ok(out)
    }
}

/// An admin deletes a group for everyone: it disappears from every member's chat list and
/// nothing more can be sent to it. Answers whether there was such a live group.
pub struct AdminDeleteGroup {
    pub admin_id: i64,
    pub chat_id: i64,
    pub note: Option<String>,
}

impl WriteOp for AdminDeleteGroup {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        let (id, now) = (self.chat_id, tx.now);
        let n = on_conn!(&mut tx.conn, |c| {
            diesel::update(
                chats::table
                    .find(id)
                    .filter(chats::chat_type.eq("group"))
                    .filter(chats::deleted_at.is_null()),
            )
            .set((chats::deleted_at.eq(Some(now)), chats::updated_at.eq(now)))
            .execute(c)
            .await?
        });
        if n > 0 {
            let note = self.note.clone();
            record(
                tx,
                Some(self.admin_id),
                "delete_group",
                ("group", id),
                note.as_deref(),
            )
            .await?;
        }
        Ok(n > 0)
    }
}
