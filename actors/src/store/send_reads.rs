//! What a batch of sends reads before it writes: earlier copies of its `client_msg_id`s, the
//! messages it quotes, its senders and its chats, and (on PostgreSQL) the numbers its new
//! messages will carry. On PostgreSQL the reads go out in two pipelined round trips (see
//! `read_pg`); the server still runs the statements of each one after another.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::message_ops::SendSlot;
use super::messages::Message;
use super::schema::{chats, messages, users};
use super::tx::Tx;
use super::users::User;
use super::{Conn, StoreError, StoreResult};

/// What a batch's send needs of its chat.
pub(super) struct ChatRow {
    /// The disappearing-messages timer (seconds), if on.
    pub disappearing_secs: Option<i64>,
    /// The chat's newest message before the batch.
    pub last_message_id: Option<i64>,
}

/// The reads of one batch of sends.
pub(super) struct SendReads {
    /// Earlier messages with one of the batch's `(sender_id, client_msg_id)` pairs.
    pub earlier: Vec<Message>,
    /// The messages the sends quote, and those the earlier copies quote.
    pub quoted: HashMap<i64, Message>,
    pub senders: HashMap<i64, User>,
    /// The batch's chats, read (and on PostgreSQL locked) in its transaction: a message is
    /// sent under the timer its chat has when it commits, after the chat's newest message then.
    pub chats: HashMap<i64, ChatRow>,
    /// Message ids drawn ahead for every send of the batch (PostgreSQL), ascending; `None`
    /// where they are allocated once the new messages are counted (SQLite). Ids of sends that
    /// turn out duplicates or refusals are left unused, like any number drawn and not used.
    pub ids: Option<Vec<i64>>,
}

/// One `chats` row as read.
type ChatTuple = (i64, Option<i64>, Option<i64>);

/// Reads what the batch `slots` needs.
pub(super) async fn read(tx: &mut Tx<'_>, slots: &[&mut SendSlot]) -> StoreResult<SendReads> {
    // Exact (sender, client_msg_id) pairs, each one probe of the unique index. Matching the
    // two columns against two lists would probe every sender with every id of the batch.
    let pairs: Vec<(i64, String)> = slots
        .iter()
        .filter_map(|s| Some((s.message.sender_id, s.message.client_msg_id.clone()?)))
        .collect();
    let quoted_ids: Vec<i64> = slots
        .iter()
        .filter_map(|s| s.message.reply_to_message_id)
        .collect();
    let sender_ids = sorted(slots.iter().map(|s| s.message.sender_id));
    let chat_ids = sorted(slots.iter().map(|s| s.message.chat_id));
    let n = slots.len() as i64;

    let (earlier, quoted, senders, chats, ids) = match &mut tx.conn {
        Conn::Sqlite(c) => {
            let earlier = match pairs.is_empty() {
                true => Vec::new(),
                false => by_client_ids_sqlite(c, &pairs).await?,
            };
            let quoted = super::messages::by_ids(&mut Conn::Sqlite(c), &quoted_ids).await?;
            let senders = users::table
                .filter(users::id.eq_any(&sender_ids))
                .select(User::as_select())
                .load(&mut **c)
                .await?;
            let chats: Vec<ChatTuple> = chats::table
                .filter(chats::id.eq_any(&chat_ids))
                .order(chats::id)
                .select((chats::id, chats::disappearing_secs, chats::last_message_id))
                .load(&mut **c)
                .await?;
            (earlier, quoted, senders, chats, None)
        }
        Conn::Pg(c) => {
            let (earlier, quoted, senders, chats, (ids, seqs)) =
                read_pg(c, &pairs, &quoted_ids, &sender_ids, &chat_ids, n).await?;
            tx.add_drawn_seqs(seqs);
            (earlier, quoted, senders, chats, Some(ids))
        }
    };

    let mut quoted: HashMap<i64, Message> = quoted.into_iter().map(|m| (m.id, m)).collect();
    // An earlier copy is answered with what it quoted: rare, so read apart when needed.
    let also: Vec<i64> = earlier
        .iter()
        .filter_map(|m| m.reply_to_message_id)
        .filter(|id| !quoted.contains_key(id))
        .collect();
    for m in super::messages::by_ids(&mut tx.conn, &also).await? {
        quoted.insert(m.id, m);
    }
    Ok(SendReads {
        earlier,
        quoted,
        senders: senders.into_iter().map(|u| (u.id, u)).collect(),
        chats: chats
            .into_iter()
            .map(|(id, disappearing_secs, last_message_id)| {
                let row = ChatRow {
                    disappearing_secs,
                    last_message_id,
                };
                (id, row)
            })
            .collect(),
        ids,
    })
}

/// The reads on PostgreSQL, in two pipelined round trips:
/// - the earlier copies, the quoted messages and the chats. The chats are locked until the
///   batch commits: a writer on another node sending to the same chat waits, then reads the
///   newest message this batch stored, and draws its ids after ours. So a chat's messages
///   commit in id order, and each names the one before it. Chats are locked in id order, so
///   two batches cannot wait for each other;
/// - once the chats' rows have come back (so they are locked), the numbers: `n` message ids
///   and change numbers, each ascending; and the senders, key-share locked as a foreign key
///   would lock them for every row: an account's erasure (which deletes its messages after
///   its row) waits for this batch. The erasure too takes the chats before the row, so the
///   two cannot wait for each other.
///
/// The second round trip waits for the first's chats on purpose: a pipeline sends statements
/// in the order its futures are polled, but one whose statement must first be prepared goes
/// out after the others.
#[allow(clippy::type_complexity)]
async fn read_pg(
    c: &mut AsyncPgConnection,
    pairs: &[(i64, String)],
    quoted_ids: &[i64],
    sender_ids: &[i64],
    chat_ids: &[i64],
    n: i64,
) -> StoreResult<(
    Vec<Message>,
    Vec<Message>,
    Vec<User>,
    Vec<ChatTuple>,
    (Vec<i64>, Vec<i64>),
)> {
    // Futures on a shared connection are pipelined: each query is written out when its
    // future is first polled, and `try_join!` polls them in the order given.
    let shared: &AsyncPgConnection = c;
    let earlier = super::pg_bulk::by_client_ids(shared, pairs);
    let quoted = async {
        if quoted_ids.is_empty() {
            return Ok(Vec::new());
        }
        messages::table
            .filter(messages::id.eq_any(quoted_ids))
            .select(Message::as_select())
            .load(&mut &*shared)
            .await
            .map_err(StoreError::from)
    };
    let chats = chats::table
        .filter(chats::id.eq_any(chat_ids))
        .order(chats::id)
        .select((chats::id, chats::disappearing_secs, chats::last_message_id))
        .for_update()
        .load::<ChatTuple>(&mut &*shared);
    let locked = async {
        let chats = chats.await?;
        let senders = users::table
            .filter(users::id.eq_any(sender_ids))
            .select(User::as_select())
            .for_key_share()
            .load(&mut &*shared);
        let numbers = super::tx::draw_send_numbers(shared, n);
        let (senders, numbers) =
            futures_util::try_join!(async { senders.await.map_err(StoreError::from) }, numbers)?;
        Ok::<_, StoreError>((chats, senders, numbers))
    };
    let (earlier, quoted, (chats, senders, numbers)) =
        futures_util::try_join!(earlier, quoted, locked)?;
    Ok((earlier, quoted, senders, chats, numbers))
}

/// Sorted, without repeats.
fn sorted(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Earlier messages with any of these exact `(sender_id, client_msg_id)` pairs, on SQLite:
/// the pairs go in as one JSON array, and the join probes the unique index once per pair.
async fn by_client_ids_sqlite(
    c: &mut super::SqliteConn,
    pairs: &[(i64, String)],
) -> StoreResult<Vec<Message>> {
    let pairs = serde_json::to_string(pairs).map_err(|e| StoreError::Pool(e.to_string()))?;
    // CROSS JOIN keeps the pairs as the outer loop, so the index is probed with both columns.
    Ok(diesel::sql_query(
        "SELECT m.* FROM json_each(?) AS k CROSS JOIN messages AS m \
         ON m.sender_id = k.value ->> 0 AND m.client_msg_id = k.value ->> 1",
    )
    .bind::<diesel::sql_types::Text, _>(pairs)
    .load::<Message>(c)
    .await?)
}
