//! Configuration: `config.toml` defaults, overridden by `COURIER__SECTION__KEY` environment
//! variables, checked before anything starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use courier_actors::store::Backend;
use serde::Deserialize;

/// Everything the server can be told. Every field has a default that runs with nothing
/// installed; `config.toml` documents each one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub sms: SmsSettings,
    pub limits: LimitSettings,
    pub realtime: RealtimeSettings,
    pub calls: CallSettings,
    pub media: MediaSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub bind: String,
    /// Folder for the SQLite file, generated secrets and local media.
    pub data_dir: PathBuf,
    /// Largest JSON request body accepted, in bytes (larger: 413).
    pub json_limit_bytes: usize,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Seconds to let in-flight requests finish on SIGINT/SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Headers must arrive within this many ms of the connection (else 408, closed).
    pub header_timeout_ms: u64,
    /// A JSON body must arrive within this many ms of its headers (else 408).
    pub body_timeout_ms: u64,
    /// An API request (not an upload, not `/ws`) is answered within this many ms (else 503).
    pub request_timeout_ms: u64,
    /// Seconds an idle keep-alive connection stays open (0: one request per connection).
    pub keep_alive_secs: u64,
    /// Connections (HTTP and WebSocket) one client address may hold (else 429); 0: no cap.
    pub max_connections_per_ip: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            json_limit_bytes: 64 * 1024,
            trust_forwarded_for: false,
            workers: 0,
            shutdown_timeout_secs: 10,
            header_timeout_ms: 5_000,
            body_timeout_ms: 10_000,
            request_timeout_ms: 20_000,
            keep_alive_secs: 5,
            max_connections_per_ip: 256,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://<file>` (embedded) or `postgres://user:pass@host/db`.
    pub url: String,
    /// Connections in the read pool (the writer uses one of them per commit).
    pub pool_size: usize,
    /// Longest wait for the database in ms (connection, statement, write batch; else 503).
    pub timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://data/courier.db".into(),
            pool_size: 8,
            timeout_ms: 2_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC key for tokens. Empty: generated on first start and kept in `data_dir`.
    pub jwt_secret: String,
    /// HMAC key for phone-number lookups. Empty: generated and kept in `data_dir`.
    pub phone_hash_key: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub otp_ttl_secs: u64,
    /// Wrong tries before a code is burned.
    pub otp_max_attempts: u32,
    /// Tests and demos only: every code is this value. Refused with a real SMS provider.
    pub fixed_otp: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: String::new(),
            phone_hash_key: String::new(),
            access_ttl_secs: 3600,
            refresh_ttl_secs: 14 * 24 * 3600,
            otp_ttl_secs: 300,
            otp_max_attempts: 5,
            fixed_otp: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSettings {
    /// `console` (codes written to the log) or `twilio`.
    pub provider: String,
    pub twilio_account_sid: String,
    pub twilio_auth_token: String,
    /// Sender number (E.164) or messaging service SID.
    pub twilio_from: String,
    pub twilio_api_base: String,
    pub timeout_secs: u64,
}

impl Default for SmsSettings {
    fn default() -> Self {
        SmsSettings {
            provider: "console".into(),
            twilio_account_sid: String::new(),
            twilio_auth_token: String::new(),
            twilio_from: String::new(),
            twilio_api_base: "https://api.twilio.com".into(),
            timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// send-otp and verify-otp, each: requests per minute per phone number.
    pub otp_per_phone_per_minute: u32,
    /// send-otp and verify-otp, each: requests per minute per client address.
    pub otp_per_ip_per_minute: u32,
    /// Token refreshes per minute per device session.
    pub refresh_per_minute: u32,
    /// Token refreshes per minute per client address (every session behind it together).
    pub refresh_per_ip_per_minute: u32,
    /// Messages a user may send per minute (REST and WebSocket together).
    pub messages_per_minute: u32,
    /// Most members a group may have, its creator included.
    pub max_group_size: usize,
    /// Groups a user may create per hour.
    pub groups_per_hour: u32,
    /// Users a user may add to groups or invite to them per hour (at creation and later).
    pub group_adds_per_hour: u32,
    /// A group invite not answered within this many seconds expires.
    pub group_invite_ttl_secs: u64,
    /// Profiles (`GET /api/users/{id}`) a user may look up per minute.
    pub profile_lookups_per_minute: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            otp_per_phone_per_minute: 5,
            otp_per_ip_per_minute: 5,
            refresh_per_minute: 5,
            refresh_per_ip_per_minute: 60,
            messages_per_minute: 60,
            max_group_size: 1024,
            groups_per_hour: 20,
            group_adds_per_hour: 200,
            group_invite_ttl_secs: 72 * 3600,
            profile_lookups_per_minute: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeSettings {
    /// Seconds between server pings.
    pub heartbeat_secs: u64,
    /// A socket silent this long is closed.
    pub client_timeout_secs: u64,
    /// Events queued for one slow socket before it is disconnected.
    pub outbound_queue: usize,
    /// Largest client frame, in bytes (larger: `error` frame).
    pub max_frame_bytes: usize,
    /// A typing indicator without refresh stops after this many seconds.
    pub typing_ttl_secs: u64,
    /// An idle chat room actor stops after this many seconds.
    pub room_idle_secs: u64,
    /// At most one typing event per typist and chat in this many seconds.
    pub typing_interval_secs: u64,
    /// Frames of one socket read and not yet answered; the socket is not read beyond this.
    pub max_frames_in_flight: usize,
    /// Sockets one user may hold open at once (more: 429 `too_many_sockets`).
    pub max_sockets_per_user: usize,
    /// WebSocket connects per user per minute (more: 429 `rate_limited`).
    pub connects_per_minute: u32,
    /// Frames each connection may send per minute, by kind.
    pub frames_per_minute: FramesPerMinute,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        let engine = courier_actors::Realtime::default();
        RealtimeSettings {
            heartbeat_secs: 20,
            client_timeout_secs: 60,
            outbound_queue: 256,
            max_frame_bytes: 64 * 1024,
            typing_ttl_secs: 6,
            room_idle_secs: 300,
            typing_interval_secs: engine.typing_interval.as_secs(),
            max_frames_in_flight: engine.max_frames_in_flight,
            max_sockets_per_user: engine.max_sockets_per_user,
            connects_per_minute: 30,
            frames_per_minute: FramesPerMinute::default(),
        }
    }
}

/// Per-connection frame allowances, per minute (`[realtime.frames_per_minute]`). A socket may
/// send a quarter of a minute's allowance at once; beyond its allowance a frame is answered
/// with `rate_limited`, and a socket refused more than `refused` times a minute is closed.
/// `send-message` is limited per user instead (`limits.messages_per_minute`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FramesPerMinute {
    pub typing: u32,
    pub read: u32,
    pub delivered: u32,
    pub sync: u32,
    pub ping: u32,
    /// `call-initiate`, `call-ringing`, `call-answer`, `call-decline`, `call-end` together.
    pub call: u32,
    pub call_signal: u32,
    /// `error` answers (refusals of any kind) before the socket is closed with 4029.
    pub refused: u32,
}

impl Default for FramesPerMinute {
    fn default() -> Self {
        use courier_actors::protocol::FrameKind as K;
        let d = courier_actors::session::FrameLimits::default();
        FramesPerMinute {
            typing: d.of(K::Typing),
            read: d.of(K::Read),
            delivered: d.of(K::Delivered),
            sync: d.of(K::Sync),
            ping: d.of(K::Ping),
            call: d.of(K::Call),
            call_signal: d.of(K::CallSignal),
            refused: d.refusals_per_minute,
        }
    }
}

impl FramesPerMinute {
    fn limits(&self) -> courier_actors::session::FrameLimits {
        use courier_actors::protocol::FrameKind as K;
        let mut per_minute = [0; K::COUNT];
        for kind in K::ALL {
            per_minute[kind.index()] = match kind {
                // Limited per user instead: `limits.messages_per_minute`.
                K::SendMessage => u32::MAX,
                K::Typing => self.typing,
                K::Read => self.read,
                K::Delivered => self.delivered,
                K::Sync => self.sync,
                K::Ping => self.ping,
                K::Call => self.call,
                K::CallSignal => self.call_signal,
            };
        }
        courier_actors::session::FrameLimits {
            per_minute,
            refusals_per_minute: self.refused,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallSettings {
    /// An unanswered call is missed after this many seconds.
    pub ring_timeout_secs: u64,
    /// A call ends this many seconds after a participant's last device disconnected.
    pub disconnect_grace_secs: u64,
    /// Largest `call-signal` payload (JSON bytes).
    pub max_signal_bytes: usize,
    /// STUN servers handed to clients, e.g. `stun:stun.example.org:3478`.
    pub stun_urls: Vec<String>,
    /// TURN servers, e.g. `turn:turn.example.org:3478?transport=udp`.
    pub turn_urls: Vec<String>,
    /// Shared secret of the TURN server's REST API (coturn `static-auth-secret`).
    pub turn_secret: String,
    /// Lifetime of TURN credentials, in seconds.
    pub turn_ttl_secs: u64,
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            ring_timeout_secs: 45,
            disconnect_grace_secs: 10,
            max_signal_bytes: 16 * 1024,
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: String::new(),
            turn_ttl_secs: 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// `local` (a folder) or `s3` (any S3-compatible store).
    pub store: String,
    /// Folder for `local` (empty: `<data_dir>/media`).
    pub dir: String,
    /// Prefix of media links handed to clients, e.g. `https://chat.example.org`
    /// (empty: links start with `/media/`, relative to the server).
    pub public_url: String,
    /// How long a media link works, in seconds.
    pub url_ttl_secs: u64,
    pub s3_bucket: String,
    pub s3_region: String,
    /// For S3-compatible stores other than AWS, e.g. `http://127.0.0.1:9000`.
    pub s3_endpoint: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
    /// Path-style addressing (`endpoint/bucket/key`), as most S3-compatible servers want.
    pub s3_path_style: bool,
    /// Hand out presigned S3 URLs (clients fetch from the store); false: links to Courier,
    /// which serves the files from the store.
    pub s3_presign: bool,
    pub max_image_bytes: usize,
    pub max_video_bytes: usize,
    pub max_audio_bytes: usize,
    pub max_document_bytes: usize,
    /// Uploads a user may make per minute.
    pub uploads_per_minute: u32,
    /// Stored files no row refers to are removed once they are this old, in seconds: longer
    /// than any upload takes from storing its files to writing its row.
    pub orphan_grace_secs: u64,
    /// How often files no row refers to are looked for, in seconds.
    pub orphan_sweep_secs: u64,
    /// An upload's whole body must arrive within this many milliseconds (else 408).
    pub upload_timeout_ms: u64,
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            store: "local".into(),
            dir: String::new(),
            public_url: String::new(),
            url_ttl_secs: 3600,
            s3_bucket: String::new(),
            s3_region: "us-east-1".into(),
            s3_endpoint: String::new(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: String::new(),
            s3_path_style: true,
            s3_presign: true,
            max_image_bytes: 10 * 1024 * 1024,
            max_video_bytes: 100 * 1024 * 1024,
            max_audio_bytes: 50 * 1024 * 1024,
            max_document_bytes: 20 * 1024 * 1024,
            uploads_per_minute: 10,
            orphan_grace_secs: 3600,
            orphan_sweep_secs: 3600,
            upload_timeout_ms: 300_000,
        }
    }
}

impl MediaSettings {
    /// The store the settings name.
    pub fn backend(&self, data_dir: &Path) -> courier_actors::storage::Backend {
        use courier_actors::storage::Backend;
        match self.store.as_str() {
            "s3" => Backend::S3 {
                bucket: self.s3_bucket.clone(),
                region: self.s3_region.clone(),
                endpoint: self.s3_endpoint.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.clone(),
                path_style: self.s3_path_style,
                presign: self.s3_presign,
            },
            _ => Backend::Local {
                dir: if self.dir.is_empty() {
                    data_dir.join("media")
                } else {
                    PathBuf::from(&self.dir)
                },
            },
        }
    }

    /// When stored files no row refers to are removed.
    pub fn orphan_sweep(&self) -> courier_actors::storage::OrphanSweep {
        courier_actors::storage::OrphanSweep {
            every: std::time::Duration::from_secs(self.orphan_sweep_secs),
            grace: std::time::Duration::from_secs(self.orphan_grace_secs),
        }
    }
}

/// A configuration the server refuses to start with; the message says why in one line.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Reads `path` (when it exists; required if given explicitly) and the process environment.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(path, env)
    }

    /// Like [`load`](Self::load) with an explicit environment (for tests).
    pub fn load_from(
        path: Option<&Path>,
        env: HashMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder();
        match path {
            Some(p) => {
                if !p.exists() {
                    return Err(ConfigError(format!(
                        "config file {} not found",
                        p.display()
                    )));
                }
                builder =
                    builder.add_source(config::File::from(p).format(config::FileFormat::Toml));
            }
            None => {
                builder = builder.add_source(
                    config::File::with_name("config.toml")
                        .format(config::FileFormat::Toml)
                        .required(false),
                );
            }
        }
        let env: config::Map<String, String> = env.into_iter().collect();
        builder = builder.add_source(
            config::Environment::with_prefix("COURIER")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        );
        let settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The engine's realtime settings.
    pub fn realtime(&self) -> courier_actors::Realtime {
        use std::time::Duration;
        let r = &self.realtime;
        courier_actors::Realtime {
            heartbeat: Duration::from_secs(r.heartbeat_secs),
            client_timeout: Duration::from_secs(r.client_timeout_secs),
            outbound_queue: r.outbound_queue,
            max_frame_bytes: r.max_frame_bytes,
            typing_ttl: Duration::from_secs(r.typing_ttl_secs),
            room_idle: Duration::from_secs(r.room_idle_secs),
            messages_per_minute: self.limits.messages_per_minute,
            max_group_size: self.limits.max_group_size,
            ring_timeout: Duration::from_secs(self.calls.ring_timeout_secs),
            call_disconnect_grace: Duration::from_secs(self.calls.disconnect_grace_secs),
            max_signal_bytes: self.calls.max_signal_bytes,
            frames: r.frames_per_minute.limits(),
            max_frames_in_flight: r.max_frames_in_flight,
            max_sockets_per_user: r.max_sockets_per_user,
            typing_interval: Duration::from_secs(r.typing_interval_secs),
        }
    }

    /// Refuses invalid and dangerous combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |m: &str| Err(ConfigError(m.to_string()));
        if self.server.bind.parse::<SocketAddr>().is_err() {
            return fail("server.bind must be an address like 127.0.0.1:8080");
        }
        if let Err(e) = Backend::from_url(&self.database.url) {
            return Err(ConfigError(format!("database.url: {e}")));
        }
        if self.database.pool_size == 0 {
            return fail("database.pool_size must be at least 1");
        }
        let a = &self.auth;
        if a.access_ttl_secs == 0 || a.refresh_ttl_secs == 0 || a.otp_ttl_secs == 0 {
            return fail("auth: token and code lifetimes must be positive");
        }
        if a.refresh_ttl_secs < a.access_ttl_secs {
            return fail("auth.refresh_ttl_secs must not be shorter than auth.access_ttl_secs");
        }
        if a.otp_max_attempts == 0 {
            return fail("auth.otp_max_attempts must be at least 1");
        }
        let six_digits = a.fixed_otp.len() == 6 && a.fixed_otp.bytes().all(|b| b.is_ascii_digit());
        if !a.fixed_otp.is_empty() && !six_digits {
            return fail("auth.fixed_otp must be 6 digits (or empty)");
        }
        if !a.jwt_secret.is_empty() && a.jwt_secret.len() < 32 {
            return fail("auth.jwt_secret must be at least 32 characters");
        }
        match self.sms.provider.as_str() {
            "console" => {}
            "twilio" => {
                let s = &self.sms;
                if s.twilio_account_sid.is_empty()
                    || s.twilio_auth_token.is_empty()
                    || s.twilio_from.is_empty()
                {
                    return fail("sms.provider = twilio needs twilio_account_sid, twilio_auth_token and twilio_from");
                }
                if !a.fixed_otp.is_empty() {
                    return fail("auth.fixed_otp with a real SMS provider would let anyone sign in as anyone");
                }
                if a.jwt_secret.is_empty() {
                    return fail("a real SMS provider needs an explicit auth.jwt_secret (shared by every node)");
                }
                if a.phone_hash_key.is_empty() {
                    return fail("a real SMS provider needs an explicit auth.phone_hash_key (shared by every node)");
                }
            }
            other => {
                return Err(ConfigError(format!(
                    "sms.provider {other:?} is not one of console, twilio"
                )))
            }
        }
        let r = &self.realtime;
        if r.heartbeat_secs == 0 || r.client_timeout_secs <= r.heartbeat_secs {
            return fail(
                "realtime.client_timeout_secs must be longer than realtime.heartbeat_secs (> 0)",
            );
        }
        let m = &self.media;
        match m.store.as_str() {
            "local" => {}
            "s3" if m.s3_bucket.is_empty() || m.s3_access_key_id.is_empty() || m.s3_secret_access_key.is_empty() => {
                return fail("media.store = s3 needs media.s3_bucket, media.s3_access_key_id and media.s3_secret_access_key")
            }
            "s3" => {}
            other => return Err(ConfigError(format!("media.store {other:?} is not one of local, s3"))),
        }
        if m.url_ttl_secs < 60 || m.uploads_per_minute == 0 {
            return fail(
                "media.url_ttl_secs must be at least 60 and media.uploads_per_minute positive",
            );
        }
        if m.orphan_grace_secs < 300 || m.orphan_sweep_secs < 60 {
            return fail(
                "media.orphan_grace_secs must be at least 300 (uploads in progress must outlast it) and media.orphan_sweep_secs at least 60",
            );
        }
        // A presigned link lasts up to 1.25 × the TTL; S3 accepts at most seven days.
        if m.store == "s3" && m.s3_presign && m.url_ttl_secs > 7 * 24 * 3600 * 4 / 5 {
            return fail("media.url_ttl_secs is at most 483840 (5.6 days) with presigned S3 links");
        }
        let c = &self.calls;
        if c.ring_timeout_secs == 0 || c.max_signal_bytes < 1024 || c.turn_ttl_secs == 0 {
            return fail("calls: ring_timeout_secs and turn_ttl_secs must be positive, max_signal_bytes at least 1024");
        }
        if !c.turn_urls.is_empty() && c.turn_secret.len() < 16 {
            return fail("calls.turn_urls needs calls.turn_secret (the TURN server's shared secret, at least 16 characters)");
        }
        let l = &self.limits;
        if l.refresh_per_minute == 0 || l.refresh_per_ip_per_minute == 0 {
            return fail(
                "limits.refresh_per_minute and limits.refresh_per_ip_per_minute must be positive",
            );
        }
        if l.max_group_size < 2 {
            return fail("limits.max_group_size must be at least 2");
        }
        if l.groups_per_hour == 0 || l.group_adds_per_hour == 0 || l.profile_lookups_per_minute == 0
        {
            return fail("limits.groups_per_hour, limits.group_adds_per_hour and limits.profile_lookups_per_minute must be positive");
        }
        if !(60..=30 * 24 * 3600).contains(&l.group_invite_ttl_secs) {
            return fail("limits.group_invite_ttl_secs must be between 60 and 2592000 (30 days)");
        }
        if r.outbound_queue == 0 || r.max_frame_bytes < 1024 {
            return fail("realtime.outbound_queue must be positive and realtime.max_frame_bytes at least 1024");
        }
        if r.max_frames_in_flight == 0 || r.max_sockets_per_user == 0 || r.connects_per_minute == 0
        {
            return fail("realtime.max_frames_in_flight, realtime.max_sockets_per_user and realtime.connects_per_minute must be positive");
        }
        let f = r.frames_per_minute.limits();
        if f.per_minute.contains(&0) || f.refusals_per_minute == 0 {
            return fail("realtime.frames_per_minute: every allowance must be positive");
        }
        self.validate_deadlines()
    }

    /// Deadlines: none may be off, and each must leave room for the ones it contains.
    fn validate_deadlines(&self) -> Result<(), ConfigError> {
        let (s, db, media) = (&self.server, &self.database, &self.media);
        let all = [
            s.header_timeout_ms,
            s.body_timeout_ms,
            db.timeout_ms,
            media.upload_timeout_ms,
        ];
        if !all.iter().all(|ms| (100..=3_600_000).contains(ms)) {
            return Err(ConfigError("server.header_timeout_ms, server.body_timeout_ms, database.timeout_ms and media.upload_timeout_ms must be between 100 and 3600000".into()));
        }
        if s.request_timeout_ms <= s.body_timeout_ms.max(db.timeout_ms) || s.keep_alive_secs > 3600
        {
            return Err(ConfigError("server.request_timeout_ms must be longer than server.body_timeout_ms and database.timeout_ms, and server.keep_alive_secs at most 3600".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let s = Settings::load_from(
            None,
            env(&[
                ("COURIER__SERVER__BIND", "127.0.0.1:9000"),
                ("COURIER__AUTH__OTP_TTL_SECS", "60"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:9000");
        assert_eq!(s.auth.otp_ttl_secs, 60);
        assert_eq!(s.database.url, "sqlite://data/courier.db");
    }

    #[test]
    fn refuses_dangerous_combinations() {
        let twilio = [
            ("COURIER__SMS__PROVIDER", "twilio"),
            ("COURIER__SMS__TWILIO_ACCOUNT_SID", "AC1"),
            ("COURIER__SMS__TWILIO_AUTH_TOKEN", "t"),
            ("COURIER__SMS__TWILIO_FROM", "+15550001111"),
        ];
        let err = Settings::load_from(None, env(&twilio)).unwrap_err();
        assert!(err.0.contains("jwt_secret"), "{err}");

        let mut with_fixed = twilio.to_vec();
        with_fixed.push(("COURIER__AUTH__FIXED_OTP", "123456"));
        let err = Settings::load_from(None, env(&with_fixed)).unwrap_err();
        assert!(err.0.contains("fixed_otp"), "{err}");

        let err = Settings::load_from(None, env(&[("COURIER__SERVR__BIND", "x")])).unwrap_err();
        assert!(err.0.contains("servr"), "{err}");

        let err =
            Settings::load_from(None, env(&[("COURIER__DATABASE__URL", "mysql://x")])).unwrap_err();
        assert!(err.0.contains("database.url"), "{err}");
    }
}
