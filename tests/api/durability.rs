//! Acknowledged means durable: what a client was told is stored survives a restart, and a
//! SIGKILL of the real binary.

use serde_json::{json, Value};

use crate::binary::Process;
use crate::helpers::{phone, spawn_app_with, OTP};
use crate::ws::WsClient;

#[actix_web::test]
async fn acknowledged_messages_survive_a_restart() {
    let app = spawn_app_with(|s| s.limits.messages_per_minute = 1000).await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    let mut ws = WsClient::connect(&app, &ana.token).await;
    for i in 0..40 {
        ws.send_json(json!({"type": "send-message", "chat_id": chat, "content": format!("m{i}"), "client_msg_id": format!("k{i}"), "ref": i}))
            .await;
    }
    let mut acked = Vec::new();
    for i in 0..40 {
        let ack = ws.answer_to_number(i).await;
        acked.push(ack["message"]["id"].as_i64().unwrap());
    }
    // Stop right after the last ack.
    let app = app.restart().await;
    let ids: Vec<i64> = app
        .history(&bo, chat)
        .await
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, acked);
    // Resending after the restart still finds the originals.
    let mut ws = WsClient::connect(&app, &ana.token).await;
    let again = ws.send_text(chat, "m0", "k0").await;
    assert_eq!(
        (
            again["duplicate"].as_bool(),
            again["message"]["id"].as_i64()
        ),
        (Some(true), Some(acked[0]))
    );
}

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.unwrap()
}

async fn sign_in(client: &reqwest::Client, server: &Process, phone: &str) -> (i64, String) {
    post(
        client,
        server.url("/api/auth/send-otp"),
        None,
        json!({"phone_number": phone}),
    )
    .await;
    let r = post(
        client,
        server.url("/api/auth/verify-otp"),
        None,
        json!({"phone_number": phone, "otp": OTP}),
    )
    .await;
    (
        r["user"]["id"].as_i64().unwrap(),
        r["tokens"]["access_token"].as_str().unwrap().to_string(),
    )
}

#[actix_web::test]
async fn acknowledged_messages_survive_sigkill() {
    let server = Process::serve(tempfile::tempdir().unwrap());
    let client = reqwest::Client::new();
    let (_, ana) = sign_in(&client, &server, "+14155550101").await;
    let (bo_id, bo) = sign_in(&client, &server, "+14155550102").await;
    let chat = post(
        &client,
        server.url("/api/chats/private"),
        Some(&ana),
        json!({"contact_id": bo_id}),
    )
    .await;
    let chat = chat["id"].as_i64().unwrap();

    // Fifty concurrent sends (group commit at work), each answered 201 = acknowledged.
    let url = server.url(&format!("/api/chats/{chat}/messages"));
    let sends = (0..50).map(|i| {
        let (client, url, ana) = (client.clone(), url.clone(), ana.clone());
        async move {
            let res = client
                .post(url)
                .bearer_auth(ana)
                .json(&json!({"content": format!("m{i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()["message"]["id"]
                .as_i64()
                .unwrap()
        }
    });
    let mut acked = futures_util::future::join_all(sends).await;
    acked.sort();

    // No goodbye: SIGKILL, then a new process on the same data folder.
    let mut server = server;
    server.signal("KILL");
    server.wait(10);
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
    drop(server);
    let server = Process::serve(dir);
    let res = client
        .get(server.url(&format!("/api/chats/{chat}/messages?limit=100")))
        .bearer_auth(&bo)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the restarted server accepts the old token"
    );
    let body: Value = res.json().await.unwrap();
    let mut stored: Vec<i64> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    stored.sort();
    assert_eq!(stored, acked, "every acknowledged message is there");
}
