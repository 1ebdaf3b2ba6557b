//! Account deletion and its purge. Deleting an account (confirmed with a one-time code) ends
//! every session and turns the profile into "Deleted account" at once, and frees the phone
//! number for a new sign-up; the purge, some days later (`privacy.account_purge_after_days`),
//! removes the account's messages, files, statuses, contacts and phone number for good, and
//! the user row with them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::auth::{check_code, consume_code, CodeCheck};
use super::groups::ADMIN;
use super::schema::{
    chat_participants as cp, chats, group_invites, messages, reports, statuses, users,
};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

diesel::define_sql_function! {
    /// SQL `REPLACE(text, from, to)`, the same on both backends.
    fn replace(text: diesel::sql_types::Nullable<diesel::sql_types::Text>, from: diesel::sql_types::Text, to: diesel::sql_types::Text) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// The name a deleted account shows under, wherever others still see it (group members,
/// senders of old messages) until the purge.
pub const DELETED_NAME: &str = "Deleted account";
/// Why the sessions of a deleted account were revoked.
pub const REASON_DELETED: &str = "account deleted";

/// Deletes the caller's account, if `code_hash` is the live one-time code of its phone.
pub struct DeleteAccount {
    pub user_id: i64,
    /// The keyed hash of the account's phone number (the code was sent to it).
    pub phone_hash: String,
    pub code_hash: String,
    pub max_attempts: i32,
}

/// What a deletion did.
#[derive(Debug)]
pub struct AccountDeleted {
    pub deleted_at: NaiveDateTime,
    /// Device sessions that ended (their sockets are closed by the caller).
    pub sessions: Vec<i64>,
    /// The profile photo the account had (its files are removed by the caller).
    pub avatar_url: Option<String>,
    /// Chats the account was a current member of (their rooms reload members and roles).
    pub chats: Vec<i64>,
}

/// The answer to a deletion request.
#[derive(Debug)]
pub enum DeleteOutcome {
    Deleted(AccountDeleted),
    /// No live code for the account's phone.
    NoCode,
    Expired,
    Wrong {
        attempts_left: i32,
    },
    /// The account does not exist (any more).
    Gone,
}

impl WriteOp for DeleteAccount {
    type Output = DeleteOutcome;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<DeleteOutcome> {
        let id = self.user_id;
        let Some(user) = super::users::find(&mut tx.conn, id).await? else {
            return Ok(DeleteOutcome::Gone);
        };
        match check_code(tx, &self.phone_hash, &self.code_hash, self.max_attempts).await? {
            CodeCheck::Valid(code) => consume_code(tx, code.id).await?,
            CodeCheck::NoCode => return Ok(DeleteOutcome::NoCode),
            CodeCheck::Expired => return Ok(DeleteOutcome::Expired),
            CodeCheck::Wrong { attempts_left } => {
                return Ok(DeleteOutcome::Wrong { attempts_left })
            }
        }
        let now = tx.now;
        let chats = on_conn!(&mut tx.conn, |c| {
            // The phone's hash is unique: a tombstone value lets the number sign up again.
            diesel::update(users::table.find(id))
                .set((
                    users::deleted_at.eq(Some(now)),
                    users::phone_hash.eq(format!("deleted:{id}")),
                    users::name.eq(DELETED_NAME),
                    users::about.eq(""),
                    users::avatar_url.eq(None::<String>),
                    users::is_online.eq(false),
                    users::privacy_last_seen.eq("nobody"),
                    users::privacy_profile_photo.eq("nobody"),
                    users::privacy_about.eq("nobody"),
                    users::privacy_groups.eq("nobody"),
                    users::updated_at.eq(now),
                ))
                .execute(c)
                .await?;
            diesel::delete(
                group_invites::table.filter(
                    group_invites::user_id
                        .eq(id)
                        .or(group_invites::invited_by.eq(id)),
                ),
            )
            .execute(c)
            .await?;
            let chats: Vec<i64> = cp::table
                .filter(cp::user_id.eq(id))
                .filter(cp::left_at.is_null())
                .select(cp::chat_id)
                .load(c)
                .await?;
            chats
        });
        let sessions = super::accounts::revoke_all(tx, id, REASON_DELETED).await?;
        forget_name_in_notices(tx, id, &user.name, &chats).await?;
        hand_over_groups(tx, id).await?;
        Ok(DeleteOutcome::Deleted(AccountDeleted {
            deleted_at: now,
            sessions,
            avatar_url: user.avatar_url,
            chats,
        }))
    }
}

/// Group notices ("Ana added Bo") of the account's groups that name it (their data holds its
/// id) say "Deleted account" instead of its name from now on.
async fn forget_name_in_notices(
    tx: &mut Tx<'_>,
    user_id: i64,
    name: &str,
    chats: &[i64],
) -> StoreResult<()> {
    let (name, mention) = (name.to_string(), format!("%{user_id}%"));
    on_conn!(&mut tx.conn, |c| {
        diesel::update(
            messages::table
                .filter(messages::chat_id.eq_any(chats))
                .filter(messages::message_type.eq("system"))
                .filter(messages::system_data.like(&mention)),
        )
        .set(messages::content.eq(replace(messages::content, &name, DELETED_NAME)))
        .execute(c)
        .await?
    });
    Ok(())
}

/// In every group where the deleted account was the only admin, the longest-standing other
/// member becomes admin (as when the last admin leaves), so the group keeps working.
async fn hand_over_groups(tx: &mut Tx<'_>, user_id: i64) -> StoreResult<()> {
    let groups: Vec<i64> = on_conn!(&mut tx.conn, |c| {
        cp::table
            .inner_join(chats::table)
            .filter(cp::user_id.eq(user_id))
            .filter(cp::left_at.is_null())
            .filter(cp::role.eq(ADMIN))
            .filter(chats::chat_type.eq("group"))
            .filter(chats::deleted_at.is_null())
            .select(cp::chat_id)
            .load(c)
            .await?
    });
    for chat_id in groups {
        on_conn!(&mut tx.conn, |c| {
            let others = cp::table
                .filter(cp::chat_id.eq(chat_id))
                .filter(cp::user_id.ne(user_id))
                .filter(cp::left_at.is_null());
            let admins: i64 = others
                .filter(cp::role.eq(ADMIN))
                .count()
                .get_result(c)
                .await?;
            if admins == 0 {
                let heir: Option<i64> = others
                    .order((cp::joined_at, cp::id))
                    .select(cp::id)
                    .first(c)
                    .await
                    .optional()?;
                if let Some(heir) = heir {
                    diesel::update(cp::table.find(heir))
                        .set(cp::role.eq(ADMIN))
                        .execute(c)
                        .await?;
                }
            }
        });
    }
    Ok(())
}

/// Accounts deleted at `before` or earlier and not purged yet, oldest first.
pub async fn due(conn: &mut Conn<'_>, before: NaiveDateTime, limit: i64) -> StoreResult<Vec<i64>> {
    Ok(on_conn!(conn, |c| {
        users::table
            .filter(users::deleted_at.le(before))
            .order((users::deleted_at, users::id))
            .limit(limit)
            .select(users::id)
            .load(c)
            .await?
    }))
}

/// Removes a deleted account for good: its messages (with their reactions, edits, hides),
/// statuses, contacts both ways, memberships, sessions, calls it placed, reports about it,
/// and the user row with its phone number. Other members' chats keep working: a chat whose
/// newest message was the account's shows the one before it. Answers the stored keys of the
/// files its messages and statuses had (removed by the caller once committed), or `None` if
/// the account is not a deleted one.
pub struct PurgeAccount {
    pub user_id: i64,
}

impl WriteOp for PurgeAccount {
    type Output = Option<(Vec<String>, Vec<i64>)>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Option<(Vec<String>, Vec<i64>)>> {
        let id = self.user_id;
        let key = |v: Option<String>| v.and_then(|v| crate::storage::key_of(&v).map(String::from));
        let found = on_conn!(&mut tx.conn, |c| {
            let deleted: Option<Option<NaiveDateTime>> = users::table
                .find(id)
                .select(users::deleted_at)
                .first(c)
                .await
                .optional()?;
            if !matches!(deleted, Some(Some(_))) {
                None
            } else {
                let files: Vec<(Option<String>, Option<String>)> = messages::table
                    .filter(messages::sender_id.eq(id))
                    .select((messages::media_url, messages::thumbnail_url))
                    .load(c)
                    .await?;
                let status_files: Vec<Option<String>> = statuses::table
                    .filter(statuses::user_id.eq(id))
                    .select(statuses::media_url)
                    .load(c)
                    .await?;
                let reported: Vec<Option<String>> = reports::table
                    .filter(reports::reported_user_id.eq(id))
                    .select(reports::message_media_url)
                    .load(c)
                    .await?;
                let mut chat_ids: Vec<i64> = messages::table
                    .filter(messages::sender_id.eq(id))
                    .select(messages::chat_id)
                    .distinct()
                    .load(c)
                    .await?;
                let member_of: Vec<i64> = cp::table
                    .filter(cp::user_id.eq(id))
                    .select(cp::chat_id)
                    .load(c)
                    .await?;
                chat_ids.extend(member_of);
                chat_ids.sort_unstable();
                chat_ids.dedup();
                let mut keys = Vec::new();
                for (media, thumb) in files {
                    keys.extend(key(media));
                    keys.extend(key(thumb));
                }
                keys.extend(status_files.into_iter().filter_map(key));
                keys.extend(reported.into_iter().filter_map(key));
                Some((keys, chat_ids))
            }
        });
        let Some((keys, chat_ids)) = found else {
            return Ok(None);
        };
        on_conn!(&mut tx.conn, |c| {
            // Reports about the account hold copies of its messages; those it filed go with
            // the user row (cascade).
            diesel::delete(reports::table.filter(reports::reported_user_id.eq(id)))
                .execute(c)
                .await?;
            // The private chats' keys name both users; the chat stays for the other one.
            diesel::update(
                chats::table
                    .filter(chats::id.eq_any(&chat_ids))
                    .filter(chats::chat_type.eq("private")),
            )
            .set(chats::private_key.eq(None::<String>))
            .execute(c)
            .await?;
            // Everything else that names the account goes with its row (foreign keys cascade:
            // what hangs on its messages, statuses and their views, contacts both ways,
            // memberships, receipts, sessions, invites, calls it placed, admin grants).
            diesel::delete(users::table.find(id)).execute(c).await?;
            // Messages name their sender without a foreign key on PostgreSQL (see the
            // migration `lean_message_insert`): they go after the row, whose delete waited
            // for any batch storing one of them (batches key-share lock their senders).
            diesel::delete(messages::table.filter(messages::sender_id.eq(id)))
                .execute(c)
                .await?;
        });
        refresh_last_messages(tx, &chat_ids).await?;
        Ok(Some((keys, chat_ids)))
    }
}

/// Points each chat's `last_message_id` at its newest remaining message (after messages
/// were removed).
pub(crate) async fn refresh_last_messages(tx: &mut Tx<'_>, chat_ids: &[i64]) -> StoreResult<()> {
    for &chat_id in chat_ids {
        on_conn!(&mut tx.conn, |c| {
            let last: Option<i64> = messages::table
                .filter(messages::chat_id.eq(chat_id))
                .select(diesel::dsl::max(messages::id))
                .first(c)
                .await?;
            diesel::update(chats::table.find(chat_id))
                .set(chats::last_message_id.eq(last))
                .execute(c)
                .await?;
        });
    }
    Ok(())
}
