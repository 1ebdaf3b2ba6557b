//! A call's devices: only the device in the call signals; when it drops, another device of
//! the user takes the call back by answering again within the grace, or the call ends. Also:
//! an answer whose write fails changes nothing.

use courier_actors::on_conn;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::{put, start};
use crate::helpers::{phone, spawn_app, TestApp};
use crate::ws::WsClient;

/// Waits until the server has seen sockets close, down to `n` live ones.
async fn sockets_down_to(app: &TestApp, n: usize) {
    for _ in 0..100_000 {
        if app.live_sockets().await == n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("sockets did not close");
}

/// Makes every write that would mark a call answered fail (a trigger), or stop failing.
async fn fail_answers(app: &TestApp, on: bool) {
    let pg = app.settings.database.url.starts_with("postgres");
    let statements: &[&str] = match (pg, on) {
        (false, true) => &["CREATE TRIGGER fail_answer BEFORE UPDATE ON calls WHEN NEW.status = 'answered' BEGIN SELECT RAISE(ABORT, 'refused'); END"],
        (false, false) => &["DROP TRIGGER fail_answer"],
        (true, true) => &[
            "CREATE FUNCTION fail_answer() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_answer BEFORE UPDATE ON calls FOR EACH ROW WHEN (NEW.status = 'answered') EXECUTE FUNCTION fail_answer()",
        ],
        (true, false) => &["DROP TRIGGER fail_answer ON calls", "DROP FUNCTION fail_answer()"],
    };
    let mut conn = app.engine.db.get().await.unwrap();
    for sql in statements {
        on_conn!(&mut conn.conn(), |c| diesel::sql_query(*sql)
            .execute(c)
            .await
            .unwrap());
    }
}

#[actix_web::test]
async fn an_answer_that_could_not_be_stored_leaves_the_call_ringing() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut a = WsClient::connect(&app, &ana.token).await;

    // The answer fails; once writes work again, Bo can answer.
    let call = start(&app, &ana, chat).await;
    fail_answers(&app, true).await;
    let r = put(&app, &bo, call, "answer").await;
    assert_eq!((r.status.as_u16(), r.code()), (503, "unavailable"));
    fail_answers(&app, false).await;
    let r = put(&app, &bo, call, "answer").await;
    assert_eq!(
        (r.status.as_u16(), r.body["call"]["status"].as_str()),
        (200, Some("answered")),
        "{:?}",
        r.body
    );
    assert_eq!(
        put(&app, &ana, call, "end").await.body["call"]["status"],
        "ended"
    );

    // The answer fails and nobody answers again: the call is missed at the ring timeout.
    let call = start(&app, &ana, chat).await;
    fail_answers(&app, true).await;
    assert_eq!(put(&app, &bo, call, "answer").await.status, 503);
    fail_answers(&app, false).await;
    app.advance(45);
    let frames = a.collect_until(|f| f["type"] == "call-missed").await;
    assert_eq!(frames.last().unwrap()["data"]["call"]["id"], call);
    assert!(
        !frames
            .iter()
            .any(|f| f["type"] == "call-answered" && f["data"]["call"]["id"] == call),
        "{frames:?}"
    );
}

#[actix_web::test]
async fn only_the_device_in_the_call_may_signal() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut a1 = WsClient::connect(&app, &ana.token).await;
    let mut a2 = WsClient::connect(&app, &ana.token).await;
    let mut b1 = WsClient::connect(&app, &bo.token).await;
    let mut b2 = WsClient::connect(&app, &bo.token).await;

    let ack = a1
        .request(json!({"type": "call-initiate", "chat_id": chat, "call_type": "audio"}))
        .await;
    let call = ack["call"]["id"].as_i64().unwrap();
    let ack = b2
        .request(json!({"type": "call-answer", "call_id": call}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");

    let signal =
        json!({"type": "call-signal", "call_id": call, "kind": "ice-candidate", "payload": {}});
    for (ws, who) in [
        (&mut b1, "Bo's other device"),
        (&mut a2, "Ana's other device"),
    ] {
        let e = ws.request(signal.clone()).await;
        assert_eq!(e["code"], "not_in_call", "{who}: {e}");
    }
    assert_eq!(b2.request(signal.clone()).await["type"], "ack");
    assert_eq!(a1.next_of("call-signal").await["data"]["from"]["id"], bo.id);
    assert_eq!(a1.request(signal).await["type"], "ack");
    assert_eq!(
        b2.next_of("call-signal").await["data"]["from"]["id"],
        ana.id
    );
}

#[actix_web::test]
async fn a_dropped_device_ends_the_call_unless_another_device_answers_within_the_grace() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut a = WsClient::connect(&app, &ana.token).await;
    let b1 = WsClient::connect(&app, &bo.token).await;
    let mut b2 = WsClient::connect(&app, &bo.token).await;
    let mut b1 = Some(b1);

    // Bo's device in the call drops; his other device answers again and takes the call.
    let ack = a
        .request(json!({"type": "call-initiate", "chat_id": chat, "call_type": "video"}))
        .await;
    let call = ack["call"]["id"].as_i64().unwrap();
    let ws = b1.as_mut().unwrap();
    assert_eq!(
        ws.request(json!({"type": "call-answer", "call_id": call}))
            .await["type"],
        "ack"
    );
    drop(b1.take());
    sockets_down_to(&app, 2).await;
    app.advance(5);
    let ack = b2
        .request(json!({"type": "call-answer", "call_id": call}))
        .await;
    assert_eq!(
        (ack["type"].as_str(), ack["call"]["status"].as_str()),
        (Some("ack"), Some("answered")),
        "{ack}"
    );
    a.request(
        json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {"n": 1}}),
    )
    .await;
    assert_eq!(b2.next_of("call-signal").await["data"]["payload"]["n"], 1);
    app.advance(10);
    b2.request(json!({"type": "ping"})).await;
    let ack = a
        .request(json!({"type": "call-end", "call_id": call}))
        .await;
    assert_eq!(
        (
            ack["call"]["status"].as_str(),
            ack["call"]["duration"].as_i64()
        ),
        (Some("ended"), Some(15)),
        "the call went on past the grace: {ack}"
    );

    // Now Bo's device in the call drops while another one stays open: after the grace, the
    // call ends.
    let mut b3 = WsClient::connect(&app, &bo.token).await;
    let ack = a
        .request(json!({"type": "call-initiate", "chat_id": chat, "call_type": "video"}))
        .await;
    let call = ack["call"]["id"].as_i64().unwrap();
    assert_eq!(
        b2.request(json!({"type": "call-answer", "call_id": call}))
            .await["type"],
        "ack"
    );
    drop(b2);
    sockets_down_to(&app, 2).await;
    // Through the call: its actor has seen the socket go.
    a.request(json!({"type": "call-signal", "call_id": call, "kind": "offer", "payload": {}}))
        .await;
    app.advance(10);
    let mut ended = a.next_of("call-ended").await;
    while ended["data"]["call"]["id"] != call {
        ended = a.next_of("call-ended").await;
    }
    assert_eq!(
        (
            ended["data"]["call"]["id"].as_i64(),
            ended["data"]["ended_by"]["id"].as_i64()
        ),
        (Some(call), Some(bo.id))
    );
    let mut ended = b3.next_of("call-ended").await;
    while ended["data"]["call"]["id"] != call {
        ended = b3.next_of("call-ended").await;
    }
    let e = b3
        .request(json!({"type": "call-answer", "call_id": call}))
        .await;
    assert_eq!(e["code"], "call_ended");
}
