//! `sync`: everything that changed for a user since a cursor (a change sequence number):
//! messages sent, edited, deleted or reacted to, receipt cursor moves, messages they hid.
//! One indexed query per kind of change, merged by sequence.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::chats::Participant;
use super::receipts::ReceiptEvent;
use super::schema::{chat_participants as cp, message_hides, messages, receipt_events, users};
use super::users::User;
use super::views::{build_for, MessageView};
use super::{Conn, StoreResult};
use crate::on_conn;

/// One page of changes.
pub struct SyncPage {
    pub messages: Vec<MessageView>,
    pub receipts: Vec<ReceiptEvent>,
    /// (message id, seq) of messages the user hid on another device.
    pub hidden: Vec<(i64, i64)>,
    /// Where the next sync starts.
    pub cursor: i64,
    pub has_more: bool,
}

/// A receipt cursor move, as `sync` reports it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SyncReceipt {
    pub chat_id: i64,
    pub user_id: i64,
    /// `delivered` or `read`.
    pub status: String,
    pub up_to_message_id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub seq: i64,
}

/// A message the user hid on another device.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SyncHidden {
    pub message_id: i64,
    pub seq: i64,
}

/// A page of changes as clients get it: the `sync-result` frame's body, and `GET /api/sync`'s.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SyncView {
    pub messages: Vec<MessageView>,
    pub receipts: Vec<SyncReceipt>,
    pub hidden: Vec<SyncHidden>,
    pub cursor: i64,
    pub has_more: bool,
}

impl SyncPage {
    /// The page as clients get it (see [`SyncView`]).
    pub fn view(&self) -> SyncView {
        SyncView {
            messages: self.messages.clone(),
            receipts: self
                .receipts
                .iter()
                .map(|r| SyncReceipt {
                    chat_id: r.chat_id,
                    user_id: r.user_id,
                    status: r.kind.clone(),
                    up_to_message_id: r.up_to_message_id,
                    at: r.at.and_utc(),
                    seq: r.seq,
                })
                .collect(),
            hidden: self
                .hidden
                .iter()
                .map(|&(message_id, seq)| SyncHidden { message_id, seq })
                .collect(),
            cursor: self.cursor,
            has_more: self.has_more,
        }
    }

    /// The page as JSON, for the `sync-result` frame.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.view()).unwrap_or_default()
    }
}

/// The last committed change sequence number: a cursor from which `since` returns only what
/// changes from now on (for a device that reads the current state some other way).
pub async fn latest(conn: &mut Conn<'_>) -> StoreResult<i64> {
    super::positions::committed_upto(conn).await
}

/// Changes with a sequence number above `since`, oldest first, at most `limit`.
pub async fn since(
    conn: &mut Conn<'_>,
    user_id: i64,
    since: i64,
    limit: i64,
) -> StoreResult<SyncPage> {
    let take = limit + 1;
    // Only changes up to the committed position (see `positions`): the three reads below are
    // not one snapshot, and a batch committing between them must not show its later changes
    // (moving the cursor past its earlier ones, which a read already made did not see).
    let upto = super::positions::committed_upto(conn).await?;
    let msgs: Vec<super::messages::Message> = on_conn!(conn, |c| {
        messages::table
            .inner_join(
                cp::table.on(cp::chat_id
                    .eq(messages::chat_id)
                    .and(cp::user_id.eq(user_id))),
            )
            .filter(messages::seq.gt(since))
            .filter(messages::seq.le(upto))
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
            .order(messages::seq)
            .limit(take)
            .select(super::messages::Message::as_select())
            .load(c)
            .await?
    });
    let receipts: Vec<ReceiptEvent> = on_conn!(conn, |c| {
        receipt_events::table
            .inner_join(
                cp::table.on(cp::chat_id
                    .eq(receipt_events::chat_id)
                    .and(cp::user_id.eq(user_id))),
            )
            .filter(receipt_events::seq.gt(since))
            .filter(receipt_events::seq.le(upto))
            // A former member hears of nothing that happened after they left.
            .filter(
                cp::left_at.is_null().or(receipt_events::up_to_message_id
                    .le(cp::last_visible_message_id.assume_not_null())
                    .and(receipt_events::at.le(cp::left_at.assume_not_null()))),
            )
            .order(receipt_events::seq)
            .limit(take)
            .select(ReceiptEvent::as_select())
            .load(c)
            .await?
    });
    let hidden: Vec<(i64, i64)> = on_conn!(conn, |c| {
        message_hides::table
            .filter(message_hides::user_id.eq(user_id))
            .filter(message_hides::seq.gt(since))
            .filter(message_hides::seq.le(upto))
            .order(message_hides::seq)
            .limit(take)
            .select((message_hides::message_id, message_hides::seq))
            .load(c)
            .await?
    });

    // Merge the three by sequence and keep the first `limit`.
    let mut seqs: Vec<i64> = msgs
        .iter()
        .map(|m| m.seq)
        .chain(receipts.iter().map(|r| r.seq))
        .chain(hidden.iter().map(|h| h.1))
        .collect();
    seqs.sort_unstable();
    let has_more = seqs.len() as i64 > limit;
    let cursor = if has_more {
        seqs[(limit - 1) as usize]
    } else {
        seqs.last().copied().unwrap_or(since)
    };
    let msgs: Vec<_> = msgs.into_iter().filter(|m| m.seq <= cursor).collect();
    let receipts: Vec<_> = receipts.into_iter().filter(|r| r.seq <= cursor).collect();
    let hidden: Vec<_> = hidden.into_iter().filter(|h| h.1 <= cursor).collect();

    let mut chat_ids: Vec<i64> = msgs.iter().map(|m| m.chat_id).collect();
    chat_ids.sort_unstable();
    chat_ids.dedup();
    let members: Vec<(Participant, User)> = on_conn!(conn, |c| {
        cp::table
            .inner_join(users::table)
            .filter(cp::chat_id.eq_any(&chat_ids))
            .select((Participant::as_select(), User::as_select()))
            .load(c)
            .await?
    });
    let views = build_for(conn, user_id, &members, &msgs).await?;
    Ok(SyncPage {
        messages: views,
        receipts,
        hidden,
        cursor,
        has_more,
    })
}
