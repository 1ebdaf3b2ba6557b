//! Writes on messages: the batched insert of new messages, edits, deletions.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::messages::{Message, NewMessage};
use chrono::TimeDelta;

use super::schema::{message_hides, message_reactions, messages};
use super::users::User;
use super::{Conn, StoreError, StoreResult};
use crate::on_conn;
use crate::store::tx::{Tx, WriteOp};

/// Rows per INSERT statement (SQLite caps the number of bound values).
const INSERT_CHUNK: usize = 500;

/// A message that is in the database, with the rows its views need.
#[derive(Debug, Clone)]
pub struct Stored {
    pub message: Message,
    pub sender: User,
    pub reply_to: Option<Message>,
    /// The chat's newest message before this one, when it was stored (in the same
    /// transaction): nodes of a cluster deliver a chat's messages in this chain's order.
    pub after: Option<i64>,
}

/// What became of one send.
#[derive(Debug, Clone)]
pub enum SendOutcome {
    /// Stored now.
    Stored(Stored),
    /// The sender already sent this `client_msg_id`: the original, nothing new stored.
    Duplicate(Stored),
    /// `reply_to_message_id` is not a message of this chat.
    ReplyNotFound,
    /// The sender used this `client_msg_id` for a message in another chat.
    ClientIdReused,
}

/// One send in a batch: the message, and (after the batch) what became of it.
pub struct SendSlot {
    pub message: NewMessage,
    pub outcome: Option<SendOutcome>,
}

/// Inserts the sends of one batch: its reads ([`super::send_reads`], two round trips on
/// PostgreSQL), the INSERT (on SQLite one per 500 messages), the pushes and one UPDATE for the
/// chats. Ids and sequence numbers are allocated in arrival order.
pub async fn insert_batch(tx: &mut Tx<'_>, slots: &mut [&mut SendSlot]) -> StoreResult<()> {
    let now = tx.now;
    let reads = super::send_reads::read(tx, slots).await?;
    let quoted = reads.quoted;
    let senders = reads.senders;
    let chat_rows = reads.chats;
    let mut by_client: HashMap<(i64, String), Message> = reads
        .earlier
        .into_iter()
        .filter_map(|m| Some(((m.sender_id, m.client_msg_id.clone()?), m)))
        .collect();

    // Counted as the loop below assigns ids: a refused reply gets none, and a second copy of
    // a client_msg_id within this batch is a duplicate of the first stored one.
    let mut in_batch: std::collections::HashSet<(i64, &str)> = Default::default();
    let fresh = slots
        .iter()
        .filter(|s| {
            let m = &s.message;
            let bad_reply = m
                .reply_to_message_id
                .is_some_and(|r| quoted.get(&r).is_none_or(|q| q.chat_id != m.chat_id));
            let dup = m.client_msg_id.as_ref().is_some_and(|id| {
                by_client.contains_key(&(m.sender_id, id.clone()))
                    || (!bad_reply && !in_batch.insert((m.sender_id, id.as_str())))
            });
            !dup && !bad_reply
        })
        .count() as i64;
    let mut ids = match (reads.ids, fresh) {
        (Some(drawn), _) => drawn,
        (None, 0) => Vec::new(),
        (None, n) => tx.message_ids(n).await?,
    }
    .into_iter();

    let mut rows: Vec<Message> = Vec::new();
    let mut last_per_chat: HashMap<i64, i64> = HashMap::new();
    for slot in slots.iter_mut() {
        let m = &slot.message;
        // The chat and sender are checked here, not by foreign keys (see the PostgreSQL
        // migration `lean_message_insert`). A command that fails them fails the batch, which
        // is then retried command by command.
        let Some(sender) = senders.get(&m.sender_id).cloned() else {
            return Err(diesel::result::Error::NotFound.into());
        };
        if !chat_rows.contains_key(&m.chat_id) {
            return Err(diesel::result::Error::NotFound.into());
        }
        if let Some(orig) = m
            .client_msg_id
            .as_ref()
            .and_then(|id| by_client.get(&(m.sender_id, id.clone())))
        {
            if orig.chat_id != m.chat_id {
                slot.outcome = Some(SendOutcome::ClientIdReused);
                continue;
            }
            let reply_to = orig
                .reply_to_message_id
                .and_then(|id| quoted.get(&id).cloned());
            slot.outcome = Some(SendOutcome::Duplicate(Stored {
                message: orig.clone(),
                sender,
                reply_to,
                after: None,
            }));
            continue;
        }
        let reply_to = match m.reply_to_message_id {
            Some(r) => match quoted.get(&r).filter(|q| q.chat_id == m.chat_id) {
                Some(q) => Some(q.clone()),
                None => {
                    slot.outcome = Some(SendOutcome::ReplyNotFound);
                    continue;
                }
            },
            None => None,
        };
        let Some(id) = ids.next() else {
            return Err(StoreError::Pool("fewer message ids than messages".into()));
        };
        let row = Message {
            id,
            chat_id: m.chat_id,
            sender_id: m.sender_id,
            client_msg_id: m.client_msg_id.clone(),
            reply_to_message_id: m.reply_to_message_id,
            message_type: m.message_type.clone(),
            content: m.content.clone(),
            media_url: m.media.as_ref().map(|f| f.url.clone()),
            media_size: m.media.as_ref().map(|f| f.size),
            media_duration: m.media.as_ref().and_then(|f| f.duration),
            media_mime_type: m.media.as_ref().map(|f| f.mime_type.clone()),
            file_name: m.media.as_ref().and_then(|f| f.file_name.clone()),
            thumbnail_url: m.media.as_ref().and_then(|f| f.thumbnail_url.clone()),
            latitude: m.latitude,
            longitude: m.longitude,
            location_name: m.location_name.clone(),
            contact_data: m.contact_data.clone(),
            system_data: None,
            seq: tx.next_seq().await?,
            sent_at: now,
            edited_at: None,
            deleted_at: None,
            updated_at: now,
            forward_count: m.forward_count,
            expires_at: chat_rows
                .get(&m.chat_id)
                .and_then(|c| c.disappearing_secs)
                .map(|secs| now + TimeDelta::seconds(secs)),
        };
        if let Some(cid) = &row.client_msg_id {
            // A second copy later in this same batch resolves to this one.
            by_client.insert((row.sender_id, cid.clone()), row.clone());
        }
        let after = last_per_chat
            .insert(row.chat_id, id)
            .or_else(|| chat_rows.get(&row.chat_id).and_then(|c| c.last_message_id));
        rows.push(row.clone());
        slot.outcome = Some(SendOutcome::Stored(Stored {
            message: row,
            sender,
            reply_to,
            after,
        }));
    }

    if rows.len() as i64 != fresh {
        // Ids were allocated for `fresh` messages; storing another number would reuse or skip
        // ids. Never expected: refuse the batch rather than risk it.
        return Err(StoreError::Pool(format!(
            "allocated {fresh} message ids for {} messages",
            rows.len()
        )));
    }
    match &mut tx.conn {
        // diesel's multi-row INSERT for SQLite exists on the synchronous connection only: run
        // it there (the same connection, inside the same transaction).
        Conn::Sqlite(c) => {
            for chunk in rows.chunks(INSERT_CHUNK) {
                let chunk = chunk.to_vec();
                c.spawn_blocking(move |c| {
                    diesel::RunQueryDsl::execute(
                        diesel::insert_into(messages::table).values(&chunk),
                        c,
                    )
                })
                .await?;
            }
        }
        Conn::Pg(c) => super::pg_bulk::insert_messages(c, &rows).await?,
    }
    super::push::enqueue_messages(tx, &rows).await?;
    // A message the content filter flagged is reported in the transaction that stores it.
    let flagged: Vec<Message> = slots
        .iter()
        .filter(|s| s.message.flagged)
        .filter_map(|s| match &s.outcome {
            Some(SendOutcome::Stored(st)) => Some(st.message.clone()),
            _ => None,
        })
        .collect();
    for m in flagged {
        crate::moderation::report_flagged(tx, m).await?;
    }
    touch_chats(tx, &last_per_chat).await
}

/// Moves each chat's last message and activity time: one statement for the whole batch. Only
/// integers (ids) and a server-made time go into the SQL text, nothing a client sent.
async fn touch_chats(tx: &mut Tx<'_>, last: &HashMap<i64, i64>) -> StoreResult<()> {
    if last.is_empty() {
        return Ok(());
    }
    let whens: String = last
        .iter()
        .map(|(chat, id)| format!(" WHEN {chat} THEN {id}"))
        .collect();
    let ids: Vec<String> = last.keys().map(i64::to_string).collect();
    // The text form diesel itself stores for SQLite, and a timestamp literal for PostgreSQL.
    let at = tx.now.format("%F %T%.f");
    let sql = format!(
        "UPDATE chats SET last_message_id = CASE id{whens} END, updated_at = '{at}' WHERE id IN ({})",
        ids.join(",")
    );
    on_conn!(&mut tx.conn, |c| diesel::sql_query(&sql).execute(c).await?);
    Ok(())
}

/// Why an edit or deletion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    NotSender,
    Deleted,
    NotText,
    /// System messages record group changes and stay as they are.
    System,
}

/// A message of the chat `chat_id` (None for another chat's: a room acts on its own chat only).
pub(crate) async fn load(tx: &mut Tx<'_>, id: i64, chat_id: i64) -> StoreResult<Option<Message>> {
    Ok(on_conn!(&mut tx.conn, |c| {
        messages::table
            .find(id)
            .filter(messages::chat_id.eq(chat_id))
            .select(Message::as_select())
            .first(c)
            .await
            .optional()?
    }))
}

/// Replaces the text of one's own text message.
pub struct EditMessage {
    pub chat_id: i64,
    pub message_id: i64,
    pub user_id: i64,
    pub content: String,
}

impl WriteOp for EditMessage {
    type Output = Result<Message, Refusal>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Result<Message, Refusal>> {
        let Some(m) = load(tx, self.message_id, self.chat_id).await? else {
            return Ok(Err(Refusal::NotFound));
        };
        if m.sender_id != self.user_id {
            return Ok(Err(Refusal::NotSender));
        }
        if m.deleted_at.is_some() {
            return Ok(Err(Refusal::Deleted));
        }
        if m.message_type != "text" {
            return Ok(Err(Refusal::NotText));
        }
        super::former::keep_replaced_text(tx, &m).await?;
        let (now, seq, content) = (tx.now, tx.next_seq().await?, self.content.clone());
        Ok(Ok(on_conn!(&mut tx.conn, |c| {
            diesel::update(messages::table.find(m.id))
                .set((
                    messages::content.eq(Some(content)),
                    messages::edited_at.eq(Some(now)),
                    messages::seq.eq(seq),
                    messages::updated_at.eq(now),
                ))
                .returning(Message::as_returning())
                .get_result(c)
                .await?
        })))
    }
}

/// Deletes one's own message for everyone: content, media and reactions are removed; the
/// row stays as a "deleted" marker so every device can show it. Answers the row and the
/// stored keys of its files (to remove from the store once committed).
pub struct DeleteForEveryone {
    pub chat_id: i64,
    pub message_id: i64,
    pub user_id: i64,
}

impl WriteOp for DeleteForEveryone {
    type Output = Result<(Message, Vec<String>), Refusal>;

    async fn apply(
        &mut self,
        tx: &mut Tx<'_>,
    ) -> StoreResult<Result<(Message, Vec<String>), Refusal>> {
        let Some(m) = load(tx, self.message_id, self.chat_id).await? else {
            return Ok(Err(Refusal::NotFound));
        };
        if m.sender_id != self.user_id {
            return Ok(Err(Refusal::NotSender));
        }
        if m.deleted_at.is_some() {
            return Ok(Err(Refusal::Deleted));
        }
        if m.message_type == "system" {
            return Ok(Err(Refusal::System));
        }
        // A reported file stays for the moderators (the report keeps its key).
        let keep = super::reports::is_reported(tx, m.id).await?;
        let media = m.media_url.as_ref().filter(|_| !keep);
        let mut files: Vec<String> = [media, m.thumbnail_url.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|v| crate::storage::key_of(v).map(str::to_string))
            .collect();
        super::former::forget_texts(tx, m.id).await?;
        let (now, seq) = (tx.now, tx.next_seq().await?);
        let row = on_conn!(&mut tx.conn, |c| {
            diesel::delete(message_reactions::table.filter(message_reactions::message_id.eq(m.id)))
                .execute(c)
                .await?;
            diesel::update(messages::table.find(m.id))
                .set((
                    messages::content.eq(None::<String>),
                    messages::media_url.eq(None::<String>),
                    messages::media_size.eq(None::<i64>),
                    messages::media_duration.eq(None::<i32>),
                    messages::media_mime_type.eq(None::<String>),
                    messages::file_name.eq(None::<String>),
                    messages::thumbnail_url.eq(None::<String>),
                    messages::latitude.eq(None::<f64>),
                    messages::longitude.eq(None::<f64>),
                    messages::location_name.eq(None::<String>),
                    messages::contact_data.eq(None::<String>),
                    messages::deleted_at.eq(Some(now)),
                    messages::seq.eq(seq),
                    messages::updated_at.eq(now),
                ))
                .returning(Message::as_returning())
                .get_result(c)
                .await?
        });
        // A forwarded copy shares the file: it stays while any other row refers to it.
        let held = super::media_refs::referenced(&mut tx.conn, &files).await?;
        files.retain(|k| !held.contains(k));
        Ok(Ok((row, files)))
    }
}

/// Hides a message for one user only ("delete for me"). Answers the change sequence, or None
/// if it was already hidden.
pub struct HideForMe {
    pub message_id: i64,
    pub user_id: i64,
}

impl WriteOp for HideForMe {
    type Output = Option<i64>;

    async fn apply(&mut self, tx: &mut Tx<'_>) -> StoreResult<Option<i64>> {
        let (mid, uid, now) = (self.message_id, self.user_id, tx.now);
        let exists: i64 = on_conn!(&mut tx.conn, |c| {
            message_hides::table
                .filter(message_hides::message_id.eq(mid))
                .filter(message_hides::user_id.eq(uid))
                .count()
                .get_result(c)
                .await?
        });
        if exists > 0 {
            return Ok(None);
        }
        let seq = tx.next_seq().await?;
        on_conn!(&mut tx.conn, |c| {
            diesel::insert_into(message_hides::table)
                .values((
                    message_hides::message_id.eq(mid),
                    message_hides::user_id.eq(uid),
                    message_hides::seq.eq(seq),
                    message_hides::hidden_at.eq(now),
                ))
                .execute(c)
                .await?
        });
        Ok(Some(seq))
    }
}
