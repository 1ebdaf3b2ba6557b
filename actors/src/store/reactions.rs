//! Reactions: a user may put several different emoji on a message, each once.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;

use super::message_ops::{load, Refusal};
use super::schema::{message_reactions, messages, users};
use super::{Conn, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// Who reacted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reactor {
    pub id: i64,
    pub name: String,
}

/// One emoji on a message: how many, and who.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Reaction)]
pub struct ReactionView {
    pub emoji: String,
    pub count: usize,
    pub users: Vec<Reactor>,
}

/// Reactions of many messages, grouped per message and emoji (one query). A message listed in
/// `until` shows only the reactions made by then (for someone who left the chat then).
pub async fn for_messages(
    conn: &mut Conn<'_>,
    ids: &[i64],
    until: &HashMap<i64, NaiveDateTime>,
) -> StoreResult<HashMap<i64, Vec<ReactionView>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, i64, String, NaiveDateTime)> = on_conn!(conn, |c| {
        message_reactions::table
            .inner_join(users::table)
            .filter(message_reactions::message_id.eq_any(ids))
            .order(message_reactions::id)
            .select((
                message_reactions::message_id,
                message_reactions::emoji,
                users::id,
                users::name,
                message_reactions::created_at,
            ))
            .load(c)
            .await?
    });
    // Emoji keep the order in which they were first used on each message.
    let mut grouped: HashMap<i64, Vec<ReactionView>> = HashMap::new();
    for (message_id, emoji, user_id, name, at) in rows {
        if until.get(&message_id).is_some_and(|t| at > *t) {
            continue;
        }
        let list = grouped.entry(message_id).or_default();
        match list.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => {
                r.count += 1;
                r.users.push(Reactor { id: user_id, name });
            }
            None => list.push(ReactionView {
                emoji,
                count: 1,
                users: vec![Reactor { id: user_id, name }],
            }),
        }
    }
    Ok(grouped)
}

/// Whether `s` is one emoji (possibly with skin tone, variation selectors, ZWJ sequences,
/// keycaps or flags): at most 32 bytes of emoji code points.
pub fn is_emoji(s: &str) -> bool {
    if s.is_empty() || s.len() > 32 {
        return false;
    }
    let keycap = s.contains('\u{20E3}');
    s.chars().all(|c| {
        let u = c as u32;
        (keycap && (c.is_ascii_digit() || c == '#' || c == '*'))
            || matches!(u,
                0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x20E3 | 0x2122 | 0x2139
                | 0x2194..=0x21AA | 0x231A..=0x23FF | 0x24C2 | 0x25AA..=0x27BF
                | 0x2934 | 0x2935 | 0x2B05..=0x2B55 | 0x3030 | 0x303D | 0x3297 | 0x3299
                | 0x200D | 0xFE0E | 0xFE0F | 0x1F000..=0x1FAFF | 0xE0020..=0xE007F)
    })
}

/// Adds (`add`) or removes one user's emoji on a message. Answers the emoji's new count and
/// whether anything changed; the message's change sequence moves when it did.
pub struct React {
    pub chat_id: i64,
    pub message_id: i64,
    pub user_id: i64,
    pub emoji: String,
    pub add: bool,
}

/// What a reaction change did.
#[derive(Debug, Clone)]
pub struct Reacted {
    pub changed: bool,
    pub count: i64,
    pub seq: i64,
}

impl WriteOp for React {
    type Output = Result<Reacted, Refusal>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Result<Reacted, Refusal>> {
        // Checked here, in the writer's order: a deletion queued just before wins.
        match load(tx, self.message_id, self.chat_id).await? {
            None => return Ok(Err(Refusal::NotFound)),
            Some(m) if m.message_type == "system" => return Ok(Err(Refusal::System)),
            Some(m) if m.deleted_at.is_some() => return Ok(Err(Refusal::Deleted)),
            Some(_) => {}
        }
        let (mid, uid, emoji, now) = (self.message_id, self.user_id, self.emoji.clone(), tx.now);
        let existing: Option<i64> = on_conn!(&mut tx.conn, |c| {
            message_reactions::table
                .filter(message_reactions::message_id.eq(mid))
                .filter(message_reactions::user_id.eq(uid))
                .filter(message_reactions::emoji.eq(&emoji))
                .select(message_reactions::id)
                .first(c)
                .await
                .optional()?
        });
        let changed = match (self.add, existing) {
            (true, None) => {
                on_conn!(&mut tx.conn, |c| {
                    diesel::insert_into(message_reactions::table)
                        .values((
                            message_reactions::message_id.eq(mid),
                            message_reactions::user_id.eq(uid),
                            message_reactions::emoji.eq(&emoji),
                            message_reactions::created_at.eq(now),
                        ))
                        .execute(c)
                        .await?
                });
                true
            }
            (false, Some(id)) => {
                on_conn!(&mut tx.conn, |c| {
                    diesel::delete(message_reactions::table.find(id))
                        .execute(c)
                        .await?
                });
                true
            }
            _ => false,
        };
        let mut seq = 0;
        if changed {
            seq = tx.next_seq().await?;
            on_conn!(&mut tx.conn, |c| {
                diesel::update(messages::table.find(mid))
                    .set((messages::seq.eq(seq), messages::updated_at.eq(now)))
                    .execute(c)
                    .await?
            });
        }
        let count: i64 = on_conn!(&mut tx.conn, |c| {
            message_reactions::table
                .filter(message_reactions::message_id.eq(mid))
                .filter(message_reactions::emoji.eq(&emoji))
                .count()
                .get_result(c)
                .await?
        });
        Ok(Ok(Reacted {
            changed,
            count,
            seq,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::is_emoji;

    #[test]
    fn emoji_are_recognised() {
        for ok in ["👍", "❤️", "👍🏽", "👨‍👩‍👧‍👦", "🇵🇹", "1️⃣", "☕"]
        {
            assert!(is_emoji(ok), "{ok}");
        }
        for bad in ["", "a", "ok", "1", "👍 ", "<script>", &"👍".repeat(9)] {
            assert!(!is_emoji(bad), "{bad}");
        }
    }
}
