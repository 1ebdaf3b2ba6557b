//! PostgreSQL forms of the writer's batch statements: whole batches passed as arrays and
//! expanded with `unnest`, so a statement's text (and its parse and plan) is the same whatever
//! the batch size. A multi-row `VALUES` list with thousands of parameters costs PostgreSQL
//! several times more to parse and plan than the rows cost to write.

use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Text, Timestamp};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::messages::Message;
use super::StoreResult;

/// Earlier messages with any of these exact `(sender_id, client_msg_id)` pairs. The pairs are
/// joined, not matched column by column, so each is one probe of the unique index.
pub async fn by_client_ids(
    c: &mut AsyncPgConnection,
    pairs: &[(i64, String)],
) -> StoreResult<Vec<Message>> {
    let (senders, ids): (Vec<i64>, Vec<&str>) =
        pairs.iter().map(|(s, id)| (*s, id.as_str())).unzip();
    // Raw SQL is never a cached prepared statement, so PostgreSQL plans it against the table
    // as it is now: a generic plan cached while the table was small (a sequential scan) would
    // stay in use as it grows.
    Ok(diesel::sql_query(
        "SELECT m.* FROM unnest($1::bigint[], $2::text[]) AS k(sender_id, client_msg_id) \
         JOIN messages m ON m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id",
    )
    .bind::<Array<BigInt>, _>(&senders)
    .bind::<Array<Text>, _>(&ids)
    .load::<Message>(c)
    .await?)
}

/// Inserts new messages (never edited, deleted or system messages; all written at the batch's
/// time, which `rows[0].sent_at` carries) in one statement.
pub async fn insert_messages(c: &mut AsyncPgConnection, rows: &[Message]) -> StoreResult<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    fn col<T>(rows: &[Message], f: impl Fn(&Message) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    diesel::sql_query(
        "INSERT INTO messages (id, chat_id, sender_id, client_msg_id, reply_to_message_id, \
         message_type, content, media_url, media_size, media_duration, media_mime_type, \
         file_name, thumbnail_url, latitude, longitude, location_name, contact_data, seq, \
         forward_count, expires_at, sent_at, updated_at) \
         SELECT *, $18, $18 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], \
         $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::integer[], \
         $11::text[], $12::text[], $13::text[], $14::float8[], $15::float8[], $16::text[], \
         $17::text[], $19::bigint[], $20::integer[], $21::timestamp[])",
    )
    .bind::<Array<BigInt>, _>(col(rows, |m| m.id))
    .bind::<Array<BigInt>, _>(col(rows, |m| m.chat_id))
    .bind::<Array<BigInt>, _>(col(rows, |m| m.sender_id))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |m| m.client_msg_id.clone()))
    .bind::<Array<Nullable<BigInt>>, _>(col(rows, |m| m.reply_to_message_id))
    .bind::<Array<Text>, _>(col(rows, |m| m.message_type.clone()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |m| m.content.clone()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |m| m.media_url.clone()))
    .bind::<Array<Nullable<BigInt>>, _>(col(rows, |m| m.media_size))
    .bind::<Array<Nullable<Integer>>, _>(col(rows, |m| m.media_duration))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |m| m.media_mime_type.clone()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |m| m.file_name.clone()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |m| m.thumbnail_url.clone()))
    .bind::<Array<Nullable<Double>>, _>(col(rows, |m| m.latitude))
    .bind::<Array<Nullable<Double>>, _>(col(rows, |m| m.longitude))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |m| m.location_name.clone()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |m| m.contact_data.clone()))
    .bind::<Timestamp, _>(first.sent_at)
    .bind::<Array<BigInt>, _>(col(rows, |m| m.seq))
    .bind::<Array<Integer>, _>(col(rows, |m| m.forward_count))
    .bind::<Array<Nullable<Timestamp>>, _>(col(rows, |m| m.expires_at))
    .execute(c)
    .await?;
    Ok(())
}
