//! PostgreSQL forms of the writer's batch statements: whole batches passed as arrays and
//! expanded with `unnest`, so a statement's text (and its parse and plan) is the same whatever
//! the batch size. A multi-row `VALUES` list with thousands of parameters costs PostgreSQL
//! several times more to parse and plan than the rows cost to write.

use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Text, Timestamp};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::messages::Message;
use super::StoreResult;

/// The look-up of [`by_client_ids`]: `$1` senders, `$2` their `client_msg_id`s.
const BY_CLIENT_IDS: &str =
    "SELECT m.* FROM unnest($1::bigint[], $2::text[]) AS k(sender_id, client_msg_id) \
     CROSS JOIN LATERAL (SELECT * FROM messages \
     WHERE sender_id = k.sender_id AND client_msg_id = k.client_msg_id LIMIT 1) AS m";

/// Earlier messages with any of these exact `(sender_id, client_msg_id)` pairs. The pairs are
/// joined, not matched column by column, so each is one probe of the unique index.
///
/// Each pair looks its message up in a `LATERAL` subquery with `LIMIT 1`, which PostgreSQL
/// cannot turn into a plain join: as a join, it was planned as a hash join over a sequential
/// scan of the whole table (cheaper on paper for a few hundred pairs, above all while the
/// table's statistics still describe it smaller), so each batch read every message ever
/// stored (7.8 ms a batch after 10 seconds of load, and growing with the table).
pub async fn by_client_ids(
    c: &AsyncPgConnection,
    pairs: &[(i64, String)],
) -> StoreResult<Vec<Message>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let (senders, ids): (Vec<i64>, Vec<&str>) =
        pairs.iter().map(|(s, id)| (*s, id.as_str())).unzip();
    // Raw SQL is never a cached prepared statement, so PostgreSQL plans it against the table
    // as it is now: a generic plan cached while the table was small (a sequential scan) would
    // stay in use as it grows.
    Ok(diesel::sql_query(BY_CLIENT_IDS)
        .bind::<Array<BigInt>, _>(&senders)
        .bind::<Array<Text>, _>(&ids)
        .load::<Message>(&mut &*c)
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

#[cfg(test)]
mod tests {
    use diesel::sql_types::{Array, BigInt, Text};
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;

    use super::{by_client_ids, BY_CLIENT_IDS};
    use crate::store::{PooledConn, DEFAULT_TIMEOUT};
    use crate::testing::{engine_at, two_in_a_chat, ScratchDb};

    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }

    /// A batch's duplicate check probes the unique index once per message, however many
    /// messages are stored and whatever the table's statistics say: it never reads the whole
    /// table. The messages are stored after the table was last analyzed, as during a burst.
    #[actix::test]
    async fn the_duplicate_check_probes_the_index_and_never_scans_the_messages() {
        let db = ScratchDb::create("COURIER_TEST_DATABASE_URL").await;
        if db.label() != "postgres" {
            eprintln!("needs PostgreSQL (COURIER_TEST_DATABASE_URL); not run");
            return;
        }
        let engine = engine_at(&db.url, &db.dir, DEFAULT_TIMEOUT).await;
        let (ana, _bo, chat) = two_in_a_chat(&engine).await;
        let mut pooled = engine.db.get().await.unwrap();
        let PooledConn::Pg(c) = &mut pooled else {
            unreachable!("PostgreSQL")
        };
        diesel::sql_query("ANALYZE messages")
            .execute(&mut **c)
            .await
            .unwrap();
        diesel::sql_query(format!(
            "INSERT INTO messages (id, chat_id, sender_id, client_msg_id, message_type, content, \
             seq, sent_at, updated_at) \
             SELECT 1000 + i, {chat}, {ana}, 'c-' || i, 'text', 'hello', 1000 + i, now(), now() \
             FROM generate_series(1, 20000) AS i"
        ))
        .execute(&mut **c)
        .await
        .unwrap();

        // 300 pairs, as in a busy batch: two stored, the rest new.
        let mut pairs: Vec<(i64, String)> = (0..298).map(|i| (ana, format!("new-{i}"))).collect();
        pairs.push((ana, "c-7".into()));
        pairs.push((ana, "c-19999".into()));
        let (senders, ids): (Vec<i64>, Vec<String>) = pairs.iter().cloned().unzip();
        let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {BY_CLIENT_IDS}"))
            .bind::<Array<BigInt>, _>(&senders)
            .bind::<Array<Text>, _>(&ids)
            .load(&mut **c)
            .await
            .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|p| p.line).collect();
        let plan = plan.join("\n");
        assert!(plan.contains("Index Scan"), "{plan}");
        assert!(!plan.contains("Seq Scan on messages"), "{plan}");

        let mut found: Vec<String> = by_client_ids(c, &pairs)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|m| m.client_msg_id)
            .collect();
        found.sort();
        assert_eq!(found, ["c-19999", "c-7"]);
    }
}
