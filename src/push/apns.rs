//! Apple Push Notification service over HTTP/2: `POST {base}/3/device/{token}`, authorised by
//! a provider token (an ES256 JWT of the team, signed with the `.p8` key), which Apple wants
//! replaced between 20 and 60 minutes after it was made: this client makes one every 50.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::fcm::cut;
use super::{Device, Note, Outcome};
use crate::config::ApnsSettings;

/// A provider token is replaced after this many seconds.
const TOKEN_LIFE_SECS: u64 = 50 * 60;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: u64,
}

pub struct Apns {
    client: reqwest::Client,
    base_url: String,
    key_id: String,
    team_id: String,
    topic: String,
    key: EncodingKey,
    /// The provider token and when (Unix seconds) it was made.
    token: Mutex<Option<(String, u64)>>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Apns {
    pub fn new(s: &ApnsSettings, timeout: Duration) -> anyhow::Result<Apns> {
        let pem = std::fs::read(&s.key_file)
            .with_context(|| format!("push.apns.key_file {}", s.key_file))?;
        let key = EncodingKey::from_ec_pem(&pem)
            .context("push.apns.key_file is not a .p8 (EC P-256) key")?;
        // APNs speaks HTTP/2 only.
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(timeout)
            .build()
            .context("APNs HTTP/2 client")?;
        Ok(Apns {
            client,
            base_url: s.base_url.trim_end_matches('/').to_string(),
            key_id: s.key_id.clone(),
            team_id: s.team_id.clone(),
            topic: s.topic.clone(),
            key,
            token: Mutex::new(None),
        })
    }

    async fn provider_token(&self, fresh: bool) -> Result<String, Outcome> {
        let mut kept = self.token.lock().await;
        let now = unix_now();
        if let (false, Some((token, made))) = (fresh, kept.as_ref()) {
            if now < made + TOKEN_LIFE_SECS {
                return Ok(token.clone());
            }
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            iss: &self.team_id,
            iat: now,
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Outcome::Drop(format!("cannot sign the provider token: {e}")))?;
        *kept = Some((token.clone(), now));
        Ok(token)
    }

    pub async fn send(&self, device: &Device, note: &Note) -> Outcome {
        if device.token.is_empty() || !device.token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Outcome::Dead;
        }
        let mut body = json!({
            "aps": {
                "alert": { "title": note.title, "body": note.body },
                "sound": "default",
                "thread-id": format!("chat-{}", note.chat_id),
                "mutable-content": 1,
            },
        });
        for (k, v) in note.data() {
            body[k] = v;
        }
        let url = format!("{}/3/device/{}", self.base_url, device.token);
        let expiration = note.expires_at.and_utc().timestamp().max(0).to_string();
        for fresh in [false, true] {
            let token = match self.provider_token(fresh).await {
                Ok(t) => t,
                Err(outcome) => return outcome,
            };
            let res = self
                .client
                .post(&url)
                .header("authorization", format!("bearer {token}"))
                .header("apns-topic", &self.topic)
                .header("apns-push-type", "alert")
                .header("apns-priority", if note.high_priority { "10" } else { "5" })
                .header("apns-expiration", &expiration)
                .header("apns-collapse-id", &note.collapse_key)
                .json(&body)
                .send()
                .await;
            let res = match res {
                Ok(r) => r,
                Err(e) => return Outcome::Retry(e.to_string()),
            };
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            if status == 200 {
                return Outcome::Sent;
            }
            if status == 403 && text.contains("ExpiredProviderToken") && !fresh {
                continue;
            }
            return match status {
                410 => Outcome::Dead,
                400 if text.contains("BadDeviceToken") => Outcome::Dead,
                429 | 500..=599 => Outcome::Retry(format!("APNs answered {status}")),
                _ => Outcome::Drop(format!("APNs answered {status}: {}", cut(&text))),
            };
        }
        Outcome::Retry("APNs refused a fresh provider token".into())
    }
}
