//! The embedded web client: served at `/` with its policy headers, off with
//! `web.enabled = false`, and driven in a real Chromium by `tests/browser/web.test.mjs`
//! (Playwright, Debian's `/usr/bin/chromium`). Without `tests/browser/node_modules` or
//! Chromium the browser test says it did not run, unless `COURIER_REQUIRE_BROWSER` is set (CI
//! sets it), when it fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Resp, TestApp, OTP};

async fn get(app: &TestApp, path: &str) -> Resp {
    app.request(reqwest::Method::GET, path, None, None).await
}

/// The whole browser script's ceiling (it waits on the page, never on timers).
const SCRIPT_LIMIT: Duration = Duration::from_secs(200);

const MODULES: &[&str] = &[
    "app.js",
    "api.js",
    "ws.js",
    "ui.js",
    "state.js",
    "chats.js",
    "conversation.js",
    "people.js",
    "groups.js",
    "status.js",
    "call.js",
];

#[actix_rt::test]
async fn web_client_is_served_with_a_strict_policy() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[CACHE_CONTROL], "no-cache");
    let csp = h[CONTENT_SECURITY_POLICY].to_str().unwrap();
    for part in [
        "default-src 'self'",
        "connect-src 'self' ws: wss:",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "script-src 'self'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"<script type="module" src="/web/app.js">"#));

    for module in MODULES {
        let res = app
            .client
            .get(format!("{}/web/{module}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{module}");
        assert_eq!(
            res.headers()[CONTENT_TYPE],
            "text/javascript; charset=utf-8",
            "{module}"
        );
        assert!(res.headers().contains_key(CONTENT_SECURITY_POLICY));
    }
    let css = app
        .client
        .get(format!("{}/web/style.css", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()[CONTENT_TYPE], "text/css; charset=utf-8");

    // Revalidation: the same build answers 304 to its own ETag.
    let etag = h[ETAG].clone();
    let again = app
        .client
        .get(format!("{}/", app.address))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Only `/` is the page: other paths are 404 like anywhere else, and the API is untouched.
    for path in [
        "/web/nope.js",
        "/web/",
        "/index.html",
        "/chats/1",
        "/web/../Cargo.toml",
    ] {
        let res = get(&app, path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.code(), "not_found", "{path}");
    }
    let health = get(&app, "/api/health").await;
    assert_eq!(health.status, StatusCode::OK);
    let ws = get(&app, "/ws").await;
    assert_eq!(
        ws.status,
        StatusCode::UNAUTHORIZED,
        "/ws is still the socket"
    );
}

#[actix_rt::test]
async fn web_client_switched_off_answers_404() {
    let app = spawn_app_with(|s| s.web.enabled = false).await;
    for path in ["/", "/web/app.js", "/web/index.html"] {
        let res = get(&app, path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.code(), "not_found");
    }
    assert_eq!(get(&app, "/api/health").await.status, StatusCode::OK);
}

#[actix_rt::test]
async fn web_sign_in_page_learns_codes_are_in_the_log() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/auth/send-otp",
            None,
            json!({"phone_number": "+14155569999"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["delivery"], "console");
}

#[actix_rt::test]
async fn web_sync_cursor_starts_after_the_current_state() {
    let app = spawn_app().await;
    let ana = app.signup("+14155568001", "Ana").await;
    let bo = app.signup("+14155568002", "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    app.send_text(&ana, chat, "before").await;

    let res = app.get("/api/sync/cursor", &bo.token).await;
    assert_eq!(res.status, StatusCode::OK);
    let cursor = res.body["cursor"].as_i64().expect("a cursor");
    let page = app
        .get(&format!("/api/sync?since={cursor}"), &bo.token)
        .await;
    assert_eq!(
        page.body["messages"],
        json!([]),
        "nothing before the cursor"
    );
    assert_eq!(page.body["cursor"], cursor);

    app.send_text(&ana, chat, "after").await;
    let page = app
        .get(&format!("/api/sync?since={cursor}"), &bo.token)
        .await;
    let messages = page.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{:?}", page.body);
    assert_eq!(messages[0]["content"], "after");
    assert!(page.body["cursor"].as_i64().unwrap() > cursor);

    let anonymous = get(&app, "/api/sync/cursor").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// Where screenshots go: next to the build, outside the repository.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("web-screenshots")
}

#[actix_rt::test]
async fn web_client_in_chromium_chats_and_calls() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let required = std::env::var_os("COURIER_REQUIRE_BROWSER").is_some();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = if !dir.join("node_modules").is_dir() {
        Some("no tests/browser/node_modules (run npm ci in tests/browser)".to_string())
    } else if !Path::new(&chromium).exists() {
        Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ))
    } else {
        None
    };
    if let Some(why) = missing {
        assert!(!required, "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let app = spawn_app().await;
    let shots = screenshot_dir();
    let _ = std::fs::remove_dir_all(&shots);
    let child = tokio::process::Command::new("node")
        .arg("web.test.mjs")
        .current_dir(&dir)
        .env("COURIER_URL", &app.address)
        .env("COURIER_OTP", OTP)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .env("COURIER_CLOCK", "stdout")
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
    let out = tokio::time::timeout(SCRIPT_LIMIT, run_with_clock(child, &app))
        .await
        .expect("the browser script finishes in time");
    let stdout = out.stdout;
    let stderr = out.stderr;
    println!("{stdout}");
    println!("screenshots: {}", shots.display());
    assert!(
        out.status.success(),
        "the web client failed in Chromium:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all web client checks passed"), "{stdout}");
}

/// What the script printed, and how it ended.
struct Output {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs the script to its end, moving the server's clock when it asks (a line
/// `@clock advance <secs>` on its stdout): a missed call needs the ring timeout to pass.
async fn run_with_clock(mut child: tokio::process::Child, app: &TestApp) -> Output {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let err = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(stdout).lines();
    let mut out = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(secs) = line.strip_prefix("@clock advance ") {
            let secs: u64 = secs.trim().parse().expect("seconds");
            app.clock.advance(Duration::from_secs(secs));
        }
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait().await.expect("the browser script ran");
    Output {
        status,
        stdout: out,
        stderr: err.await.unwrap_or_default(),
    }
}
