//! Starred messages: each user's own bookmarks, listed newest star first. A star is private
//! (nobody else learns of it) and goes with the message: a message deleted for everyone,
//! hidden by the user, purged or out of their sight (a group they left, after they left)
//! leaves their list.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::messages::Message;
use super::schema::{chat_participants as cp, message_hides, message_stars, messages};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// Stars a message for a user (again: nothing changes). Answers when it was starred.
pub struct Star {
    pub user_id: i64,
    pub message_id: i64,
}

impl WriteOp for Star {
    type Output = NaiveDateTime;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<NaiveDateTime> {
        let (uid, mid, now) = (self.user_id, self.message_id, tx.now);
        let earlier: Option<NaiveDateTime> = on_conn!(&mut tx.conn, |c| {
            message_stars::table
                .find((uid, mid))
                .select(message_stars::starred_at)
                .first(c)
                .await
                .optional()?
        });
        if let Some(at) = earlier {
            return Ok(at);
        }
        on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(message_stars::table)
                .values((
                    message_stars::user_id.eq(uid),
                    message_stars::message_id.eq(mid),
                    message_stars::starred_at.eq(now),
                ))
                .execute(c)
                .await?
        });
        Ok(now)
    }
}

/// Takes a user's star off a message. Answers whether there was one.
pub struct Unstar {
    pub user_id: i64,
    pub message_id: i64,
}

impl WriteOp for Unstar {
    type Output = bool;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        let (uid, mid) = (self.user_id, self.message_id);
        let n = on_conn!(&mut tx.conn, |c| {
            diesel::delete(message_stars::table.find((uid, mid)))
                .execute(c)
                .await?
        });
        Ok(n > 0)
    }
}

/// Which of `ids` the user starred (for the `is_starred` of their history).
pub async fn starred_among(
    conn: &mut Conn<'_>,
    user_id: i64,
    ids: &[i64],
) -> StoreResult<HashSet<i64>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let found: Vec<i64> = on_conn!(conn, |c| {
        message_stars::table
            .filter(message_stars::user_id.eq(user_id))
            .filter(message_stars::message_id.eq_any(ids))
            .select(message_stars::message_id)
            .load(c)
            .await?
    });
    Ok(found.into_iter().collect())
}

/// One page of the user's starred messages that they can still see, newest star first,
/// optionally within one chat; and how many there are in all.
pub async fn page(
    conn: &mut Conn<'_>,
    user_id: i64,
    chat_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> StoreResult<(Vec<(Message, NaiveDateTime)>, i64)> {
    Ok(on_conn!(conn, |c| {
        // Built twice (a boxed query is consumed by running it), inside the macro's arm so
        // that each backend gets its own.
        let visible = || {
            let mut q = message_stars::table
                .inner_join(messages::table.on(messages::id.eq(message_stars::message_id)))
                .inner_join(
                    cp::table.on(cp::chat_id
                        .eq(messages::chat_id)
                        .and(cp::user_id.eq(message_stars::user_id))),
                )
                .filter(message_stars::user_id.eq(user_id))
                .filter(messages::deleted_at.is_null())
                .filter(
                    cp::left_at
                        .is_null()
                        .or(messages::id.le(cp::last_visible_message_id.assume_not_null())),
                )
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    message_hides::table
                        .filter(message_hides::message_id.eq(messages::id))
                        .filter(message_hides::user_id.eq(user_id)),
                )))
                .into_boxed();
            if let Some(chat) = chat_id {
                q = q.filter(messages::chat_id.eq(chat));
            }
            q
        };
        let rows: Vec<(Message, NaiveDateTime)> = visible()
            .order((message_stars::starred_at.desc(), messages::id.desc()))
            .limit(limit)
            .offset(offset)
            .select((Message::as_select(), message_stars::starred_at))
            .load(c)
            .await?;
        let total: i64 = visible().count().get_result(c).await?;
        (rows, total)
    }))
}
