//! Full-text search over the messages a user can see: SQLite's FTS5 index (`messages_fts`)
//! or PostgreSQL's GIN index over `to_tsvector('simple', content)`, never a scan of the table.
//!
//! What a user can see is what their history shows, and no more: messages of chats they are a
//! member of, sent since they (last) joined, up to their departure from a group they left;
//! never one deleted for everyone, hidden by them, or a system message.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::RunQueryDsl;

use super::messages::Message;
use super::{Conn, StoreResult};

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// Most words a query is matched on.
pub const MAX_TERMS: usize = 8;

/// The words of a query: runs of letters and digits, lower-cased; at most [`MAX_TERMS`].
/// Nothing else reaches the index's query syntax, so no input can change its meaning.
pub fn terms(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_TERMS)
        .map(str::to_lowercase)
        .collect()
}

/// What to look for and where.
#[derive(Debug, Clone)]
pub struct Query {
    pub user_id: i64,
    /// From [`terms`]: every one must match as a word, the last one (the word being typed)
    /// as a word or the start of one.
    pub terms: Vec<String>,
    /// Within this chat only.
    pub chat_id: Option<i64>,
    /// Messages with smaller ids only (the page after one that ended there).
    pub before: Option<i64>,
    pub limit: i64,
}

/// The conditions shared by both backends, after the index has matched (`m` the message,
/// `cp` the searcher's participant row, `$1`/`?1` the searcher, `3` the chat, `4` the cursor).
const VISIBLE: &str = "JOIN chats c ON c.id = m.chat_id AND c.deleted_at IS NULL \
     JOIN chat_participants cp ON cp.chat_id = m.chat_id AND cp.user_id = {1} \
     WHERE m.deleted_at IS NULL AND m.message_type <> 'system' AND m.content IS NOT NULL \
     AND m.sent_at >= cp.joined_at \
     AND (cp.left_at IS NULL OR m.id <= cp.last_visible_message_id) \
     AND NOT EXISTS (SELECT 1 FROM message_hides h WHERE h.message_id = m.id AND h.user_id = {1}) \
     AND ({3} IS NULL OR m.chat_id = {3}) \
     AND ({4} IS NULL OR m.id < {4})";

/// On SQLite, adds to the full-text index every message stored since the last call, and
/// records the highest id now indexed (`counters`' `search_indexed`). The writer calls it in
/// its transactions, at most every few hundred milliseconds and before each search
/// (`IndexForSearch`), so that a send does not pay for an index segment of its own.
/// PostgreSQL's index follows each insert: nothing to do there.
pub async fn index_pending(conn: &mut Conn<'_>) -> StoreResult<()> {
    let Conn::Sqlite(c) = conn else {
        return Ok(());
    };
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut **c,
        "INSERT INTO messages_fts (rowid, content) \
             SELECT id, content FROM messages \
             WHERE id > (SELECT value FROM counters WHERE name = 'search_indexed') \
             AND content IS NOT NULL AND message_type <> 'system'; \
         UPDATE counters SET value = MAX(value, COALESCE((SELECT MAX(id) FROM messages), 0)) \
             WHERE name = 'search_indexed';",
    )
    .await?;
    Ok(())
}

/// Matching messages, newest first.
pub async fn messages(conn: &mut Conn<'_>, q: &Query) -> StoreResult<Vec<Message>> {
    if q.terms.is_empty() {
        return Ok(Vec::new());
    }
    match conn {
        Conn::Sqlite(c) => {
            // Each term quoted (it holds letters and digits only), the last a prefix:
            // `"hello" "wor"*`.
            let expr: Vec<String> = last_a_prefix(&q.terms, |t| format!("\"{t}\""), "*");
            let sql = format!(
                "SELECT m.* FROM messages_fts f JOIN messages m ON m.id = f.rowid {} \
                 AND messages_fts MATCH ?2 ORDER BY f.rowid DESC LIMIT ?5",
                placeholders(VISIBLE, '?')
            );
            Ok(diesel::sql_query(sql)
                .bind::<BigInt, _>(q.user_id)
                .bind::<Text, _>(expr.join(" "))
                .bind::<Nullable<BigInt>, _>(q.chat_id)
                .bind::<Nullable<BigInt>, _>(q.before)
                .bind::<BigInt, _>(q.limit)
                .load::<Message>(&mut **c)
                .await?)
        }
        Conn::Pg(c) => {
            // Every term, the last a prefix: `hello & wor:*`.
            let expr: Vec<String> = last_a_prefix(&q.terms, |t| t.to_string(), ":*");
            let sql = format!(
                "SELECT m.* FROM messages m {} \
                 AND to_tsvector('simple', m.content) @@ to_tsquery('simple', $2) \
                 ORDER BY m.id DESC LIMIT $5",
                placeholders(VISIBLE, '$')
            );
            Ok(diesel::sql_query(sql)
                .bind::<BigInt, _>(q.user_id)
                .bind::<Text, _>(expr.join(" & "))
                .bind::<Nullable<BigInt>, _>(q.chat_id)
                .bind::<Nullable<BigInt>, _>(q.before)
                .bind::<BigInt, _>(q.limit)
                .load::<Message>(&mut **c)
                .await?)
        }
    }
}

/// Each term as `quote` writes it, with `prefix` after the last.
fn last_a_prefix(terms: &[String], quote: impl Fn(&str) -> String, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = terms.iter().map(|t| quote(t)).collect();
    if let Some(last) = out.last_mut() {
        last.push_str(prefix);
    }
    out
}

/// `{n}` in `sql` as the backend writes the n-th parameter (`?n` or `$n`).
fn placeholders(sql: &str, mark: char) -> String {
    let mut out = sql.to_string();
    for n in 1..=5 {
        out = out.replace(&format!("{{{n}}}"), &format!("{mark}{n}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_keep_letters_and_digits_only() {
        assert_eq!(terms("Hello, WORLD!"), vec!["hello", "world"]);
        assert_eq!(
            terms("\"a\" OR b* NEAR(c)"),
            vec!["a", "or", "b", "near", "c"]
        );
        assert_eq!(terms("café 42"), vec!["café", "42"]);
        assert!(terms("  ***  ").is_empty());
        assert_eq!(terms(&"w ".repeat(20)).len(), MAX_TERMS);
    }
}
