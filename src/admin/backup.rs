//! `courier backup <file>`: a consistent copy of the SQLite database, taken while the server
//! runs (`VACUUM INTO` reads one snapshot and does not hold up the writer). It never
//! overwrites a file. PostgreSQL is backed up with its own tools (`pg_dump`).

use std::path::Path;

use courier_actors::store::{self, Backend};

use super::{Admin, AdminError, AdminResult};

/// What `courier backup` says about a PostgreSQL database.
pub const PG_HINT: &str =
    "backup: the database is PostgreSQL; back it up with pg_dump (pg_dump --format=custom --file=courier.dump \"$DATABASE_URL\")";

/// Refuses PostgreSQL before anything is opened.
pub fn check_backend(url: &str) -> AdminResult<()> {
    match Backend::from_url(url)? {
        Backend::Sqlite(_) => Ok(()),
        Backend::Postgres(_) => Err(AdminError::failed(PG_HINT)),
    }
}

/// Writes a copy of the database to `file`; answers the line to print.
pub async fn run(admin: &Admin, file: &Path) -> AdminResult<String> {
    check_backend(&admin.settings.database.url)?;
    if file.exists() {
        return Err(AdminError::failed(format!(
            "backup: {} already exists; choose a new file",
            file.display()
        )));
    }
    let target = file
        .to_str()
        .ok_or_else(|| AdminError::usage("backup: the file name must be valid UTF-8"))?
        .to_string();
    let mut conn = admin.db.get().await?;
    let written = store::backup::vacuum_into(&mut conn.conn(), &target)
        .await
        .map_err(|e| AdminError::failed(format!("backup: cannot write {}: {e}", file.display())))?;
    if !written {
        return Err(AdminError::failed(PG_HINT));
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    Ok(format!(
        "backup written to {} ({size} bytes)\n",
        file.display()
    ))
}
