//! Calls: the history row each call leaves, and the call list.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{calls, chat_participants as cp};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// A call row.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = calls)]
pub struct Call {
    pub id: i64,
    pub chat_id: i64,
    pub caller_id: i64,
    pub call_type: String,
    pub status: String,
    pub started_at: Option<NaiveDateTime>,
    pub ended_at: Option<NaiveDateTime>,
    pub duration: Option<i32>,
    pub created_at: NaiveDateTime,
}

/// Records a new call (status `initiated`).
pub struct CreateCall {
    pub chat_id: i64,
    pub caller_id: i64,
    pub call_type: &'static str,
    /// How long it rings: the callees' pushes expire with it.
    pub ring: chrono::TimeDelta,
}

impl WriteOp for CreateCall {
    type Output = Call;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Call> {
        let (chat, caller, kind, now) = (self.chat_id, self.caller_id, self.call_type, tx.now);
        let call: Call = on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(calls::table)
                .values((
                    calls::chat_id.eq(chat),
                    calls::caller_id.eq(caller),
                    calls::call_type.eq(kind),
                    calls::status.eq("initiated"),
                    calls::created_at.eq(now),
                ))
                .returning(Call::as_returning())
                .get_result(c)
                .await?
        });
        let notice = super::push::Notice {
            kind: super::push::Kind::Call,
            chat_id: chat,
            message_id: None,
            call_id: Some(call.id),
            high_priority: true,
            expires_at: now + self.ring,
        };
        push_to_callees(tx, &call, &notice).await?;
        Ok(call)
    }
}

/// Queues `notice` for the chat's current members but the caller.
async fn push_to_callees(
    tx: &mut Tx<'_>,
    call: &Call,
    notice: &super::push::Notice,
) -> StoreResult<()> {
    use super::schema::chat_participants as cp;
    let (chat, caller) = (call.chat_id, call.caller_id);
    let callees: Vec<i64> = on_conn!(&mut tx.conn, |c| {
        cp::table
            .filter(cp::chat_id.eq(chat))
            .filter(cp::left_at.is_null())
            .filter(cp::user_id.ne(caller))
            .select(cp::user_id)
            .load(c)
            .await?
    });
    super::push::enqueue(tx, &callees, notice).await
}

/// Records a call's new state; times are the batch's time where asked for.
pub struct UpdateCall {
    pub call_id: i64,
    pub status: &'static str,
    pub started: bool,
    pub ended: bool,
}

impl WriteOp for UpdateCall {
    type Output = Call;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Call> {
        let (id, status, now) = (self.call_id, self.status, tx.now);
        let current: Call = on_conn!(&mut tx.conn, |c| {
            calls::table
                .find(id)
                .select(Call::as_select())
                .first(c)
                .await?
        });
        let started_at = if self.started {
            Some(now)
        } else {
            current.started_at
        };
        let ended_at = if self.ended {
            Some(now)
        } else {
            current.ended_at
        };
        let duration = match (started_at, ended_at) {
            (Some(s), Some(e)) => Some((e - s).num_seconds().clamp(0, i32::MAX as i64) as i32),
            (None, Some(_)) => Some(0),
            _ => None,
        };
        let call: Call = on_conn!(&mut tx.conn, |c| {
            diesel::update(calls::table.find(id))
                .set((
                    calls::status.eq(status),
                    calls::started_at.eq(started_at),
                    calls::ended_at.eq(ended_at),
                    calls::duration.eq(duration),
                ))
                .returning(Call::as_returning())
                .get_result(c)
                .await?
        });
        if status == "missed" && current.status != "missed" {
            let notice = super::push::Notice {
                kind: super::push::Kind::MissedCall,
                chat_id: call.chat_id,
                message_id: None,
                call_id: Some(call.id),
                high_priority: false,
                expires_at: now + super::push::MESSAGE_TTL,
            };
            push_to_callees(tx, &call, &notice).await?;
        }
        Ok(call)
    }
}

/// Closes live calls whose actor is gone: those a previous run left (calls live only in
/// memory, so none survives a restart; `only: None`), or those of a dead node of a cluster
/// (`only`: their ids). Never answered ones become `missed` (duration 0), answered ones
/// `ended`. Their `ended_at` is the time of this write: when the actor stopped is not
/// recorded, so the duration of an answered call counts up to now. Answers the calls it
/// closed, as they are now.
pub struct CloseInterruptedCalls {
    pub only: Option<Vec<i64>>,
}

impl WriteOp for CloseInterruptedCalls {
    type Output = Vec<Call>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Vec<Call>> {
        let now = tx.now;
        let only = self.only.clone();
        let live: Vec<Call> = on_conn!(&mut tx.conn, |c| {
            let mut q = calls::table
                .filter(calls::status.eq_any(["initiated", "ringing", "answered"]))
                .select(Call::as_select())
                .into_boxed();
            if let Some(ids) = &only {
                q = q.filter(calls::id.eq_any(ids.clone()));
            }
            q.load(c).await?
        });
        let mut closed = Vec::with_capacity(live.len());
        for call in live {
            let answered = call.status == "answered";
            let started = match answered {
                true => Some(call.started_at.unwrap_or(now)),
                false => call.started_at,
            };
            let duration = match (answered, started) {
                (true, Some(s)) => (now - s).num_seconds().clamp(0, i32::MAX as i64) as i32,
                _ => 0,
            };
            let status = if answered { "ended" } else { "missed" };
            let call: Call = on_conn!(&mut tx.conn, |c| {
                diesel::update(calls::table.find(call.id))
                    .set((
                        calls::status.eq(status),
                        calls::started_at.eq(started),
                        calls::ended_at.eq(Some(now)),
                        calls::duration.eq(Some(duration)),
                    ))
                    .returning(Call::as_returning())
                    .get_result(c)
                    .await?
            });
            closed.push(call);
        }
        Ok(closed)
    }
}

/// A call by id, if `user_id` is a current member of its chat (someone who left the chat
/// cannot act on its calls).
pub async fn find_for_member(
    conn: &mut Conn<'_>,
    id: i64,
    user_id: i64,
) -> StoreResult<Option<Call>> {
    Ok(on_conn!(conn, |c| {
        calls::table
            .inner_join(cp::table.on(cp::chat_id.eq(calls::chat_id).and(cp::user_id.eq(user_id))))
            .filter(calls::id.eq(id))
            .filter(cp::left_at.is_null())
            .select(Call::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// A page of the calls in the user's chats (made or received), newest first, and the total.
pub async fn history(
    conn: &mut Conn<'_>,
    user_id: i64,
    limit: i64,
    offset: i64,
) -> StoreResult<(Vec<Call>, i64)> {
    let total: i64 = on_conn!(conn, |c| {
        calls::table
            .inner_join(cp::table.on(cp::chat_id.eq(calls::chat_id).and(cp::user_id.eq(user_id))))
            .filter(
                cp::left_at
                    .is_null()
                    .or(calls::created_at.le(cp::left_at.assume_not_null())),
            )
            .count()
            .get_result(c)
            .await?
    });
    let rows: Vec<Call> = on_conn!(conn, |c| {
        calls::table
            .inner_join(cp::table.on(cp::chat_id.eq(calls::chat_id).and(cp::user_id.eq(user_id))))
            .filter(
                cp::left_at
                    .is_null()
                    .or(calls::created_at.le(cp::left_at.assume_not_null())),
            )
            .order((calls::created_at.desc(), calls::id.desc()))
            .limit(limit)
            .offset(offset)
            .select(Call::as_select())
            .load(c)
            .await?
    });
    Ok((rows, total))
}
