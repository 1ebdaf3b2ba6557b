//! Reports: a user (or the content filter) reports a message, a user or a group; admins list
//! and resolve them. A message report keeps a copy of the message (type, text, media key,
//! time) so moderators see what was reported even after the message is deleted. One reporter
//! files at most one report per target: a repeated report answers the first.

use std::collections::HashSet;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::contacts::ToggleBlock;
use super::messages::Message;
use super::schema::{chat_participants, chats, contacts, messages, reports};
use super::{audit, Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// The reasons a user may give.
pub const REASONS: &[&str] = &[
    "spam",
    "harassment",
    "hate_speech",
    "violence",
    "sexual_content",
    "impersonation",
    "scam",
    "other",
];

/// The reason of a report filed by the content filter (`moderation.filter_action = "flag"`).
pub const REASON_FILTER: &str = "content_filter";

/// A report row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reports)]
pub struct Report {
    pub id: i64,
    /// `None`: filed by the system.
    pub reporter_id: Option<i64>,
    pub target_type: String,
    pub target_id: i64,
    pub reported_user_id: Option<i64>,
    pub chat_id: Option<i64>,
    pub message_id: Option<i64>,
    pub reason: String,
    pub note: Option<String>,
    pub message_type: Option<String>,
    pub message_content: Option<String>,
    pub message_media_url: Option<String>,
    pub message_sent_at: Option<NaiveDateTime>,
    pub status: String,
    pub resolved_by: Option<i64>,
    pub resolution_note: Option<String>,
    pub resolved_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// What a report is about.
#[derive(Debug, Clone)]
pub enum Target {
    /// A message, copied into the report as it is now.
    Message(Box<Message>),
    /// A user, with the private chat the reporter has with them, if any.
    User { id: i64, chat_id: Option<i64> },
    /// A group chat.
    Group { chat_id: i64 },
}

/// Files a report. With `block`, the reporter also blocks that user (report and block); with
/// `auto_suspend` (`n` distinct reporters within a window), the reported user is suspended once
/// that many users reported them within the window.
pub struct FileReport {
    pub reporter_id: Option<i64>,
    pub target: Target,
    pub reason: String,
    pub note: Option<String>,
    /// The user to block and the name saved for them in the reporter's list.
    pub block: Option<(i64, String)>,
    pub auto_suspend: Option<(u32, TimeDelta)>,
}

/// What filing a report did.
#[derive(Debug, Clone)]
pub struct Filed {
    pub report: Report,
    /// The reporter had reported this target before: `report` is that first report.
    pub duplicate: bool,
    /// The reported user is now blocked by the reporter.
    pub blocked: bool,
    /// The reported user was suspended automatically: their ended sessions.
    pub suspended: Option<(i64, Vec<i64>)>,
}

impl FileReport {
    fn target_key(&self) -> (&'static str, i64) {
        match &self.target {
            Target::Message(m) => ("message", m.id),
            Target::User { id, .. } => ("user", *id),
            Target::Group { chat_id } => ("group", *chat_id),
        }
    }
}

impl WriteOp for FileReport {
    type Output = Filed;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Filed> {
        let (kind, target_id) = self.target_key();
        let reporter = self.reporter_id;
        let existing: Option<Report> = match reporter {
            Some(r) => on_conn!(&mut tx.conn, |c| {
                reports::table
                    .filter(reports::reporter_id.eq(r))
                    .filter(reports::target_type.eq(kind))
                    .filter(reports::target_id.eq(target_id))
                    .select(Report::as_select())
                    .first(c)
                    .await
                    .optional()?
            }),
            None => None,
        };
        let blocked = match self.block.clone() {
            Some((other, name)) => block(tx, reporter.unwrap_or(0), other, name).await?,
            None => false,
        };
        if let Some(report) = existing {
            return Ok(Filed {
                report,
                duplicate: true,
                blocked,
                suspended: None,
            });
        }
        let (user, chat, message) = match &self.target {
            Target::Message(m) => (Some(m.sender_id), Some(m.chat_id), Some(m.as_ref())),
            Target::User { id, chat_id } => (Some(*id), *chat_id, None),
            Target::Group { chat_id } => (None, Some(*chat_id), None),
        };
        let now = tx.now;
        let values = (
            reports::reporter_id.eq(reporter),
            reports::target_type.eq(kind),
            reports::target_id.eq(target_id),
            reports::reported_user_id.eq(user),
            reports::chat_id.eq(chat),
            reports::message_id.eq(message.map(|m| m.id)),
            reports::reason.eq(self.reason.clone()),
            reports::note.eq(self.note.clone()),
            reports::message_type.eq(message.map(|m| m.message_type.clone())),
            reports::message_content.eq(message.and_then(|m| m.content.clone())),
            reports::message_media_url.eq(message.and_then(|m| m.media_url.clone())),
            reports::message_sent_at.eq(message.map(|m| m.sent_at)),
            reports::status.eq("open"),
            reports::created_at.eq(now),
        );
        let report: Report = on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(reports::table)
                .values(values)
                .returning(Report::as_returning())
                .get_result(c)
                .await?
        });
        let mut suspended = None;
        if let (Some((n, window)), Some(user), Some(_)) = (self.auto_suspend, user, reporter) {
            let since = now - window;
            let reporters: Vec<Option<i64>> = on_conn!(&mut tx.conn, |c| {
                reports::table
                    .filter(reports::reported_user_id.eq(user))
                    .filter(reports::reporter_id.is_not_null())
                    .filter(reports::created_at.ge(since))
                    .select(reports::reporter_id)
                    .distinct()
                    .limit(i64::from(n))
                    .load(c)
                    .await?
            });
            let reporters = reporters.len() as i64;
            if n > 0 && reporters >= i64::from(n) {
                let note = format!("reported by {reporters} users");
                suspended = audit::suspend(tx, user, None, "auto_suspend", Some(&note))
                    .await?
                    .map(|ended| (user, ended));
            }
        }
        Ok(Filed {
            report,
            duplicate: false,
            blocked,
            suspended,
        })
    }
}

/// Whether a report names the message (its file is then kept when the message is deleted).
pub async fn is_reported(tx: &mut Tx<'_>, message_id: i64) -> StoreResult<bool> {
    let n: i64 = on_conn!(&mut tx.conn, |c| {
        reports::table
            .filter(reports::message_id.eq(message_id))
            .count()
            .get_result(c)
            .await?
    });
    Ok(n > 0)
}

/// Blocks `other` for `owner` unless blocked already; answers that it is blocked.
async fn block(tx: &mut Tx<'_>, owner: i64, other: i64, name: String) -> StoreResult<bool> {
    let blocked: Option<bool> = on_conn!(&mut tx.conn, |c| {
        contacts::table
            .filter(contacts::user_id.eq(owner))
            .filter(contacts::contact_user_id.eq(other))
            .select(contacts::is_blocked)
            .first(c)
            .await
            .optional()?
    });
    if blocked != Some(true) {
        let mut op = ToggleBlock {
            owner,
            other,
            other_name: name,
        };
        op.apply(tx).await?;
    }
    Ok(true)
}

/// Why a report could not be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveRefusal {
    NotFound,
    /// It was resolved or dismissed already.
    Closed,
}

/// An admin closes an open report as `resolved` or `dismissed`, with a note; audited.
pub struct ResolveReport {
    pub admin_id: i64,
    pub report_id: i64,
    pub status: &'static str,
    pub note: Option<String>,
}

impl WriteOp for ResolveReport {
    type Output = Result<Report, ResolveRefusal>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Result<Report, ResolveRefusal>> {
        let (id, now, admin) = (self.report_id, tx.now, self.admin_id);
        let (status, note) = (self.status, self.note.clone());
        let current: Option<String> = on_conn!(&mut tx.conn, |c| {
            reports::table
                .find(id)
                .select(reports::status)
                .first(c)
                .await
                .optional()?
        });
        match current.as_deref() {
            None => return Ok(Err(ResolveRefusal::NotFound)),
            Some("open") => {}
            Some(_) => return Ok(Err(ResolveRefusal::Closed)),
        }
        let row: Report = on_conn!(&mut tx.conn, |c| {
            diesel::update(reports::table.find(id))
                .set((
                    reports::status.eq(status),
                    reports::resolved_by.eq(Some(admin)),
                    reports::resolution_note.eq(note.clone()),
                    reports::resolved_at.eq(Some(now)),
                ))
                .returning(Report::as_returning())
                .get_result(c)
                .await?
        });
        let action = if status == "resolved" {
            "resolve_report"
        } else {
            "dismiss_report"
        };
        audit::record(tx, Some(admin), action, ("report", id), note.as_deref()).await?;
        Ok(Ok(row))
    }
}

/// One page of reports (newest first), of one status or all, and how many there are.
pub async fn page(
    conn: &mut Conn<'_>,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> StoreResult<(Vec<Report>, i64)> {
    Ok(on_conn!(conn, |c| {
        let mut count = reports::table.into_boxed();
        let mut rows = reports::table.into_boxed();
        if let Some(s) = status {
            count = count.filter(reports::status.eq(s.to_string()));
            rows = rows.filter(reports::status.eq(s.to_string()));
        }
        let total: i64 = count.count().get_result(c).await?;
        let rows = rows
            .order(reports::id.desc())
            .limit(limit)
            .offset(offset)
            .select(Report::as_select())
            .load(c)
            .await?;
        (rows, total)
    }))
}

/// A report by id.
pub async fn find(conn: &mut Conn<'_>, id: i64) -> StoreResult<Option<Report>> {
    Ok(on_conn!(conn, |c| {
        reports::table
            .find(id)
            .select(Report::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// Up to `n` messages of a chat before `message_id`, the message itself and up to `n` after,
/// oldest first (deleted ones as their markers).
pub async fn context(
    conn: &mut Conn<'_>,
    chat_id: i64,
    message_id: i64,
    n: i64,
) -> StoreResult<Vec<Message>> {
    Ok(on_conn!(conn, |c| {
        let mut before: Vec<Message> = messages::table
            .filter(messages::chat_id.eq(chat_id))
            .filter(messages::id.lt(message_id))
            .order(messages::id.desc())
            .limit(n)
            .select(Message::as_select())
            .load(c)
            .await?;
        let after: Vec<Message> = messages::table
            .filter(messages::chat_id.eq(chat_id))
            .filter(messages::id.ge(message_id))
            .order(messages::id.asc())
            .limit(n + 1)
            .select(Message::as_select())
            .load(c)
            .await?;
        before.reverse();
        before.extend(after);
        before
    }))
}

/// Whether two users are (or were) in a chat together.
pub async fn share_a_chat(conn: &mut Conn<'_>, a: i64, b: i64) -> StoreResult<bool> {
    Ok(on_conn!(conn, |c| {
        let mine: Vec<i64> = chat_participants::table
            .filter(chat_participants::user_id.eq(a))
            .select(chat_participants::chat_id)
            .load(c)
            .await?;
        let n: i64 = chat_participants::table
            .filter(chat_participants::chat_id.eq_any(mine))
            .filter(chat_participants::user_id.eq(b))
            .count()
            .get_result(c)
            .await?;
        n > 0
    }))
}

/// Whether `user_id` is or was a member of the live group `chat_id`.
pub async fn in_group(conn: &mut Conn<'_>, chat_id: i64, user_id: i64) -> StoreResult<bool> {
    let n: i64 = on_conn!(conn, |c| {
        chats::table
            .inner_join(chat_participants::table)
            .filter(chats::id.eq(chat_id))
            .filter(chats::chat_type.eq("group"))
            .filter(chats::deleted_at.is_null())
            .filter(chat_participants::user_id.eq(user_id))
            .count()
            .get_result(c)
            .await?
    });
    Ok(n > 0)
}

/// Of the private chats `sender` wrote in since `since`, those with a stranger: the other user
/// never wrote in it and does not have `sender` in their contacts. Answers how many there are
/// (looking at the `cap` latest chats at most).
pub async fn stranger_chats(
    conn: &mut Conn<'_>,
    sender: i64,
    since: NaiveDateTime,
    cap: i64,
) -> StoreResult<usize> {
    Ok(on_conn!(conn, |c| {
        let written: Vec<i64> = messages::table
            .inner_join(chats::table)
            .filter(messages::sender_id.eq(sender))
            .filter(messages::sent_at.ge(since))
            .filter(chats::chat_type.eq("private"))
            .select(messages::chat_id)
            .distinct()
            .limit(cap)
            .load(c)
            .await?;
        let answered: HashSet<i64> = messages::table
            .filter(messages::chat_id.eq_any(&written))
            .filter(messages::sender_id.ne(sender))
            .select(messages::chat_id)
            .distinct()
            .load::<i64>(c)
            .await?
            .into_iter()
            .collect();
        let open: Vec<i64> = written
            .into_iter()
            .filter(|id| !answered.contains(id))
            .collect();
        let others: Vec<(i64, i64)> = chat_participants::table
            .filter(chat_participants::chat_id.eq_any(&open))
            .filter(chat_participants::user_id.ne(sender))
            .select((chat_participants::chat_id, chat_participants::user_id))
            .load(c)
            .await?;
        let other_ids: Vec<i64> = others.iter().map(|(_, u)| *u).collect();
        let know_sender: HashSet<i64> = contacts::table
            .filter(contacts::user_id.eq_any(&other_ids))
            .filter(contacts::contact_user_id.eq(sender))
            .filter(contacts::is_contact.eq(true))
            .select(contacts::user_id)
            .load::<i64>(c)
            .await?
            .into_iter()
            .collect();
        others
            .iter()
            .filter(|(_, u)| !know_sender.contains(u))
            .count()
    }))
}
