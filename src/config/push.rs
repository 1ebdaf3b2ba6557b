//! The `[push]` section: which push providers this server speaks to, with their credentials
//! and (for tests and private deployments) their base URLs, and how pushes are sent. A
//! provider left unconfigured is refused when a device registers for it.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushSettings {
    /// How often the dispatcher looks for pushes to send, in milliseconds (50 to 60000); 0:
    /// never on this node.
    pub poll_ms: u64,
    /// Show the sender and the text in notifications. Off: a push carries ids only, and the
    /// app fetches the message itself.
    pub previews: bool,
    /// Tries per push before it is dropped (1 to 20), with a doubling wait between them.
    pub max_attempts: u32,
    /// The first wait after a failure, in seconds (1 to 3600).
    pub retry_after_secs: u64,
    /// How long one request to a provider may take, in milliseconds.
    pub timeout_ms: u64,
    pub fcm: FcmSettings,
    pub apns: ApnsSettings,
    pub webpush: WebPushSettings,
    pub webhook: WebhookSettings,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            poll_ms: 500,
            previews: false,
            max_attempts: 8,
            retry_after_secs: 5,
            timeout_ms: 10_000,
            fcm: FcmSettings::default(),
            apns: ApnsSettings::default(),
            webpush: WebPushSettings::default(),
            webhook: WebhookSettings::default(),
        }
    }
}

/// Firebase Cloud Messaging, HTTP v1 API, with a service account.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FcmSettings {
    /// The service account's JSON key file (as the Firebase console downloads it); empty: FCM
    /// is off.
    pub credentials_file: String,
    pub base_url: String,
}

impl Default for FcmSettings {
    fn default() -> Self {
        FcmSettings {
            credentials_file: String::new(),
            base_url: "https://fcm.googleapis.com".into(),
        }
    }
}

/// Apple Push Notification service, token-based (a `.p8` signing key).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApnsSettings {
    /// The `.p8` key file; empty: APNs is off.
    pub key_file: String,
    pub key_id: String,
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// `https://api.push.apple.com`, or `https://api.sandbox.push.apple.com` for development
    /// builds.
    pub base_url: String,
}

impl Default for ApnsSettings {
    fn default() -> Self {
        ApnsSettings {
            key_file: String::new(),
            key_id: String::new(),
            team_id: String::new(),
            topic: String::new(),
            base_url: "https://api.push.apple.com".into(),
        }
    }
}

/// Web Push with VAPID.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebPushSettings {
    /// The VAPID private key: 32 bytes, base64url (as `web-push generate-vapid-keys` prints
    /// it); empty: Web Push is off.
    pub vapid_private_key: Secret,
    /// A contact for push services: `mailto:…` or `https://…`.
    pub subject: String,
    /// Accept `http://` subscription endpoints (a local push service under test). Off: only
    /// `https://` ones, as browsers hand out.
    pub allow_http_endpoints: bool,
}

/// A signed webhook: the operator's own service receives each push and delivers it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where pushes are POSTed; empty: webhooks are off.
    pub url: String,
    /// Signs each body (`X-Courier-Signature: sha256=…`, HMAC-SHA256 of `{timestamp}.{body}`).
    pub secret: Secret,
}

impl PushSettings {
    /// Refuses intervals out of range and half-configured providers.
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError(format!("push: {m}")));
        if self.poll_ms != 0 && !(50..=60_000).contains(&self.poll_ms) {
            return bad("poll_ms must be 0 (off) or between 50 and 60000");
        }
        if !(1..=20).contains(&self.max_attempts) {
            return bad("max_attempts must be between 1 and 20");
        }
        if !(1..=3600).contains(&self.retry_after_secs) {
            return bad("retry_after_secs must be between 1 and 3600");
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            return bad("timeout_ms must be between 100 and 120000");
        }
        let a = &self.apns;
        if !a.key_file.is_empty()
            && (a.key_id.is_empty() || a.team_id.is_empty() || a.topic.is_empty())
        {
            return bad("apns needs key_id, team_id and topic with key_file");
        }
        let w = &self.webpush;
        let contact = w.subject.starts_with("mailto:") || w.subject.starts_with("https://");
        if !w.vapid_private_key.is_empty() && !contact {
            return bad("webpush.subject must be a mailto: or https:// contact");
        }
        if !self.webhook.url.is_empty() {
            if !(self.webhook.url.starts_with("http://")
                || self.webhook.url.starts_with("https://"))
            {
                return bad("webhook.url must be an http:// or https:// URL");
            }
            if self.webhook.secret.len() < 16 {
                return bad("webhook.secret must be at least 16 characters");
            }
        }
        for (name, url) in [("fcm", &self.fcm.base_url), ("apns", &a.base_url)] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad(&format!(
                    "{name}.base_url must be an http:// or https:// URL"
                ));
            }
        }
        Ok(())
    }
}
