//! The real binary under a low open-file limit: a flood of connections from one address is
//! refused past the per-address cap while everyone else is served; a flood from many addresses
//! fills the connection budget derived from the limit but never exhausts the descriptors; and a
//! limit too low to serve anyone stops the start with a clear reason.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use super::connect_from;
use crate::binary::{courier, Process};

/// Sets the open-file limit (soft and hard) of the process `cmd` starts.
fn with_file_limit(cmd: &mut Command, limit: u64) {
    // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Accept failures the server logged (EMFILE shows as "Error accepting connection").
fn accept_errors(server: &Process) -> Vec<String> {
    server
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("accepting connection") || l.contains("Too many open files"))
        .cloned()
        .collect()
}

async fn health(client: &reqwest::Client, server: &Process) -> Result<u16, String> {
    client
        .get(server.url("/api/health"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[actix_web::test]
async fn a_flood_under_a_low_file_limit_never_exhausts_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = courier(
        dir.path(),
        &["serve"],
        &[
            ("COURIER__SERVER__MAX_CONNECTIONS_PER_IP", "20"),
            // The flood's sockets stay until the test lets them go.
            ("COURIER__SERVER__HEADER_TIMEOUT_MS", "60000"),
        ],
    );
    with_file_limit(&mut cmd, 512);
    let server = Process::start(cmd, dir);
    let addr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    // A fresh connection per request: each must be accepted while the flood goes on.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // One address opens a thousand sockets, twice the file limit; 127.0.0.1 is served throughout.
    let mut flood = Vec::new();
    for i in 0..1000 {
        if let Ok(s) = connect_from("127.0.0.2", addr).await {
            flood.push(s);
        }
        if i % 100 == 99 {
            assert_eq!(health(&client, &server).await, Ok(200), "after {i} sockets");
        }
    }
    assert_eq!(
        flood.len(),
        1000,
        "every connect completed (refused ones are closed)"
    );
    drop(flood);

    // Many addresses, each under its cap, together over the file limit: the server takes what
    // its budget allows and leaves the rest waiting, rather than running out of descriptors.
    let mut flood = Vec::new();
    for host in 3..=32 {
        for _ in 0..20 {
            let from = format!("127.0.0.{host}");
            let connect = connect_from(&from, addr);
            if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(300), connect).await {
                flood.push(s);
            }
        }
    }
    assert!(
        flood.len() > 512,
        "the flood is over the limit: {}",
        flood.len()
    );
    drop(flood);
    // Once it lets go, everything waiting is taken in turn, then this request.
    assert_eq!(health(&client, &server).await, Ok(200));
    assert_eq!(accept_errors(&server), Vec::<String>::new());
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("open_file_limit=512"), "{log}");
}

#[test]
fn a_file_limit_too_low_to_serve_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = courier(dir.path(), &["serve"], &[]);
    with_file_limit(&mut cmd, 200);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("open-file limit is 200"), "{err}");
    assert!(err.contains("ulimit -n"), "{err}");
}
