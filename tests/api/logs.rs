//! Request logs: one line per request with its route, status, user and request id, the id
//! echoed in `X-Request-Id`, JSON lines on demand, and no tokens in any of it.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binary::{courier, Process};
use crate::helpers::{phone, spawn_app};

#[actix_web::test]
async fn a_request_id_is_echoed_kept_when_sane_and_made_otherwise() {
    let app = spawn_app().await;
    let get = |id: Option<&'static str>| {
        let mut req = app.client.get(format!("{}/healthz", app.address));
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };
    let kept = get(Some("client-42.a_b")).await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "client-42.a_b");
    let long: &'static str = "x".repeat(65).leak();
    for sent in [
        None,
        Some("no spaces allowed"),
        Some("a\"quote"),
        Some(long),
    ] {
        let res = get(sent).await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 16, "{sent:?} → {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    // Every answer carries one, errors included.
    let res = app
        .client
        .get(format!("{}/nowhere", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers().contains_key("x-request-id"));
}

/// Waits until a logged line satisfies `want` (at most 10 s), and answers it.
fn logged(proc: &Process, want: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let found = proc.log.lock().unwrap().iter().find_map(|line| {
            let v: Value = serde_json::from_str(line).ok()?;
            want(&v).then_some(v)
        });
        if let Some(v) = found {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no such log line"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[actix_web::test]
async fn json_logs_have_a_line_per_request_and_per_socket_and_no_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = courier(dir.path(), &["serve"], &[("COURIER__LOG__FORMAT", "json")]);
    let proc = Process::start(cmd, dir);
    let token = proc.signup(&phone(1)).await;
    let client = reqwest::Client::new();
    let res = client
        .get(proc.url("/api/chats/12345/messages"))
        .bearer_auth(&token)
        .header("x-request-id", "trace-me")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let line = logged(&proc, |v| v["fields"]["request_id"] == "trace-me");
    let f = &line["fields"];
    assert_eq!(f["method"], "GET");
    assert_eq!(
        f["route"], "/api/chats/{id}/messages",
        "the pattern, not the path"
    );
    assert_eq!(f["status"], 404);
    assert!(f["user"].as_i64().is_some_and(|id| id > 0), "{line}");
    assert!(f["ms"].as_f64().is_some(), "{line}");
    assert_eq!(line["level"], "INFO");

    // A socket's lifetime is one line when it ends.
    let url = format!("ws://127.0.0.1:{}/ws?token={token}", proc.port);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.close(None).await.unwrap();
    let socket = logged(&proc, |v| v["fields"]["message"] == "socket closed");
    assert_eq!(socket["fields"]["code"], 1000, "{socket}");

    let lines = proc.log.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "every line is JSON"
    );
    assert!(
        !lines.iter().any(|l| l.contains(&token)),
        "no access token in the log"
    );
}
