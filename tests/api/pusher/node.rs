//! The real npm clients (pusher-js, laravel-echo) under Node against a real server: the
//! script `tests/node/pusher.test.mjs` fails on any unmet expectation, and so does this test.
//! Without Node or `tests/node/node_modules` (`npm ci` there), the test says it did not run,
//! unless `COURIER_REQUIRE_NODE` is set (CI sets it), when it fails.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::client::{pusher_app, KEY, SECRET};
use crate::helpers::OTP;

/// The whole script's ceiling (it waits on events, never sleeps).
const SCRIPT_LIMIT: Duration = Duration::from_secs(180);

#[actix_rt::test]
async fn pusher_js_and_laravel_echo_work_unmodified() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let required = std::env::var_os("COURIER_REQUIRE_NODE").is_some();
    if !dir.join("node_modules").is_dir() {
        assert!(
            !required,
            "tests/node/node_modules is missing: run npm ci in tests/node"
        );
        eprintln!("skipped: no tests/node/node_modules (run npm ci in tests/node)");
        return;
    }
    let app = pusher_app().await;
    let child = tokio::process::Command::new("node")
        .arg("pusher.test.mjs")
        .current_dir(&dir)
        .env("COURIER_URL", &app.address)
        .env("PUSHER_KEY", KEY)
        .env("PUSHER_APP_ID", &app.settings.pusher.app_id)
        .env("PUSHER_SECRET", SECRET)
        .env("COURIER_OTP", OTP)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(!required, "node could not start: {e}");
            eprintln!("skipped: node could not start: {e}");
            return;
        }
    };
    let out = tokio::time::timeout(SCRIPT_LIMIT, child.wait_with_output())
        .await
        .expect("the Node script finishes in time")
        .expect("the Node script ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "Node clients failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
}
