//! `/metrics`: served on its own listener, and its counters follow what the server does.

use serde_json::json;

use crate::helpers::{phone, spawn_app, spawn_app_with, TestApp};
use crate::ws::WsClient;

/// Scrapes the metrics and answers the value of the sample named exactly `series`
/// (`name{labels}`), if there is one.
async fn sample(app: &TestApp, series: &str) -> Option<f64> {
    let url = app.metrics_address.as_deref().expect("metrics are on");
    let res = app.client.get(url).send().await.expect("metrics answer");
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = res.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "a complete exposition");
    text.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

#[actix_web::test]
async fn counters_follow_sockets_messages_requests_and_refusals() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    assert_eq!(
        sample(&app, "courier_messages_stored_total").await,
        Some(0.0)
    );

    let mut a = WsClient::connect(&app, &ana.token).await;
    let mut b = WsClient::connect(&app, &bo.token).await;
    for n in 0..3 {
        let ack = a.send_text(chat, "hi", &format!("m-{n}")).await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    // A resent message is a duplicate, not a new one.
    a.send_text(chat, "hi", "m-0").await;
    b.next_of("new-message").await;
    assert_eq!(
        sample(&app, "courier_messages_stored_total").await,
        Some(3.0)
    );
    let open = "courier_sockets_open{protocol=\"native\"}";
    assert_eq!(sample(&app, open).await, Some(2.0));
    assert_eq!(sample(&app, "courier_rooms_live").await, Some(1.0));

    a.close().await;
    let closed = "courier_socket_closes_total{protocol=\"native\",code=\"1000\"}";
    // The close is counted when the session has stopped; wait for that, not for a time.
    let mut seen = None;
    for _ in 0..200 {
        seen = sample(&app, closed).await;
        if seen == Some(1.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(seen, Some(1.0));
    assert_eq!(sample(&app, open).await, Some(1.0));

    // Requests count under their route pattern, never the raw path.
    let verify = "courier_http_requests_total{method=\"POST\",route=\"/api/auth/verify-otp\",status=\"200\"}";
    assert_eq!(sample(&app, verify).await, Some(2.0));
    app.get(&format!("/api/chats/{chat}/messages"), &ana.token)
        .await;
    app.get("/api/chats/999999/messages", &ana.token).await;
    let history = "courier_http_requests_total{method=\"GET\",route=\"/api/chats/{id}/messages\",status=\"200\"}";
    assert_eq!(sample(&app, history).await, Some(1.0));
    let missing = "courier_http_requests_total{method=\"GET\",route=\"/api/chats/{id}/messages\",status=\"404\"}";
    assert_eq!(sample(&app, missing).await, Some(1.0));
    let buckets = "courier_http_request_seconds_count{route=\"/api/chats/{id}/messages\"}";
    assert_eq!(sample(&app, buckets).await, Some(2.0));

    // Writer batches and their latency are observed.
    let batches = sample(&app, "courier_writer_batch_commands_count").await;
    assert!(batches.is_some_and(|n| n >= 1.0), "{batches:?}");
    drop(b);
}

#[actix_web::test]
async fn refusals_by_a_rate_limit_are_counted_by_limit() {
    let app = spawn_app_with(|s| s.limits.otp_per_phone_per_minute = 1).await;
    let body = json!({"phone_number": phone(9)});
    assert_eq!(
        app.post("/api/auth/send-otp", None, body.clone())
            .await
            .status,
        200
    );
    assert_eq!(app.post("/api/auth/send-otp", None, body).await.status, 429);
    let series = "courier_rate_limited_total{limit=\"otp-send\"}";
    assert_eq!(sample(&app, series).await, Some(1.0));
}

#[actix_web::test]
async fn no_metrics_listener_when_its_address_is_empty() {
    let app = spawn_app_with(|s| s.metrics.bind = String::new()).await;
    assert!(app.metrics_address.is_none());
    // The API does not serve them either.
    let res = app.get("/metrics", "").await;
    assert_eq!(res.status, 404);
}
