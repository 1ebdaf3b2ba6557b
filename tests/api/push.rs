//! Push notifications through the real API against local stand-ins for FCM (with its OAuth2
//! token endpoint), APNs (HTTP/2), a Web Push service and a webhook receiver, each request
//! checked as the provider would: auth, payload, collapse key, priority; a Web Push payload
//! decrypted with the subscription's keys. The dispatcher's rounds are run by the test.

mod delivery;
mod providers;
mod rules;

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::json;

use crate::helpers::{phone, spawn_app_with, TestApp, TestUser};
use providers::{Browser, Provider};

pub const WEBHOOK_SECRET: &str = "a-webhook-secret-of-some-length";
const APNS_TOPIC: &str = "app.courier.test";

/// The stand-ins, their keys, and a server configured for all four providers.
pub struct PushRig {
    pub app: TestApp,
    pub fcm: Provider,
    pub apns: Provider,
    pub webpush: Provider,
    pub webhook: Provider,
    /// Verifies the APNs provider token.
    pub apns_public_pem: String,
    _keys: tempfile::TempDir,
}

impl PushRig {
    pub async fn start(previews: bool) -> PushRig {
        let (fcm, apns, webpush, webhook) = (
            Provider::start(false),
            Provider::start(true),
            Provider::start(false),
            Provider::start(false),
        );
        let keys = tempfile::tempdir().unwrap();
        let fcm_file = keys.path().join("service-account.json");
        let account = json!({
            "type": "service_account",
            "project_id": "courier-test",
            "client_email": "push@courier-test.iam.gserviceaccount.com",
            "private_key": include_str!("push/fcm-test-key.pem"),
            "token_uri": format!("{}/token", fcm.url),
        });
        std::fs::write(&fcm_file, account.to_string()).unwrap();
        let apns_key = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let apns_file = keys.path().join("AuthKey_TEST.p8");
        std::fs::write(
            &apns_file,
            apns_key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        let apns_public_pem = apns_key
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let vapid = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let path = |p: &Path| p.display().to_string();
        let (fcm_url, apns_url, hook_url) = (
            fcm.url.clone(),
            apns.url.clone(),
            format!("{}/hook", webhook.url),
        );
        let app = spawn_app_with(move |s| {
            s.push.poll_ms = 0;
            s.push.previews = previews;
            s.push.fcm.credentials_file = path(&fcm_file);
            s.push.fcm.base_url = fcm_url;
            s.push.apns.key_file = path(&apns_file);
            s.push.apns.key_id = "KEY123".into();
            s.push.apns.team_id = "TEAM456".into();
            s.push.apns.topic = APNS_TOPIC.into();
            s.push.apns.base_url = apns_url;
            s.push.webpush.vapid_private_key = URL_SAFE_NO_PAD.encode(vapid.to_bytes()).into();
            s.push.webpush.subject = "mailto:ops@courier.test".into();
            s.push.webpush.allow_http_endpoints = true;
            s.push.webhook.url = hook_url;
            s.push.webhook.secret = WEBHOOK_SECRET.into();
            s.auth.access_ttl_secs = 30 * 86400;
            s.auth.refresh_ttl_secs = 30 * 86400;
            s.realtime.client_timeout_secs = 30 * 86400;
        })
        .await;
        PushRig {
            app,
            fcm,
            apns,
            webpush,
            webhook,
            apns_public_pem,
            _keys: keys,
        }
    }

    /// User `n` signed up, with `platform` registered for its device session (`token`).
    pub async fn user_on(&self, n: u32, name: &str, platform: &str, token: &str) -> TestUser {
        let user = self.app.signup(&phone(n), name).await;
        self.app.open_to_groups(&user).await;
        let r = self
            .app
            .post(
                "/api/devices",
                Some(&user.token),
                json!({ "platform": platform, "token": token }),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        user
    }

    /// User `n` with a browser subscribed on the Web Push stand-in.
    pub async fn browser_user(&self, n: u32, name: &str) -> (TestUser, Browser) {
        let user = self.app.signup(&phone(n), name).await;
        let browser = Browser::new(&self.webpush, name);
        let r = self
            .app
            .post(
                "/api/devices",
                Some(&user.token),
                json!({ "platform": "webpush", "subscription": browser.subscription() }),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        (user, browser)
    }

    /// Runs dispatcher rounds until nothing is due.
    pub async fn dispatch(&self) -> courier::push::Round {
        self.app.push.round().await.expect("a push round")
    }

    /// Pushes still queued.
    pub async fn pending(&self) -> i64 {
        let mut conn = self.app.engine.db.get().await.unwrap();
        courier_actors::store::push::pending(&mut conn.conn())
            .await
            .unwrap()
    }
}
