//! A hostile client next to a normal one: how much does a frame flood slow everyone else?
//!
//! A normal user sends a message every 20 ms and times each send → ack, in windows that
//! alternate: alone, then while an attacker account floods frames (`typing`, `read`, `sync`,
//! naming a fresh chat id each time) as fast as two sockets carry them, reading whatever comes
//! back and connecting again whenever the server closes a socket. Each flood window uses a
//! fresh attacker account, so each includes the moment a new attacker spends its allowance.
//! Alternating spreads the machine's own noise (checkpoints, other processes) over both sides.
//! Prints the normal user's pooled latency percentiles alone and flooded, each round's p99
//! ratio, what the attackers got through, and the server's memory. The server runs on its own thread with its production limits; the clients
//! run on another runtime.
//!
//! `cargo bench --bench flood` (SQLite); `COURIER_BENCH_DATABASE_URL=postgres://…` for PostgreSQL.
//! `FLOOD_TRACE=1` also prints every send that took longer than 5 ms, to see when they happen.

mod common;

use common::client::{private_chat, sign_up, socket, try_socket, Ws};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use courier::Application;
use courier_actors::Clock;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Messages the normal user sends in each window, one every `PACE`.
const MESSAGES: usize = 300;
/// Rounds of one window alone followed by one window flooded.
const ROUNDS: usize = 6;
const PACE: Duration = Duration::from_millis(20);
/// Attacker sockets (one account).
const ATTACKER_SOCKETS: usize = 2;

/// Longest wait for one ack; a send that takes longer counts as this long, and the run stops.
const GIVE_UP: Duration = Duration::from_secs(30);

/// Sends up to `MESSAGES` paced messages and returns each send → ack latency, in ms, sorted.
async fn normal_user(ws: &mut Ws, chat: i64, run: &str) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(MESSAGES);
    let mut ticker = tokio::time::interval(PACE);
    for i in 0..MESSAGES {
        ticker.tick().await;
        let reference = format!("{run}-{i}");
        let frame = json!({"type": "send-message", "chat_id": chat, "content": "hello",
            "client_msg_id": reference, "ref": reference});
        let start = Instant::now();
        ws.send(Message::text(frame.to_string())).await.unwrap();
        let acked = tokio::time::timeout(GIVE_UP, async {
            loop {
                let msg = ws.next().await.expect("socket open").expect("frame");
                let Message::Text(t) = msg else { continue };
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["ref"] == reference.as_str() {
                    if v["type"] != "ack" {
                        // Counted (its latency too) and shown: a refused send is a result.
                        println!("  {run}: message {i} refused: {v}");
                    }
                    break;
                }
            }
        })
        .await;
        latencies.push(start.elapsed().as_secs_f64() * 1e3);
        if std::env::var_os("FLOOD_TRACE").is_some() && start.elapsed() > Duration::from_millis(5) {
            println!(
                "  {run}: message {i} took {:.1} ms",
                start.elapsed().as_secs_f64() * 1e3
            );
        }
        if acked.is_err() {
            println!(
                "  {run}: no ack within {} s after {i} messages; run stopped",
                GIVE_UP.as_secs()
            );
            break;
        }
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

fn pct(l: &[f64], q: f64) -> f64 {
    l[((l.len() as f64 * q) as usize).min(l.len() - 1)]
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// What the attacker achieved.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    answered: AtomicU64,
    connects: AtomicU64,
}

/// Floods frames until `stop`, connecting again whenever the server closes the socket; counts
/// frames sent, answers (ack or error) read back and connections made.
async fn attacker(
    base: String,
    token: String,
    seed: i64,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let mut n: i64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(ws) = try_socket(&base, &token).await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tally.connects.fetch_add(1, Ordering::Relaxed);
        let (mut tx, mut rx) = ws.split();
        let counts = tally.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(m)) = rx.next().await {
                if matches!(m, Message::Text(_)) {
                    counts.answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let chat = 1_000_000 + seed * 10_000_000 + n;
            let frame = match n % 3 {
                0 => json!({"type": "typing", "chat_id": chat, "is_typing": true}),
                1 => json!({"type": "read", "chat_id": chat, "message_id": n}),
                _ => json!({"type": "sync", "since": 0}),
            };
            if tx.send(Message::text(frame.to_string())).await.is_err() {
                break; // closed by the server: connect again
            }
            tally.sent.fetch_add(1, Ordering::Relaxed);
        }
        let _ = tx.close().await;
        reader.abort();
    }
}

/// Starts one attacker account's flood on a thread of its own (the attacker can take at most
/// one core from the server; on this 2-core machine, that is the flood's real cost too).
fn start_flood(
    base: &str,
    token: &str,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> std::thread::JoinHandle<()> {
    let (base, token) = (base.to_owned(), token.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut attackers = Vec::new();
            for seed in 0..ATTACKER_SOCKETS {
                attackers.push(tokio::spawn(attacker(
                    base.clone(),
                    token.clone(),
                    seed as i64,
                    stop.clone(),
                    tally.clone(),
                )));
            }
            for a in attackers {
                let _ = a.await;
            }
        })
    })
}

fn main() {
    // The server: its own thread and actix system, production limits but for sign-ups and
    // the normal user's message rate.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let db = common::database().await;
            let mut settings = common::settings(&db);
            settings.realtime = Default::default();
            let app = Application::build(settings, Clock::system()).await.unwrap();
            addr_tx
                .send((format!("http://127.0.0.1:{}", app.port()), db.label()))
                .unwrap();
            app.run_until_stopped().await.unwrap();
            drop(db);
        });
    });
    let (base, label) = addr_rx.recv().unwrap();

    // The normal users on this thread, each attacker on a thread of its own.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let http = reqwest::Client::new();
        let (_, ana) = sign_up(&http, &base, 1).await;
        let (bo_id, bo) = sign_up(&http, &base, 2).await;
        let mut mallories = Vec::new();
        for round in 0..ROUNDS {
            mallories.push(sign_up(&http, &base, 3 + round).await.1);
        }
        let chat = private_chat(&http, &base, &ana, bo_id).await;
        let mut ana_ws = socket(&base, &ana).await;
        // Bo reads his socket so that his queue never fills.
        let bo_ws = socket(&base, &bo).await;
        tokio::spawn(async move {
            let (_, mut rx) = bo_ws.split();
            while let Some(Ok(_)) = rx.next().await {}
        });

        let rss_before = rss_mb();
        let mut rss_peak: f64 = 0.0;
        let (mut alone, mut flooded, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let tally = Arc::new(Tally::default());
        let mut flood_secs = 0.0;
        for (round, mallory) in mallories.iter().enumerate() {
            let quiet = normal_user(&mut ana_ws, chat, &format!("alone{round}")).await;
            let stop = Arc::new(AtomicBool::new(false));
            let attack = start_flood(&base, mallory, stop.clone(), tally.clone());
            let flood_start = Instant::now();
            let loud = normal_user(&mut ana_ws, chat, &format!("flooded{round}")).await;
            flood_secs += flood_start.elapsed().as_secs_f64();
            rss_peak = rss_peak.max(rss_mb());
            stop.store(true, Ordering::Relaxed);
            let _ = attack.join();
            ratios.push(pct(&loud, 0.99) / pct(&quiet, 0.99));
            alone.extend(quiet);
            flooded.extend(loud);
        }
        // Right after the last attacker leaves: does the backlog still hold everyone up?
        let after = normal_user(&mut ana_ws, chat, "after").await;
        alone.sort_by(f64::total_cmp);
        flooded.sort_by(f64::total_cmp);

        println!(
            "flood/{label}: normal user, {ROUNDS} rounds of {MESSAGES} messages alone then {MESSAGES} flooded, paced every {} ms, send -> ack:",
            PACE.as_millis()
        );
        for (name, l) in [("alone", &alone), ("flooded", &flooded), ("after", &after)] {
            println!(
                "  {name:>8}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} sends)",
                pct(l, 0.5),
                pct(l, 0.99),
                pct(l, 1.0),
                l.len()
            );
        }
        let sent = tally.sent.load(Ordering::Relaxed);
        println!(
            "  attackers: {sent} frames sent in {flood_secs:.1} s ({:.0}/s) on {ATTACKER_SOCKETS} sockets at a time, {} connections, {} answers read",
            sent as f64 / flood_secs,
            tally.connects.load(Ordering::Relaxed),
            tally.answered.load(Ordering::Relaxed)
        );
        let rounds: Vec<String> = ratios.iter().map(|r| format!("{r:.2}x")).collect();
        println!(
            "  p99 flooded / alone: {:.2}x pooled; by round {}; process RSS {:.0} MB before, {:.0} MB at most during floods",
            pct(&flooded, 0.99) / pct(&alone, 0.99),
            rounds.join(" "),
            rss_before,
            rss_peak
        );
    });
}
