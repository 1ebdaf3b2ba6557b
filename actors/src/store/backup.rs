//! Online backup of an SQLite database: `VACUUM INTO` writes a consistent copy from one read
//! snapshot, beside a running writer (WAL mode lets both go on).

use diesel_async::RunQueryDsl;

use super::{Conn, StoreResult};

/// Writes a copy of the database to `file` (which must not exist). Answers `false`, doing
/// nothing, on PostgreSQL (backed up with its own tools).
pub async fn vacuum_into(conn: &mut Conn<'_>, file: &str) -> StoreResult<bool> {
    match conn {
        Conn::Sqlite(c) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<diesel::sql_types::Text, _>(file)
                .execute(&mut **c)
                .await?;
            Ok(true)
        }
        Conn::Pg(_) => Ok(false),
    }
}
