//! Push targets and the push outbox.
//!
//! A device session registers one target (FCM, APNs, Web Push or a webhook). What should wake
//! a sleeping phone (a new message, a call ringing, a missed call, being added to a group)
//! writes one outbox row per target of each recipient, in the same transaction as the change
//! itself: a committed message always has its pushes queued, and a restart finds them there.
//! The dispatcher (in the HTTP edge, which holds the providers' clients) takes due rows,
//! skips devices that have a live socket (the socket delivered it), sends the rest and settles
//! each row: gone when sent, dropped or expired; later, with a backoff, when the provider
//! failed; the target itself gone when the provider says the token is dead.
//!
//! Privacy: a row carries ids only; with previews on, the dispatcher reads the text when it
//! sends (a message deleted by then shows none). Muted chats and senders the recipient
//! blocked queue nothing.

use std::collections::HashSet;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::messages::Message;
use super::schema::{chat_participants as cp, contacts, push_outbox, push_targets};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// How long a message push may wait for its provider before it is pointless.
pub const MESSAGE_TTL: TimeDelta = TimeDelta::days(1);
/// Longest preview text a push carries.
const PREVIEW_CHARS: usize = 120;

/// A registered target.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = push_targets)]
pub struct Target {
    pub id: i64,
    pub user_id: i64,
    pub auth_session_id: i64,
    pub platform: String,
    pub token: String,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Registers (or replaces) the push target of a device session. A token another session held
/// moves to this one (the app was signed in again on the same phone).
pub struct Register {
    pub user_id: i64,
    pub auth_session_id: i64,
    pub platform: String,
    pub token: String,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
}

impl WriteOp for Register {
    type Output = Target;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Target> {
        let now = tx.now;
        let (sid, platform, token) = (
            self.auth_session_id,
            self.platform.clone(),
            self.token.clone(),
        );
        let (uid, p256dh, auth) = (self.user_id, self.p256dh.clone(), self.auth.clone());
        Ok(on_conn!(&mut tx.conn, |c| {
            diesel::delete(
                push_targets::table.filter(
                    push_targets::auth_session_id
                        .eq(sid)
                        .or(push_targets::platform
                            .eq(&platform)
                            .and(push_targets::token.eq(&token))),
                ),
            )
            .execute(c)
            .await?;
            diesel::insert_into(push_targets::table)
                .values((
                    push_targets::user_id.eq(uid),
                    push_targets::auth_session_id.eq(sid),
                    push_targets::platform.eq(&platform),
                    push_targets::token.eq(&token),
                    push_targets::p256dh.eq(&p256dh),
                    push_targets::auth.eq(&auth),
                    push_targets::created_at.eq(now),
                    push_targets::updated_at.eq(now),
                ))
                .returning(Target::as_returning())
                .get_result(c)
                .await?
        }))
    }
}

/// Removes the push targets of these device sessions (with their pending pushes); answers how
/// many there were.
pub struct Unregister {
    pub auth_session_ids: Vec<i64>,
}

impl WriteOp for Unregister {
    type Output = usize;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<usize> {
        forget_sessions(tx, &self.auth_session_ids).await
    }
}

/// Removes the targets of device sessions that ended (sign-out, revocation).
pub(crate) async fn forget_sessions(tx: &mut Tx<'_>, ids: &[i64]) -> StoreResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(on_conn!(&mut tx.conn, |c| {
        let targets: Vec<i64> = push_targets::table
            .filter(push_targets::auth_session_id.eq_any(ids))
            .select(push_targets::id)
            .load(c)
            .await?;
        diesel::delete(push_outbox::table.filter(push_outbox::target_id.eq_any(&targets)))
            .execute(c)
            .await?;
        diesel::delete(push_targets::table.filter(push_targets::id.eq_any(&targets)))
            .execute(c)
            .await?
    }))
}

/// The push target of a device session, if it registered one.
pub async fn of_session(conn: &mut Conn<'_>, auth_session_id: i64) -> StoreResult<Option<Target>> {
    Ok(on_conn!(conn, |c| {
        push_targets::table
            .filter(push_targets::auth_session_id.eq(auth_session_id))
            .select(Target::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// What a push announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Message,
    Call,
    MissedCall,
    GroupAdded,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Call => "call",
            Kind::MissedCall => "missed_call",
            Kind::GroupAdded => "group_added",
        }
    }
}

/// One push to queue for each target of `users`.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: Kind,
    pub chat_id: i64,
    pub message_id: Option<i64>,
    pub call_id: Option<i64>,
    pub high_priority: bool,
    pub expires_at: NaiveDateTime,
}

/// Queues `notice` for every target of `users` (one query for the targets, one insert each).
pub(crate) async fn enqueue(tx: &mut Tx<'_>, users_to: &[i64], notice: &Notice) -> StoreResult<()> {
    if users_to.is_empty() {
        return Ok(());
    }
    let targets: Vec<(i64, i64)> = on_conn!(&mut tx.conn, |c| {
        push_targets::table
            .filter(push_targets::user_id.eq_any(users_to))
            .select((push_targets::id, push_targets::user_id))
            .load(c)
            .await?
    });
    insert(tx, &targets, notice).await
}

async fn insert(tx: &mut Tx<'_>, targets: &[(i64, i64)], n: &Notice) -> StoreResult<()> {
    let now = tx.now;
    for (target, user) in targets {
        let n = n.clone();
        on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(push_outbox::table)
                .values((
                    push_outbox::target_id.eq(target),
                    push_outbox::user_id.eq(user),
                    push_outbox::kind.eq(n.kind.as_str()),
                    push_outbox::chat_id.eq(n.chat_id),
                    push_outbox::message_id.eq(n.message_id),
                    push_outbox::call_id.eq(n.call_id),
                    push_outbox::priority.eq(if n.high_priority { "high" } else { "normal" }),
                    push_outbox::expires_at.eq(n.expires_at),
                    push_outbox::next_attempt_at.eq(now),
                    push_outbox::created_at.eq(now),
                ))
                .execute(c)
                .await?
        });
    }
    Ok(())
}

/// A message's text as a preview: its first characters, or what kind of message it is.
pub fn preview(m: &Message) -> String {
    match (m.message_type.as_str(), &m.content) {
        ("text", Some(t)) => t.chars().take(PREVIEW_CHARS).collect(),
        ("image", _) => "📷 Photo".into(),
        ("video", _) => "🎥 Video".into(),
        ("audio", _) => "🎤 Voice message".into(),
        ("document", _) => "📄 Document".into(),
        ("location", _) => "📍 Location".into(),
        ("contact", _) => "👤 Contact".into(),
        _ => "New message".into(),
    }
}

/// Queues the pushes of a batch's new messages: for every target of every current member
/// but the sender, unless the member muted the chat or blocked the sender. Two queries when
/// nobody in these chats has a target (the usual case under load), four otherwise.
pub(crate) async fn enqueue_messages(tx: &mut Tx<'_>, rows: &[Message]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let now = tx.now;
    let mut chat_ids: Vec<i64> = rows.iter().map(|m| m.chat_id).collect();
    chat_ids.sort_unstable();
    chat_ids.dedup();
    // (target, user, chat) of every unmuted current member with a target.
    let reach: Vec<(i64, i64, i64)> = on_conn!(&mut tx.conn, |c| {
        push_targets::table
            .inner_join(cp::table.on(cp::user_id.eq(push_targets::user_id)))
            .filter(cp::chat_id.eq_any(&chat_ids))
            .filter(cp::left_at.is_null())
            .filter(cp::muted_until.is_null().or(cp::muted_until.le(now)))
            .select((push_targets::id, push_targets::user_id, cp::chat_id))
            .load(c)
            .await?
    });
    if reach.is_empty() {
        return Ok(());
    }
    let owners: Vec<i64> = reach.iter().map(|r| r.1).collect();
    let senders: Vec<i64> = rows.iter().map(|m| m.sender_id).collect();
    let blocked: HashSet<(i64, i64)> = on_conn!(&mut tx.conn, |c| {
        contacts::table
            .filter(contacts::is_blocked.eq(true))
            .filter(contacts::user_id.eq_any(&owners))
            .filter(contacts::contact_user_id.eq_any(&senders))
            .select((contacts::user_id, contacts::contact_user_id))
            .load::<(i64, i64)>(c)
            .await?
    })
    .into_iter()
    .collect();
    for m in rows {
        let targets: Vec<(i64, i64)> = reach
            .iter()
            .filter(|(_, user, chat)| *chat == m.chat_id && *user != m.sender_id)
            .filter(|(_, user, _)| !blocked.contains(&(*user, m.sender_id)))
            .map(|(target, user, _)| (*target, *user))
            .collect();
        if targets.is_empty() {
            continue;
        }
        let notice = Notice {
            kind: Kind::Message,
            chat_id: m.chat_id,
            message_id: Some(m.id),
            call_id: None,
            high_priority: false,
            expires_at: now + MESSAGE_TTL,
        };
        insert(tx, &targets, &notice).await?;
    }
    Ok(())
}

/// A queued push with what sending it needs.
#[derive(Debug, Clone, Queryable)]
pub struct Pending {
    pub id: i64,
    pub kind: String,
    pub chat_id: i64,
    pub message_id: Option<i64>,
    pub call_id: Option<i64>,
    pub priority: String,
    pub expires_at: NaiveDateTime,
    pub attempts: i32,
    pub target: (
        i64,
        i64,
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
    ),
}

impl Pending {
    pub fn target_id(&self) -> i64 {
        self.target.0
    }
    pub fn user_id(&self) -> i64 {
        self.target.1
    }
    pub fn auth_session_id(&self) -> i64 {
        self.target.2
    }
    pub fn platform(&self) -> &str {
        &self.target.3
    }
    pub fn token(&self) -> &str {
        &self.target.4
    }
}

/// Up to `limit` pushes due at `now`, oldest first.
pub async fn due(conn: &mut Conn<'_>, now: NaiveDateTime, limit: i64) -> StoreResult<Vec<Pending>> {
    Ok(on_conn!(conn, |c| {
        push_outbox::table
            .inner_join(push_targets::table)
            .filter(push_outbox::next_attempt_at.le(now))
            .order(push_outbox::id)
            .limit(limit)
            .select((
                push_outbox::id,
                push_outbox::kind,
                push_outbox::chat_id,
                push_outbox::message_id,
                push_outbox::call_id,
                push_outbox::priority,
                push_outbox::expires_at,
                push_outbox::attempts,
                (
                    push_targets::id,
                    push_targets::user_id,
                    push_targets::auth_session_id,
                    push_targets::platform,
                    push_targets::token,
                    push_targets::p256dh,
                    push_targets::auth,
                ),
            ))
            .load(c)
            .await?
    }))
}

/// Pending pushes in all (for tests and metrics).
pub async fn pending(conn: &mut Conn<'_>) -> StoreResult<i64> {
    Ok(on_conn!(conn, |c| push_outbox::table
        .count()
        .get_result(c)
        .await?))
}

/// What became of one push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Sent, delivered over a live socket, superseded or expired: the row goes.
    Done,
    /// Failed for now: try again at this time.
    RetryAt(NaiveDateTime),
    /// The provider called the token dead: the target goes, with its pending pushes.
    DeadTarget,
}

/// Settles pushes after a dispatch round.
pub struct Settle {
    pub outcomes: Vec<(i64, i64, Settled)>,
}

impl WriteOp for Settle {
    type Output = ();

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<()> {
        let done: Vec<i64> = self
            .outcomes
            .iter()
            .filter(|o| o.2 == Settled::Done)
            .map(|o| o.0)
            .collect();
        let dead: Vec<i64> = self
            .outcomes
            .iter()
            .filter(|o| o.2 == Settled::DeadTarget)
            .map(|o| o.1)
            .collect();
        let retry: Vec<(i64, NaiveDateTime)> = self
            .outcomes
            .iter()
            .filter_map(|o| match o.2 {
                Settled::RetryAt(at) => Some((o.0, at)),
                _ => None,
            })
            .collect();
        on_conn!(&mut tx.conn, |c| {
            diesel::delete(push_outbox::table.filter(push_outbox::id.eq_any(&done)))
                .execute(c)
                .await?;
            diesel::delete(push_outbox::table.filter(push_outbox::target_id.eq_any(&dead)))
                .execute(c)
                .await?;
            diesel::delete(push_targets::table.filter(push_targets::id.eq_any(&dead)))
                .execute(c)
                .await?;
            for (id, at) in &retry {
                diesel::update(push_outbox::table.find(id))
                    .set((
                        push_outbox::next_attempt_at.eq(at),
                        push_outbox::attempts.eq(push_outbox::attempts + 1),
                    ))
                    .execute(c)
                    .await?;
            }
        });
        Ok(())
    }
}
