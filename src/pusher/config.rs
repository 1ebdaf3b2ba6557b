//! The `[pusher]` configuration section: the Pusher app Courier serves (`app_id`, `app_key`,
//! `app_secret`) and the protocol's limits. The protocol is off until `app_key` is set; an
//! empty `app_secret` is generated once into `<data_dir>/pusher_app_secret`.

use std::path::Path;
use std::time::Duration;

use courier_actors::pusher::PusherApp;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PusherSettings {
    /// The app id (the HTTP events API's `/apps/{app_id}`).
    pub app_id: String,
    /// The key clients connect with (`/app/{key}`). Empty: the Pusher protocol is off.
    pub app_key: String,
    /// Channel authorizations are signed with it. Empty: generated and kept in `data_dir`.
    pub app_secret: crate::config::Secret,
    /// Seconds of silence after which a socket is pinged (sent to clients as
    /// `activity_timeout`).
    pub activity_timeout_secs: u64,
    /// Seconds a pinged socket has to answer before it is closed (4201).
    pub pong_timeout_secs: u64,
    /// Channels one socket may subscribe to.
    pub max_channels_per_socket: usize,
    /// Client events (`client-…`) one socket may send per minute (beyond: error 4301).
    pub client_events_per_minute: u32,
    /// Frames of any kind one socket may send per minute (beyond: error 4100, closed).
    pub frames_per_minute: u32,
    /// Largest client event `data`, in bytes of JSON.
    pub max_event_bytes: usize,
    /// Pusher connects one client address may make per minute (more: HTTP 429).
    pub connects_per_ip_per_minute: u32,
}

impl Default for PusherSettings {
    fn default() -> Self {
        let app = PusherApp::default();
        PusherSettings {
            app_id: app.app_id,
            app_key: String::new(),
            app_secret: Default::default(),
            activity_timeout_secs: app.activity_timeout.as_secs(),
            pong_timeout_secs: app.pong_timeout.as_secs(),
            max_channels_per_socket: app.max_channels,
            client_events_per_minute: app.client_events_per_minute,
            frames_per_minute: app.frames_per_minute,
            max_event_bytes: app.max_event_bytes,
            connects_per_ip_per_minute: 300,
        }
    }
}

fn token_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl PusherSettings {
    pub fn enabled(&self) -> bool {
        !self.app_key.is_empty()
    }

    /// Refuses values the protocol cannot work with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |m: &str| Err(ConfigError(m.to_string()));
        if !self.enabled() {
            return Ok(());
        }
        if !token_like(&self.app_key) || !token_like(&self.app_id) {
            return fail("pusher.app_key and pusher.app_id must be 1 to 64 of A-Z a-z 0-9 - _");
        }
        if !self.app_secret.is_empty() && self.app_secret.len() < 16 {
            return fail("pusher.app_secret must be at least 16 characters (or empty: generated)");
        }
        if !(10..=3600).contains(&self.activity_timeout_secs)
            || !(5..=600).contains(&self.pong_timeout_secs)
        {
            return fail("pusher.activity_timeout_secs must be 10 to 3600 and pusher.pong_timeout_secs 5 to 600");
        }
        if self.max_channels_per_socket == 0
            || self.client_events_per_minute == 0
            || self.frames_per_minute == 0
            || self.connects_per_ip_per_minute == 0
            || self.max_event_bytes < 256
        {
            return fail(
                "pusher: the per-socket limits must be positive (max_event_bytes at least 256)",
            );
        }
        Ok(())
    }

    /// The engine's view, with the secret read or generated.
    pub fn app(&self, data_dir: &Path) -> Result<PusherApp, ConfigError> {
        let secret =
            crate::secrets::configured_or_file(data_dir, "pusher_app_secret", &self.app_secret)?;
        Ok(PusherApp {
            app_id: self.app_id.clone(),
            key: self.app_key.clone(),
            secret,
            activity_timeout: Duration::from_secs(self.activity_timeout_secs),
            pong_timeout: Duration::from_secs(self.pong_timeout_secs),
            max_channels: self.max_channels_per_socket,
            client_events_per_minute: self.client_events_per_minute,
            frames_per_minute: self.frames_per_minute,
            max_event_bytes: self.max_event_bytes,
        })
    }
}
