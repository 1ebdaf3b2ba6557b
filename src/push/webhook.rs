//! A signed webhook: the operator's own service gets each push as JSON and delivers it. The
//! target's token is an id that service knows the device by (never a URL: a client cannot
//! make the server call an address of its choosing). Each request is signed:
//! `X-Courier-Signature: sha256={hex HMAC-SHA256 of "{timestamp}.{body}"}` with
//! `X-Courier-Timestamp` (Unix seconds), so the receiver can refuse forgeries and replays.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::fcm::cut;
use super::{Device, Note, Outcome};
use crate::config::WebhookSettings;

pub struct Webhook {
    client: reqwest::Client,
    url: String,
    secret: Vec<u8>,
}

/// The signature header's value for `body` sent at `timestamp`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // unwrap: HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

impl Webhook {
    pub fn new(s: &WebhookSettings, client: reqwest::Client) -> Webhook {
        Webhook {
            client,
            url: s.url.clone(),
            secret: s.secret.as_bytes().to_vec(),
        }
    }

    pub async fn send(&self, device: &Device, note: &Note) -> Outcome {
        let mut payload = json!({
            "target": device.token,
            "priority": if note.high_priority { "high" } else { "normal" },
            "collapse_key": note.collapse_key,
            "expires_at": note.expires_at.and_utc(),
            "title": note.title,
            "body": note.body,
        });
        for (k, v) in note.data() {
            payload[k] = v;
        }
        let body = payload.to_string();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let res = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-courier-timestamp", timestamp.to_string())
            .header(
                "x-courier-signature",
                signature(&self.secret, timestamp, body.as_bytes()),
            )
            .body(body)
            .send()
            .await;
        let res = match res {
            Ok(r) => r,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let status = res.status().as_u16();
        match status {
            200..=299 => Outcome::Sent,
            404 | 410 => Outcome::Dead,
            408 | 429 | 500..=599 => Outcome::Retry(format!("webhook answered {status}")),
            _ => {
                let text = res.text().await.unwrap_or_default();
                Outcome::Drop(format!("webhook answered {status}: {}", cut(&text)))
            }
        }
    }
}
