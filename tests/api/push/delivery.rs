//! Each provider gets what it expects: auth, payload, collapse key, priority.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::{PushRig, APNS_TOPIC, WEBHOOK_SECRET};

const APNS_TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

#[actix_web::test]
async fn each_provider_gets_a_push_it_accepts_and_no_message_text() {
    let rig = PushRig::start(false).await;
    let app = &rig.app;
    let ana = app.signup(&crate::helpers::phone(1), "Ana").await;
    let bo = rig.user_on(2, "Bo", "fcm", "fcm-token-of-bo").await;
    let cy = rig.user_on(3, "Cy", "apns", APNS_TOKEN).await;
    let (di, browser) = rig.browser_user(4, "Di").await;
    let ed = rig.user_on(5, "Ed", "webhook", "ed-phone-7").await;
    let mut chats = Vec::new();
    for user in [&bo, &cy, &di, &ed] {
        let chat = app.private_chat(&ana, user).await;
        let m = app.send_text(&ana, chat, "secret plans").await;
        chats.push((chat, m["id"].as_i64().unwrap()));
    }
    assert_eq!(rig.pending().await, 4);
    let round = rig.dispatch().await;
    assert_eq!((round.sent, round.failed, round.dropped), (4, 0, 0));
    assert_eq!(rig.pending().await, 0);

    // FCM: a service-account JWT for the token endpoint, then the v1 send with that token.
    let seen = rig.fcm.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&seen[0].body).unwrap();
    let form: std::collections::HashMap<_, _> = form.into_iter().collect();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[format!("{}/token", rig.fcm.url)]);
    let key = DecodingKey::from_rsa_pem(include_bytes!("fcm-test-key.pub.pem")).unwrap();
    let claims = decode::<Value>(&form["assertion"], &key, &v)
        .expect("a valid RS256 assertion")
        .claims;
    assert_eq!(claims["iss"], "push@courier-test.iam.gserviceaccount.com");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    let send = &seen[1];
    assert_eq!(send.path, "/v1/projects/courier-test/messages:send");
    assert_eq!(send.header("authorization"), "Bearer access-1");
    let m = &send.json()["message"];
    assert_eq!(m["token"], "fcm-token-of-bo");
    assert_eq!(m["data"]["type"], "message");
    assert_eq!(m["data"]["chat_id"], chats[0].0.to_string());
    assert_eq!(m["data"]["message_id"], chats[0].1.to_string());
    assert_eq!(m["android"]["collapse_key"], format!("chat-{}", chats[0].0));
    assert_eq!(m["android"]["priority"], "normal");
    assert_eq!(m["notification"]["title"], "New message");

    // APNs: HTTP/2, an ES256 provider token of the team and key, the app's topic.
    let seen = rig.apns.pushes();
    assert_eq!(seen.len(), 1);
    let p = &seen[0];
    assert!(p.http2, "APNs is spoken over HTTP/2");
    assert_eq!(p.path, format!("/3/device/{APNS_TOKEN}"));
    assert_eq!(p.header("apns-topic"), APNS_TOPIC);
    assert_eq!(p.header("apns-push-type"), "alert");
    assert_eq!(p.header("apns-priority"), "5");
    assert_eq!(p.header("apns-collapse-id"), format!("chat-{}", chats[1].0));
    let jwt = p.header("authorization").strip_prefix("bearer ").unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(
        (header.alg, header.kid.as_deref()),
        (Algorithm::ES256, Some("KEY123"))
    );
    let mut v = Validation::new(Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    let key = DecodingKey::from_ec_pem(rig.apns_public_pem.as_bytes()).unwrap();
    assert_eq!(
        decode::<Value>(jwt, &key, &v).unwrap().claims["iss"],
        "TEAM456"
    );
    let body = p.json();
    assert_eq!(body["message_id"], chats[1].1.to_string());
    assert_eq!(body["aps"]["alert"]["title"], "New message");

    // Web Push: VAPID for the service's origin, and a payload only the browser can read.
    let seen = rig.webpush.pushes();
    assert_eq!(seen.len(), 1);
    let p = &seen[0];
    assert_eq!(p.path, "/push/Di");
    assert_eq!(p.header("content-encoding"), "aes128gcm");
    assert_eq!(p.header("urgency"), "normal");
    assert_eq!(p.header("topic"), format!("chat-{}", chats[2].0));
    assert!(p.header("ttl").parse::<i64>().unwrap() > 0);
    let auth = p.header("authorization").strip_prefix("vapid ").unwrap();
    let (t, k) = auth.split_once(", ").unwrap();
    let (t, k) = (t.strip_prefix("t=").unwrap(), k.strip_prefix("k=").unwrap());
    let info = app.get("/api/devices", &di.token).await;
    assert_eq!(info.body["vapid_public_key"], k);
    let point =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, k).unwrap();
    let b64 =
        |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    let key = DecodingKey::from_ec_components(&b64(&point[1..33]), &b64(&point[33..65])).unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(std::slice::from_ref(&rig.webpush.url));
    let claims = decode::<Value>(t, &key, &v)
        .expect("a valid VAPID token")
        .claims;
    assert_eq!(claims["sub"], "mailto:ops@courier.test");
    let payload = browser.decrypt(&p.body);
    assert_eq!(payload["chat_id"], chats[2].0.to_string());
    assert_eq!(payload["message_id"], chats[2].1.to_string());

    // The webhook: signed, with the device's id.
    let seen = rig.webhook.pushes();
    assert_eq!(seen.len(), 1);
    let p = &seen[0];
    assert_eq!(p.path, "/hook");
    let ts: u64 = p.header("x-courier-timestamp").parse().unwrap();
    assert_eq!(
        p.header("x-courier-signature"),
        courier::push::webhook::signature(WEBHOOK_SECRET.as_bytes(), ts, &p.body)
    );
    let body = p.json();
    assert_eq!(body["target"], "ed-phone-7");
    assert_eq!(body["chat_id"], chats[3].0.to_string());
    assert_eq!(body["collapse_key"], format!("chat-{}", chats[3].0));

    // Previews are off: the text went nowhere.
    for p in [&rig.fcm, &rig.apns, &rig.webhook]
        .iter()
        .flat_map(|p| p.seen())
    {
        assert!(!String::from_utf8_lossy(&p.body).contains("secret plans"));
    }
    assert!(!browser
        .decrypt(&rig.webpush.pushes()[0].body)
        .to_string()
        .contains("secret"));
    let metrics = app.engine.metrics.render();
    for platform in ["fcm", "apns", "webpush", "webhook"] {
        let line = format!("courier_pushes_total{{platform=\"{platform}\",outcome=\"sent\"}} 1");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    // A second round has nothing to do.
    assert_eq!(rig.dispatch().await, courier::push::Round::default());
}

#[actix_web::test]
async fn with_previews_on_the_notification_shows_sender_and_text() {
    let rig = PushRig::start(true).await;
    let app = &rig.app;
    let ana = app.signup(&crate::helpers::phone(1), "Ana").await;
    let bo = rig.user_on(2, "Bo", "fcm", "fcm-bo").await;
    let chat = app.private_chat(&ana, &bo).await;
    app.send_text(&ana, chat, "lunch at noon?").await;
    assert_eq!(rig.dispatch().await.sent, 1);
    let m = &rig.fcm.pushes()[0].json()["message"];
    assert_eq!(m["notification"]["title"], "Ana");
    assert_eq!(m["notification"]["body"], "lunch at noon?");
}
