//! The open-file limit, checked at start: the soft limit is raised to the hard one, and the
//! connections actix may hold are derived from it, leaving a reserve for the database, files
//! and the media store. Sockets then can never take every descriptor: when all are in use the
//! server stops accepting (new connections wait in the kernel's backlog) instead of failing
//! `accept` with EMFILE, and the database can still open its connections. (Were `accept` to
//! fail with EMFILE all the same, actix-server's accept loop takes its listener out of the poll
//! for 500 ms and tries again: it does not spin.)

/// How the descriptors are shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdPlan {
    /// The open-file limit in force (after raising it).
    pub limit: u64,
    /// Descriptors kept for everything but client sockets.
    pub reserve: u64,
    /// Client connections each HTTP worker may hold (actix `max_connections`).
    pub per_worker: usize,
}

/// Fewer client sockets than this and the server refuses to start.
pub const MIN_SOCKETS: u64 = 64;
/// Fewer client sockets than this and the server warns that the limit is low for production.
pub const LOW_SOCKETS: u64 = 4096;

/// Shares `limit` descriptors out: a reserve (standard streams and logs, each worker's event
/// loop, three per SQLite connection — database, WAL and shared memory — or one per PostgreSQL
/// connection, files in flight in the media store) and the rest for client sockets, split
/// between `workers`.
pub fn plan(limit: u64, workers: usize, db_connections: usize) -> Result<FdPlan, String> {
    let workers = workers.max(1) as u64;
    let reserve = 256 + 3 * db_connections as u64 + 8 * workers;
    let sockets = limit.saturating_sub(reserve);
    if sockets < MIN_SOCKETS {
        return Err(format!(
            "the open-file limit is {limit}: after {reserve} kept for the database and files, \
             {sockets} remain for connections (at least {MIN_SOCKETS} needed); raise it with \
             `ulimit -n` or systemd's LimitNOFILE"
        ));
    }
    Ok(FdPlan {
        limit,
        reserve,
        per_worker: (sockets / workers).min(usize::MAX as u64) as usize,
    })
}

/// Raises the soft open-file limit to the hard limit; answers the limit now in force (None
/// where there is no such limit to read).
#[cfg(unix)]
pub fn raise_open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives on this stack.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        } else {
            tracing::warn!(
                soft = lim.rlim_cur,
                hard = lim.rlim_max,
                "could not raise the open-file limit"
            );
        }
    }
    // RLIM_INFINITY is u64::MAX: as many as the kernel's own cap, which is far above need.
    #[allow(clippy::unnecessary_cast)] // rlim_t is not 64 bits on every platform
    Some(lim.rlim_cur as u64)
}

#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_get_what_the_reserve_leaves() {
        let p = plan(20_000, 2, 10).unwrap();
        assert_eq!(p.reserve, 256 + 30 + 16);
        assert_eq!(p.per_worker, (20_000 - 302) / 2);
        let err = plan(300, 1, 10).unwrap_err();
        assert!(err.contains("ulimit -n"), "{err}");
        assert!(plan(u64::MAX, 4, 10).unwrap().per_worker > 1_000_000);
    }
}
