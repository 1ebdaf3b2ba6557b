//! Hostile clients: what one socket or one account may cost the server is bounded, and everyone
//! else keeps being served. Limits are set small in each test's configuration.

use serde_json::{json, Value};

use crate::helpers::{phone, spawn_app, spawn_app_with, TestApp};
use crate::ws::WsClient;

fn typing(chat_id: i64, is_typing: bool) -> Value {
    json!({"type": "typing", "chat_id": chat_id, "is_typing": is_typing})
}

#[actix_web::test]
async fn frames_naming_other_chats_start_nothing_and_a_flood_is_cut_off() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let mallory = app.signup(&phone(3), "Mallory").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut m = WsClient::connect(&app, &mallory.token).await;

    // A chat that exists and ids that do not: refused, and no room is started for them.
    for chat_id in [chat, chat + 1000, chat + 1001] {
        let answer = m.request(typing(chat_id, true)).await;
        assert_eq!(answer["code"], "not_found", "{answer}");
        let answer = m
            .request(json!({"type": "read", "chat_id": chat_id, "message_id": 1}))
            .await;
        assert_eq!(answer["code"], "not_found", "{answer}");
    }
    assert_eq!(
        app.live_rooms().await,
        0,
        "no room for a chat one is not in"
    );

    // Past its allowance a kind of frame is refused with the time to wait.
    let mut limited = None;
    for n in 0..20 {
        let answer = m.request(typing(chat + 2000 + n, true)).await;
        if answer["code"] == "rate_limited" {
            limited = Some(answer);
            break;
        }
        assert_eq!(answer["code"], "not_found", "{answer}");
    }
    let limited = limited.expect("typing frames are rate-limited");
    assert!(limited["retry_after"].as_u64().unwrap() >= 1, "{limited}");

    // A flood: its refusals run out and the socket is closed.
    for n in 0..300 {
        if !m.try_send_json(typing(chat + 3000 + n, n % 2 == 0)).await {
            break;
        }
    }
    assert_eq!(m.closed().await, 4029);
    assert_eq!(app.live_rooms().await, 0);

    // The others are served as usual.
    let mut a = WsClient::connect(&app, &ana.token).await;
    let mut b = WsClient::connect(&app, &bo.token).await;
    let ack = a.send_text(chat, "still here", "c-1").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let got = b.next_of("new-message").await;
    assert_eq!(got["data"]["message"]["content"], "still here");
}

#[actix_web::test]
async fn a_users_sockets_share_one_frame_budget_and_reconnecting_buys_none() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let mallory = app.signup(&phone(3), "Mallory").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut first = WsClient::connect(&app, &mallory.token).await;
    let mut second = WsClient::connect(&app, &mallory.token).await;

    // The typing allowance (a quarter of 60 at once) is spent through the first socket...
    let mut allowed = 0;
    loop {
        let answer = first.request(typing(chat + 1000 + allowed, true)).await;
        if answer["code"] == "rate_limited" {
            break;
        }
        assert_eq!(answer["code"], "not_found", "{answer}");
        allowed += 1;
    }
    assert_eq!(allowed, 15);
    // ...and the second socket has none left either.
    let answer = second.request(typing(chat + 2000, true)).await;
    assert_eq!(answer["code"], "rate_limited", "{answer}");

    // Refusals run out for the user: a socket closed for them and opened again gets none.
    for n in 0..300 {
        if !first.try_send_json(typing(chat + 3000 + n, true)).await {
            break;
        }
    }
    assert_eq!(first.closed().await, 4029);
    let mut again = WsClient::connect(&app, &mallory.token).await;
    let _ = again
        .try_send_json(json!({"type": "read", "chat_id": chat + 4000, "message_id": 1}))
        .await;
    assert_eq!(
        again.closed().await,
        4029,
        "no fresh refusals on a new socket"
    );

    // A minute later the budget has refilled.
    app.advance(60);
    let mut rested = WsClient::connect(&app, &mallory.token).await;
    let answer = rested.request(typing(chat + 5000, true)).await;
    assert_eq!(answer["code"], "not_found", "{answer}");
    drop(second);
}

/// Holds the database's write lock from outside the server, so that writes wait.
enum WriteLock {
    Sqlite(diesel::SqliteConnection),
    Pg(Box<diesel_async::AsyncPgConnection>),
}

impl WriteLock {
    async fn take(app: &TestApp) -> WriteLock {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        use diesel_async::{AsyncConnection, SimpleAsyncConnection};
        let url = &app.settings.database.url;
        match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut c = diesel::SqliteConnection::establish(path).unwrap();
                c.batch_execute("BEGIN IMMEDIATE").unwrap();
                WriteLock::Sqlite(c)
            }
            None => {
                let mut c = diesel_async::AsyncPgConnection::establish(url)
                    .await
                    .unwrap();
                c.batch_execute("BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE;")
                    .await
                    .unwrap();
                WriteLock::Pg(Box::new(c))
            }
        }
    }

    async fn release(self) {
        use diesel::connection::SimpleConnection;
        use diesel_async::SimpleAsyncConnection;
        match self {
            WriteLock::Sqlite(mut c) => c.batch_execute("ROLLBACK").unwrap(),
            WriteLock::Pg(mut c) => c.batch_execute("ROLLBACK").await.unwrap(),
        }
    }
}

#[actix_web::test]
async fn a_socket_is_read_only_as_fast_as_its_frames_are_answered() {
    let app = spawn_app_with(|s| s.realtime.max_frames_in_flight = 2).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut a = WsClient::connect(&app, &ana.token).await;
    assert_eq!(a.send_text(chat, "warm up", "w").await["type"], "ack");

    // Two sends wait for the database; the ping behind them is not even read until one of
    // them is answered.
    let lock = WriteLock::take(&app).await;
    for i in 1..=2 {
        a.send_json(json!({"type": "send-message", "chat_id": chat, "content": format!("m{i}"), "client_msg_id": format!("m{i}"), "ref": i}))
            .await;
    }
    a.send_json(json!({"type": "ping", "ref": "p"})).await;
    // Give a server that reads ahead every chance to answer the ping now.
    let early = a.next_within(std::time::Duration::from_millis(300)).await;
    assert!(
        early.is_none(),
        "answered while its frames were in flight: {early:?}"
    );
    lock.release().await;
    let order: Vec<Value> = a
        .collect_until(|f| f["ref"] == "p")
        .await
        .into_iter()
        .map(|f| f["ref"].clone())
        .collect();
    assert_eq!(order.last(), Some(&json!("p")));
    assert!(order.contains(&json!(1)), "{order:?}");
}

#[actix_web::test]
async fn a_user_holds_at_most_the_configured_number_of_sockets() {
    let app = spawn_app_with(|s| s.realtime.max_sockets_per_user = 2).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let first = WsClient::connect(&app, &ana.token).await;
    let _second = WsClient::connect(&app, &ana.token).await;
    let (status, body) = WsClient::try_connect(&app, &ana.token)
        .await
        .err()
        .expect("a third socket is refused");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_sockets", "{body}");
    // Others are not affected.
    let _bo = WsClient::connect(&app, &bo.token).await;
    // Closing one frees its place.
    first.close().await;
    let mut again = None;
    for _ in 0..100 {
        if let Ok(ws) = WsClient::try_connect(&app, &ana.token).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a closed socket gives its place back");
}

#[actix_web::test]
async fn reconnecting_in_a_loop_is_refused_until_time_has_passed() {
    // Twelve a minute: two in any ten seconds.
    let app = spawn_app_with(|s| s.realtime.connects_per_minute = 12).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    for _ in 0..2 {
        WsClient::connect(&app, &ana.token).await.close().await;
    }
    let (status, body) = WsClient::try_connect(&app, &ana.token)
        .await
        .err()
        .expect("a third connect within ten seconds is refused");
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("rate_limited"))
    );
    // Someone else connects as usual; Ana does again ten seconds later.
    let _bo = WsClient::connect(&app, &bo.token).await;
    app.advance(10);
    let _again = WsClient::connect(&app, &ana.token).await;
}

#[actix_web::test]
async fn typing_storms_in_a_group_cost_one_event_per_interval() {
    let app = spawn_app_with(|s| {
        s.realtime.outbound_queue = 64;
        s.realtime.frames_per_minute.typing = 1_000_000;
    })
    .await;
    let ana = app.signup(&phone(1), "Ana").await;
    let mut members = Vec::new();
    for n in 2..6 {
        let m = app.signup(&phone(n), &format!("M{n}")).await;
        app.open_to_groups(&m).await;
        members.push(m);
    }
    let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
    let r = app
        .post(
            "/api/groups",
            Some(&ana.token),
            json!({"name": "St\u{202E}orm\u{200B}", "participants": ids}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["group"]["name"], "Storm",
        "names lose invisible formatting"
    );
    let group = r.body["group"]["id"].as_i64().unwrap();
    let mut sockets = Vec::new();
    for m in &members {
        sockets.push(WsClient::connect(&app, &m.token).await);
    }
    let mut a = WsClient::connect(&app, &ana.token).await;

    // 2,000 toggles as fast as the socket takes them, ending on "stopped".
    // Only the last asks for an answer (a socket that does not read would fall behind).
    for i in 0..1999 {
        a.send_json(json!({"type": "typing", "chat_id": group, "is_typing": i % 2 == 0}))
            .await;
    }
    let last = json!({"type": "typing", "chat_id": group, "is_typing": false, "ref": 1999});
    a.send_json(last).await;
    assert_eq!(a.answer_to_number(1999).await["type"], "ack");
    // The interval ends: the latest state goes out if it differs from what was said.
    app.advance(3);
    for (m, ws) in members.iter().zip(sockets.iter_mut()) {
        let seen = ws
            .collect_until(|f| f["type"] == "user-typing" && f["data"]["is_typing"] == false)
            .await;
        let typing: Vec<&Value> = seen
            .iter()
            .filter(|f| f["type"] == "user-typing")
            .map(|f| &f["data"]["is_typing"])
            .collect();
        assert_eq!(typing, [&json!(true), &json!(false)], "member {}", m.id);
    }
    // Nobody was disconnected for falling behind: a message still reaches everyone.
    assert_eq!(a.send_text(group, "done", "d-1").await["type"], "ack");
    for ws in sockets.iter_mut() {
        let frames = ws.collect_until(|f| f["type"] == "new-message").await;
        assert!(
            frames.iter().all(|f| f["type"] != "user-typing"),
            "{frames:?}"
        );
    }
}

#[actix_web::test]
async fn token_refresh_is_rate_limited_per_session() {
    let app = spawn_app_with(|s| s.limits.refresh_per_minute = 3).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let mut refresh = ana.refresh.clone();
    for _ in 0..3 {
        let r = app
            .request(
                reqwest::Method::POST,
                "/api/auth/refresh",
                Some(&refresh),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    }
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/auth/refresh",
            Some(&refresh),
            None,
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.code(), "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    // The refused attempt did not use the token up: it works once the window has passed.
    app.advance(60);
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/auth/refresh",
            Some(&refresh),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn names_lose_bidi_overrides_and_zero_width_characters() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/send-otp",
            None,
            json!({"phone_number": phone(1)}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": phone(1), "otp": crate::helpers::OTP, "name": "Ana\u{202E}nimda"}),
        )
        .await;
    assert_eq!(r.body["user"]["name"], "Ananimda", "{}", r.body);
    let token = r.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let bo = app.signup(&phone(2), "Bo").await;

    let r = app
        .put(
            "/api/user/profile",
            &token,
            json!({"name": "\u{2067}Z\u{200B}o\u{FEFF}ë\u{2069} 👨\u{200D}👩\u{200D}👧"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["name"], "Zoë 👨\u{200D}👩\u{200D}👧");
    let r = app
        .post(
            "/api/contacts",
            Some(&token),
            json!({"phone_number": bo.phone, "contact_name": "B\u{200E}o\u{202D}b"}),
        )
        .await;
    assert_eq!(r.body["contact"]["name"], "Bob", "{}", r.body);
    // Nothing visible left: refused like an empty name.
    let r = app
        .put(
            "/api/user/profile",
            &token,
            json!({"name": "\u{200B}\u{202E}"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "validation_failed"));
}
