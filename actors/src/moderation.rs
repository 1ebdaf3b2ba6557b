//! Automatic defence against abuse: the content filter every new message passes (refused or
//! flagged for moderators, as configured), the automatic suspension of a user who writes to
//! too many strangers within a window, and the events admin actions cause.
//!
//! The filter runs in the chat room, the one place every send (REST text, REST media,
//! WebSocket) goes through, before anything is written. The stranger check runs after a
//! sender's first private message to a chat within the window is committed, off the room, with
//! a few indexed reads.

use chrono::TimeDelta;
use regex::{RegexSet, RegexSetBuilder};
use serde_json::json;

use crate::bus::Delivery;
use crate::engine::Engine;
use crate::event::chat_channel;
use crate::store::audit;
use crate::store::messages::{Message, NewMessage};
use crate::store::reports::{self, FileReport, Target, REASON_FILTER};
use crate::store::tx::{Tx, WriteOp};
use crate::store::StoreResult;

/// What the content filter does with a message that matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FilterAction {
    /// Answer 422 `content_blocked`; nothing is stored.
    #[default]
    Refuse,
    /// Store and deliver the message, and file a report by the system.
    Flag,
}

/// What the filter decided about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Clean,
    Refuse,
    Flag,
}

/// The moderation rules the engine applies (from the `[moderation]` configuration).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    filter: Option<RegexSet>,
    pub filter_action: FilterAction,
    /// Suspend a user writing first to this many strangers within `stranger_window` (0: off).
    pub stranger_limit: u32,
    pub stranger_window: TimeDelta,
}

impl Policy {
    /// A policy with `patterns` (each a regular expression, matched case-insensitively; one of
    /// letters and digits only matches as a whole word). Answers which pattern is invalid.
    pub fn new(
        patterns: &[String],
        filter_action: FilterAction,
        stranger_limit: u32,
        stranger_window: TimeDelta,
    ) -> Result<Policy, String> {
        let filter = if patterns.is_empty() {
            None
        } else {
            let expanded: Vec<String> = patterns.iter().map(|p| expand(p)).collect();
            let set = RegexSetBuilder::new(&expanded)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| {
                    let bad = patterns
                        .iter()
                        .find(|p| regex::Regex::new(&expand(p)).is_err())
                        .cloned()
                        .unwrap_or_default();
                    format!("pattern {bad:?} is not a valid regular expression ({e})")
                })?;
            Some(set)
        };
        Ok(Policy {
            filter,
            filter_action,
            stranger_limit,
            stranger_window,
        })
    }

    /// Whether `text` matches a blocked pattern.
    pub fn matches(&self, text: &str) -> bool {
        self.filter.as_ref().is_some_and(|f| f.is_match(text))
    }

    /// What the filter makes of a new message (its text, caption, file and place names).
    pub fn screen(&self, m: &NewMessage) -> Screen {
        let texts = [
            m.content.as_deref(),
            m.location_name.as_deref(),
            m.media.as_ref().and_then(|x| x.file_name.as_deref()),
        ];
        if !texts.into_iter().flatten().any(|t| self.matches(t)) {
            return Screen::Clean;
        }
        match self.filter_action {
            FilterAction::Refuse => Screen::Refuse,
            FilterAction::Flag => Screen::Flag,
        }
    }
}

/// A plain word matches as a whole word; anything else is taken as a regular expression.
fn expand(pattern: &str) -> String {
    if !pattern.is_empty() && pattern.chars().all(char::is_alphanumeric) {
        format!(r"\b{}\b", regex::escape(pattern))
    } else {
        pattern.to_string()
    }
}

/// After a message was committed: checks whether a private message's sender now writes to too
/// many strangers. `other` is the other member of a private chat. (A flagged message's report
/// was filed in the message's own transaction, see [`report_flagged`].)
pub fn after_send(engine: &Engine, message: &Message, other: Option<i64>) {
    let policy = &engine.realtime.moderation;
    // The count of strangers grows only with a chat written to for the first time within the
    // window: one check per sender and chat per window is enough (later messages of that chat
    // cost nothing, a flood included).
    let first_in_window = || {
        let key = format!("stranger-check:{}:{}", message.sender_id, message.chat_id);
        engine
            .limiter
            .hit_here(&key, 1, policy.stranger_window)
            .is_ok()
    };
    if other.is_some() && policy.stranger_limit > 0 && first_in_window() {
        let (engine, sender) = (engine.clone(), message.sender_id);
        actix::spawn(async move {
            if let Err(e) = check_strangers(&engine, sender).await {
                tracing::warn!(error = %e, "stranger check failed");
            }
        });
    }
}

/// Files the content filter's report on a message it flagged, inside the transaction that
/// stores the message (so a flagged message is never left unreported).
pub(crate) async fn report_flagged(
    tx: &mut crate::store::tx::Tx<'_>,
    message: Message,
) -> StoreResult<()> {
    use crate::store::tx::WriteOp;
    let mut report = FileReport {
        reporter_id: None,
        target: Target::Message(Box::new(message)),
        reason: REASON_FILTER.into(),
        note: Some("matched moderation.blocked_patterns".into()),
        block: None,
        auto_suspend: None,
    };
    report.apply(tx).await?;
    Ok(())
}

/// Suspends `sender` if they wrote first to `stranger_limit` strangers within the window.
async fn check_strangers(engine: &Engine, sender: i64) -> StoreResult<()> {
    let policy = &engine.realtime.moderation;
    let since = engine.clock.now() - policy.stranger_window;
    let limit = policy.stranger_limit;
    let count = {
        let mut conn = engine.db.get().await?;
        let cap = i64::from(limit).saturating_mul(4).max(100);
        reports::stranger_chats(&mut conn.conn(), sender, since, cap).await?
    };
    if count < limit as usize {
        return Ok(());
    }
    let note = format!("wrote first to {count} strangers");
    let ended = engine
        .write(AutoSuspend {
            user_id: sender,
            note,
        })
        .await?;
    end_sessions(engine, sender, ended.unwrap_or_default());
    Ok(())
}

/// Closes the sockets of sessions that just ended (a suspension).
pub fn end_sessions(engine: &Engine, user_id: i64, sessions: Vec<i64>) {
    for s in sessions {
        engine.end_auth_session(user_id, s);
    }
}

/// The system suspends a user (automatic defence); audited with no admin. Answers the ended
/// sessions, or `None` if the user was suspended already.
pub struct AutoSuspend {
    pub user_id: i64,
    pub note: String,
}

impl WriteOp for AutoSuspend {
    type Output = Option<Vec<i64>>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Option<Vec<i64>>> {
        let note = self.note.clone();
        audit::suspend(tx, self.user_id, None, "auto_suspend", Some(&note)).await
    }
}

/// Tells a chat's current members that a message was deleted for everyone (as when its sender
/// deletes it).
pub fn announce_deleted(engine: &Engine, members: Vec<i64>, m: &Message) {
    let data = json!({
        "chat_id": m.chat_id,
        "message_id": m.id,
        "for_everyone": true,
        "deleted_at": m.deleted_at.map(|t| t.and_utc()),
    });
    let event = engine.event(
        "message-deleted",
        chat_channel(m.chat_id),
        Some(m.seq),
        data,
    );
    engine.bus.publish(Delivery {
        users: members,
        event,
        skip: None,
        only: None,
        order: None,
    });
}

/// Tells a group's members that it was deleted for everyone (`chat-deleted`).
pub fn announce_group_deleted(engine: &Engine, chat_id: i64, members: Vec<i64>) {
    let data = json!({ "chat_id": chat_id });
    let event = engine.event("chat-deleted", chat_channel(chat_id), None, data);
    engine.bus.publish(Delivery {
        users: members,
        event,
        skip: None,
        only: None,
        order: None,
    });
    engine.membership_changed(chat_id);
}
