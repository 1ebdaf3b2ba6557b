//! Firebase Cloud Messaging, HTTP v1: `POST {base}/v1/projects/{project}/messages:send` with
//! an OAuth2 access token, which a service account gets by signing a JWT (RS256) for the
//! token endpoint. The token is kept until five minutes before it expires, then replaced.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Mutex;

use super::{Device, Note, Outcome};
use crate::config::FcmSettings;

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// A token is replaced this long before it expires.
const REFRESH_MARGIN_SECS: u64 = 300;

/// The fields of a service account key file this client uses.
#[derive(Deserialize)]
struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key: String,
    token_uri: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

pub struct Fcm {
    client: reqwest::Client,
    send_url: String,
    account: ServiceAccount,
    key: EncodingKey,
    /// The access token and when (Unix seconds) to replace it.
    token: Mutex<Option<(String, u64)>>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Fcm {
    pub fn new(s: &FcmSettings, client: reqwest::Client) -> anyhow::Result<Fcm> {
        let text = std::fs::read_to_string(&s.credentials_file)
            .with_context(|| format!("push.fcm.credentials_file {}", s.credentials_file))?;
        let account: ServiceAccount = serde_json::from_str(&text)
            .context("push.fcm.credentials_file is not a service account key")?;
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .context("push.fcm.credentials_file: private_key is not an RSA key")?;
        Ok(Fcm {
            client,
            send_url: format!(
                "{}/v1/projects/{}/messages:send",
                s.base_url.trim_end_matches('/'),
                account.project_id
            ),
            account,
            key,
            token: Mutex::new(None),
        })
    }

    /// A valid access token: the kept one, or a new one from the token endpoint.
    async fn access_token(&self, fresh: bool) -> Result<String, Outcome> {
        let mut kept = self.token.lock().await;
        let now = unix_now();
        if let (false, Some((token, until))) = (fresh, kept.as_ref()) {
            if now < *until {
                return Ok(token.clone());
            }
        }
        let claims = Claims {
            iss: &self.account.client_email,
            scope: SCOPE,
            aud: &self.account.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| Outcome::Drop(format!("cannot sign the token request: {e}")))?;
        let res = self
            .client
            .post(&self.account.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| Outcome::Retry(format!("token endpoint: {e}")))?;
        if !res.status().is_success() {
            return Err(Outcome::Retry(format!(
                "token endpoint answered {}",
                res.status()
            )));
        }
        let answer: TokenAnswer = res
            .json()
            .await
            .map_err(|e| Outcome::Retry(format!("token endpoint: {e}")))?;
        let until = now + answer.expires_in.saturating_sub(REFRESH_MARGIN_SECS);
        *kept = Some((answer.access_token.clone(), until));
        Ok(answer.access_token)
    }

    pub async fn send(&self, device: &Device, note: &Note) -> Outcome {
        let mut android = json!({
            "priority": if note.high_priority { "high" } else { "normal" },
            "ttl": format!("{}s", note.ttl_secs),
            "collapse_key": note.collapse_key,
        });
        if note.kind == "message" {
            android["notification"] = json!({ "tag": note.collapse_key });
        }
        let body = json!({
            "message": {
                "token": device.token,
                "data": note.data(),
                "notification": { "title": note.title, "body": note.body },
                "android": android,
            }
        });
        // A token refused as expired is replaced once, then the push is tried again.
        for fresh in [false, true] {
            let token = match self.access_token(fresh).await {
                Ok(t) => t,
                Err(outcome) => return outcome,
            };
            let res = match self
                .client
                .post(&self.send_url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => return Outcome::Retry(e.to_string()),
            };
            let status = res.status().as_u16();
            if status == 200 {
                return Outcome::Sent;
            }
            if status == 401 && !fresh {
                continue;
            }
            let text = res.text().await.unwrap_or_default();
            return match status {
                404 => Outcome::Dead,
                _ if text.contains("UNREGISTERED") => Outcome::Dead,
                429 | 500..=599 => Outcome::Retry(format!("FCM answered {status}")),
                _ => Outcome::Drop(format!("FCM answered {status}: {}", cut(&text))),
            };
        }
        Outcome::Retry("FCM refused a fresh access token".into())
    }
}

/// The start of a provider's answer, for a log line.
pub(super) fn cut(s: &str) -> String {
    s.chars().take(200).collect()
}
