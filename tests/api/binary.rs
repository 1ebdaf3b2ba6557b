//! The `courier` binary itself: refusing bad configuration, `migrate`, signals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{phone, OTP};
use crate::ws::WsClient;

/// A `courier` process started with `COURIER__…` variables, on a fresh SQLite data folder.
pub struct Process {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// Every line it has logged so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub fn courier(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_courier"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("COURIER__SERVER__BIND", "127.0.0.1:0")
        .env("COURIER__METRICS__BIND", "127.0.0.1:0")
        .env("COURIER__SERVER__DATA_DIR", dir.join("data"))
        .env("COURIER__SERVER__WORKERS", "1")
        .env("COURIER__AUTH__FIXED_OTP", OTP)
        .env("COURIER__LIMITS__OTP_PER_IP_PER_MINUTE", "1000")
        .env(
            "COURIER__DATABASE__URL",
            format!("sqlite://{}", dir.join("data/courier.db").display()),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Process {
    /// Starts `courier serve` and waits until it logs the port it listens on.
    pub fn serve(dir: tempfile::TempDir) -> Process {
        let cmd = courier(dir.path(), &["serve"], &[]);
        Process::start(cmd, dir)
    }

    /// Starts `cmd` (made by [`courier`] for `dir`) and waits until it logs its port.
    pub fn start(cmd: Command, dir: tempfile::TempDir) -> Process {
        Process::launch(cmd, dir).ready()
    }

    /// Starts `cmd` without waiting for it: [`Starting::ready`] waits.
    pub fn launch(mut cmd: Command, dir: tempfile::TempDir) -> Starting {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("courier starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // `port=N` in text logs, `"port":N` in JSON ones.
                let port = line
                    .contains("courier listening")
                    .then(|| {
                        line.split("port=")
                            .nth(1)
                            .or(line.split("\"port\":").nth(1))
                    })
                    .flatten();
                if let Some(rest) = port {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(port.parse::<u16>().unwrap());
                }
                lines.lock().unwrap().push(line);
            }
        });
        Starting {
            child,
            dir,
            log,
            port: rx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Signs a user up over HTTP and answers their access token.
    pub async fn signup(&self, phone: &str) -> String {
        let client = reqwest::Client::new();
        let r = client
            .post(self.url("/api/auth/send-otp"))
            .json(&json!({"phone_number": phone}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r: serde_json::Value = client
            .post(self.url("/api/auth/verify-otp"))
            .json(&json!({"phone_number": phone, "otp": OTP, "name": "Op"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["tokens"]["access_token"].as_str().unwrap().to_string()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit; panics after `secs`.
    pub fn wait(&mut self, secs: u64) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "courier did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A `courier` process that has not logged its port yet.
pub struct Starting {
    child: Child,
    dir: tempfile::TempDir,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    port: std::sync::mpsc::Receiver<u16>,
}

impl Starting {
    /// Waits until the process logs the port it listens on.
    pub fn ready(self) -> Process {
        let port = self
            .port
            .recv_timeout(Duration::from_secs(30))
            .expect("courier logs its port");
        Process {
            child: self.child,
            port,
            dir: self.dir,
            log: self.log,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn dangerous_configuration_stops_the_start_with_a_one_line_reason() {
    let dir = tempfile::tempdir().unwrap();
    let twilio = [
        ("COURIER__SMS__PROVIDER", "twilio"),
        ("COURIER__SMS__TWILIO_ACCOUNT_SID", "AC1"),
        ("COURIER__SMS__TWILIO_AUTH_TOKEN", "x"),
        ("COURIER__SMS__TWILIO_FROM", "+15005550006"),
    ];
    // fixed_otp is set by `courier()`: with a real SMS provider anyone could sign in as anyone.
    let out = courier(dir.path(), &["serve"], &twilio).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("fixed_otp"), "{err}");

    let out = courier(dir.path(), &["serve"], &[("COURIER__SERVER__BINDD", "x")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("bindd"));
    assert!(
        !dir.path().join("data/courier.db").exists(),
        "nothing was created"
    );
}

#[test]
fn migrate_applies_the_schema_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = courier(dir.path(), &["migrate"], &[]).output().unwrap();
    assert!(out.status.success(), "{:?}", out);
    let all = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains(&format!("applied {all} migration(s)")));
    let out = courier(dir.path(), &["migrate"], &[]).output().unwrap();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("applied 0 migration(s)"));
}

#[actix_web::test]
async fn sigterm_shuts_down_gracefully() {
    let mut server = Process::serve(tempfile::tempdir().unwrap());
    let client = reqwest::Client::new();
    let r = client
        .post(server.url("/api/auth/send-otp"))
        .json(&json!({"phone_number": "+14155550100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.signal("TERM");
    let status = server.wait(15);
    assert!(status.success(), "{status:?}");
    assert!(server.dir.path().join("data/jwt_secret").exists());
}

#[actix_web::test]
async fn sigterm_closes_every_socket_with_1001_at_once_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    // A grace far longer than the test waits: sockets must not wait for it.
    let cmd = courier(
        dir.path(),
        &["serve"],
        &[("COURIER__SERVER__SHUTDOWN_TIMEOUT_SECS", "60")],
    );
    let mut server = Process::start(cmd, dir);
    let address = format!("http://127.0.0.1:{}", server.port);
    let mut sockets = Vec::new();
    for n in 0..3 {
        let token = server.signup(&phone(900 + n)).await;
        sockets.push(WsClient::connect_to(&address, &token).await);
        sockets.push(WsClient::connect_to(&address, &token).await);
    }
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);

    let started = Instant::now();
    server.signal("TERM");
    for ws in &mut sockets {
        // `closed` waits at most ten seconds, far less than the 60 s grace.
        assert_eq!(ws.closed().await, 1001);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let status = server.wait(20);
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "exited without waiting for the grace: {:?}",
        started.elapsed()
    );
}
