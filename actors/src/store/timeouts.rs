//! Deadlines on the database: the PostgreSQL connection settings that bound every wait, and
//! which errors mean "the database is unavailable" rather than "this query is wrong".

use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error};

use super::StoreError;

/// The error of a wait for the database that passed its deadline.
pub fn late(limit: Duration) -> StoreError {
    StoreError::Unavailable(format!(
        "the database did not answer within {} ms",
        limit.as_millis()
    ))
}

/// `url` with the connection settings that keep a stalled server or network from holding a
/// caller: a connect timeout, TCP keepalive (a dead peer is noticed within a minute) and a TCP
/// user timeout, and, on the server, `statement_timeout` and
/// `idle_in_transaction_session_timeout` (a transaction whose client vanished mid-way releases
/// its locks). Settings already in the URL win.
pub fn pg_url(url: &str, timeout: Duration) -> String {
    let ms = timeout.as_millis().max(1);
    let secs = timeout.as_secs().max(1).to_string();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let mut add = |key: &str, value: &str| {
        if !params.iter().any(|(k, _)| k == key) {
            params.push((key.to_string(), value.to_string()));
        }
    };
    add("connect_timeout", &secs);
    add("keepalives", "1");
    add("keepalives_idle", "30");
    add("keepalives_interval", "10");
    add("keepalives_retries", "3");
    add("tcp_user_timeout", "30");
    // `-c statement_timeout=…ms -c idle_in_transaction_session_timeout=…ms`, percent-encoded.
    let idle = (ms * 5).max(10_000);
    let ours = format!(
        "-c%20statement_timeout%3D{ms}ms%20-c%20idle_in_transaction_session_timeout%3D{idle}ms"
    );
    match params.iter_mut().find(|(k, _)| k == "options") {
        Some((_, v)) if !v.contains("statement_timeout") => *v = format!("{v}%20{ours}"),
        Some(_) => {}
        None => params.push(("options".into(), ours)),
    }
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{base}?{}", query.join("&"))
}

/// Whether `e` says the database cannot be reached or used now (a broken connection, a
/// statement cancelled by its timeout, a lock held too long), as opposed to a query error.
pub fn is_unavailable(e: &Error) -> bool {
    match e {
        Error::BrokenTransactionManager => true,
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            [
                // SQLite: a lock held past busy_timeout.
                "database is locked",
                "database table is locked",
                "database is busy",
                // PostgreSQL: statement_timeout, lock_timeout, a backend going away.
                "statement timeout",
                "lock timeout",
                "terminating connection",
                "idle-in-transaction timeout",
            ]
            .iter()
            .any(|needle| m.contains(needle))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_deadlines_unless_they_say_otherwise() {
        let url = pg_url("postgres://u@db/app", Duration::from_millis(2000));
        assert!(
            url.starts_with("postgres://u@db/app?connect_timeout=2&"),
            "{url}"
        );
        assert!(url.contains("keepalives=1&keepalives_idle=30"), "{url}");
        assert!(url.contains("options=-c%20statement_timeout%3D2000ms%20-c%20idle_in_transaction_session_timeout%3D10000ms"), "{url}");

        let url = pg_url(
            "postgres://u@db/app?connect_timeout=9&options=-c%20search_path%3Dx",
            Duration::from_millis(500),
        );
        assert!(url.contains("connect_timeout=9"), "{url}");
        assert!(!url.contains("connect_timeout=1"), "{url}");
        assert!(
            url.contains("options=-c%20search_path%3Dx%20-c%20statement_timeout%3D500ms"),
            "{url}"
        );

        let mine = "postgres://u@db/app?options=-c%20statement_timeout%3D0";
        assert!(
            pg_url(mine, Duration::from_secs(2)).contains("options=-c%20statement_timeout%3D0&")
                || pg_url(mine, Duration::from_secs(2))
                    .ends_with("options=-c%20statement_timeout%3D0")
        );
    }

    #[test]
    fn locks_and_broken_connections_are_unavailable() {
        let db = |kind, m: &str| Error::DatabaseError(kind, Box::new(m.to_string()));
        assert!(is_unavailable(&db(
            DatabaseErrorKind::Unknown,
            "database is locked"
        )));
        assert!(is_unavailable(&db(
            DatabaseErrorKind::Unknown,
            "canceling statement due to statement timeout"
        )));
        assert!(is_unavailable(&db(
            DatabaseErrorKind::ClosedConnection,
            "gone"
        )));
        assert!(!is_unavailable(&db(
            DatabaseErrorKind::UniqueViolation,
            "dup"
        )));
        assert!(!is_unavailable(&Error::NotFound));
    }
}
