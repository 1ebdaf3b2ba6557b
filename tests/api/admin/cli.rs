//! The operator's commands as the real binary, run as their own processes beside a running
//! `courier serve` on the same SQLite database.

use std::process::Output;

use serde_json::json;

use crate::binary::{courier, Process};
use crate::helpers::{phone, OTP};

/// Runs `courier <args>` on the server's data folder and database.
fn run(server: &Process, args: &[&str]) -> Output {
    courier(server.dir.path(), args, &[]).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failed command: its exit status and one line on stderr containing `says`.
fn assert_fails(out: &Output, code: i32, says: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(says), "{err}");
}

#[actix_web::test]
async fn users_stats_and_backup_work_beside_a_running_server() {
    let server = Process::serve(tempfile::tempdir().unwrap());
    let ana = phone(1);
    server.signup(&ana).await;

    let out = run(&server, &["users", "show", &ana]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains(&format!("phone: {ana}")), "{shown}");
    assert!(shown.contains("sessions: 1"), "{shown}");
    assert!(shown.contains("suspended: no"), "{shown}");

    assert_fails(
        &run(&server, &["users", "show", &phone(2)]),
        1,
        "no user with phone",
    );
    assert_fails(
        &run(&server, &["users", "show", "ana"]),
        2,
        "neither a phone number",
    );
    let out = run(&server, &["users", "freeze", &ana]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let out = run(&server, &["users", "suspend", &ana]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 session(s) ended"),
        "{}",
        stdout(&out)
    );
    // The running server refuses the account at once.
    let client = reqwest::Client::new();
    let r = client
        .post(server.url("/api/auth/send-otp"))
        .json(&json!({"phone_number": ana}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(server.url("/api/auth/verify-otp"))
        .json(&json!({"phone_number": ana, "otp": OTP}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "account_suspended", "{body}");

    let out = run(&server, &["stats"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "users: 1 (1 suspended)\nchats: 0\nmessages: 0\n"
    );

    let out = run(&server, &["users", "unsuspend", &ana]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&server, &["users", "sign-out", &ana]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run(&server, &["backup", "copy.db"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("backup written to copy.db"));
    let copy = server.dir.path().join("copy.db");
    let len = std::fs::metadata(&copy).unwrap().len();
    assert!(len > 0);
    assert_fails(&run(&server, &["backup", "copy.db"]), 1, "already exists");
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), len);

    // The server did not notice any of it.
    let r = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn commands_without_a_database_or_on_postgresql_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = courier(dir.path(), &["users", "show", "+14155550001"], &[])
        .output()
        .unwrap();
    assert_fails(&out, 1, "no database at");
    assert!(
        !dir.path().join("data/courier.db").exists(),
        "nothing created"
    );

    let pg = [(
        "COURIER__DATABASE__URL",
        "postgres://postgres@127.0.0.1:1/none",
    )];
    let out = courier(dir.path(), &["backup", "x.dump"], &pg)
        .output()
        .unwrap();
    assert_fails(&out, 1, "pg_dump");
    assert!(!dir.path().join("x.dump").exists());
}
