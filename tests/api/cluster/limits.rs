//! Rate limits with requests spread over the nodes: they count together, whichever node each
//! request reaches.

use serde_json::json;

use super::Nodes;
use crate::helpers::phone;
use crate::ws::WsClient;

#[actix_web::test]
async fn messages_and_codes_count_on_every_node_together() {
    let extra = [
        ("COURIER__LIMITS__MESSAGES_PER_MINUTE", "4"),
        ("COURIER__LIMITS__OTP_PER_IP_PER_MINUTE", "100"),
    ];
    let Some(c) = Nodes::start_with(2, &extra).await else {
        return;
    };
    let ana = c.signup(0, &phone(1), "Ana").await;
    let bo = c.signup(1, &phone(2), "Bo").await;
    let chat = c.private_chat(0, &ana, &bo).await;
    let mut on_1 = WsClient::connect_to(&c.address(0), &ana.token).await;
    let mut on_2 = WsClient::connect_to(&c.address(1), &ana.token).await;

    // Four messages a minute, one through each way in: REST and socket, node 1 and node 2.
    assert_eq!(c.send_text(0, &ana, chat, "1").await.status, 201);
    assert_eq!(c.send_text(1, &ana, chat, "2").await.status, 201);
    assert_eq!(on_1.send_text(chat, "3", "c-3").await["type"], "ack");
    assert_eq!(on_2.send_text(chat, "4", "c-4").await["type"], "ack");
    // The fifth is refused wherever it goes, and nothing is stored.
    for i in 0..2 {
        let r = c.send_text(i, &ana, chat, "5").await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (429, "rate_limited"),
            "{:?}",
            r.body
        );
    }
    let refused = on_2.send_text(chat, "5", "c-5").await;
    assert_eq!(
        (&refused["type"], &refused["code"]),
        (&json!("error"), &json!("rate_limited")),
        "{refused}"
    );
    assert!(refused["retry_after"].as_u64().unwrap() > 0);
    let history = c
        .get(1, &format!("/api/chats/{chat}/messages"), Some(&bo.token))
        .await;
    let count = history.body["messages"].as_array().map_or(0, Vec::len);
    assert_eq!(count, 4, "{:?}", history.body);

    // One-time codes for one number: five a minute, over both nodes together.
    let number = phone(3);
    let send = |i: usize| {
        let number = number.clone();
        let c = &c;
        async move {
            c.request(
                i,
                reqwest::Method::POST,
                "/api/auth/send-otp",
                None,
                Some(json!({ "phone_number": number })),
            )
            .await
        }
    };
    for i in 0..5 {
        assert_eq!(send(i % 2).await.status, 200, "code {i}");
    }
    assert_eq!(send(0).await.status, 429);
    assert_eq!(send(1).await.status, 429);
}
