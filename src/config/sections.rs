//! The configuration's sections, each with its defaults in one place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::secret::Secret;

#[derive(Debug, Clone, Deserialize, Serialize)]
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
    /// Threads for chat rooms and calls (0: one per core).
    pub engine_threads: usize,
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
    /// PEM certificate chain: with `tls_key`, serve HTTPS and WSS (TLS 1.3) instead of HTTP.
    pub tls_cert: String,
    /// PEM private key of `tls_cert`.
    pub tls_key: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            json_limit_bytes: 64 * 1024,
            trust_forwarded_for: false,
            workers: 0,
            engine_threads: 0,
            shutdown_timeout_secs: 10,
            header_timeout_ms: 5_000,
            body_timeout_ms: 10_000,
            request_timeout_ms: 20_000,
            keep_alive_secs: 5,
            max_connections_per_ip: 256,
            tls_cert: String::new(),
            tls_key: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC key for tokens. Empty: generated on first start and kept in `data_dir`.
    pub jwt_secret: Secret,
    /// HMAC key for phone-number lookups. Empty: generated and kept in `data_dir`.
    pub phone_hash_key: Secret,
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
            jwt_secret: Secret::default(),
            phone_hash_key: Secret::default(),
            access_ttl_secs: 3600,
            refresh_ttl_secs: 14 * 24 * 3600,
            otp_ttl_secs: 300,
            otp_max_attempts: 5,
            fixed_otp: String::new(),
        }
    }
}

/// Who sends the sign-in codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// Codes are written to the server's log (development and demos).
    Console,
    Twilio,
}

/// Where media files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaStore {
    /// A folder (`media.dir`).
    Local,
    /// Any S3-compatible store.
    S3,
}

/// S3 server-side encryption of every object stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum S3Sse {
    /// The bucket's default.
    #[serde(rename = "", alias = "none")]
    None,
    /// Keys managed by the store (`AES256`).
    #[serde(rename = "sse-s3")]
    SseS3,
    /// A KMS key (`media.s3_sse_kms_key_id`, or the account's default).
    #[serde(rename = "sse-kms")]
    SseKms,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSettings {
    pub provider: SmsProvider,
    pub twilio_account_sid: String,
    pub twilio_auth_token: Secret,
    /// Sender number (E.164) or messaging service SID.
    pub twilio_from: String,
    pub twilio_api_base: String,
    pub timeout_secs: u64,
}

impl Default for SmsSettings {
    fn default() -> Self {
        SmsSettings {
            provider: SmsProvider::Console,
            twilio_account_sid: String::new(),
            twilio_auth_token: Secret::default(),
            twilio_from: String::new(),
            twilio_api_base: "https://api.twilio.com".into(),
            timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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
    /// Data exports (`POST /api/user/export`) a user may start per day.
    pub exports_per_day: u32,
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
            exports_per_day: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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
    pub turn_secret: Secret,
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
            turn_secret: Secret::default(),
            turn_ttl_secs: 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    pub store: MediaStore,
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
    /// With the secret; both empty: credentials from the `AWS_*` environment (keys, web
    /// identity), then the container's or the instance's role.
    pub s3_access_key_id: String,
    pub s3_secret_access_key: Secret,
    /// The session token of temporary keys (from STS), sent with them (empty: none).
    pub s3_session_token: Secret,
    /// Path-style addressing (`endpoint/bucket/key`), as most S3-compatible servers want.
    pub s3_path_style: bool,
    /// Courier's links redirect to short-lived URLs presigned for the store (clients fetch the
    /// bytes there); false: Courier serves the files from the store itself.
    pub s3_presign: bool,
    pub s3_sse: S3Sse,
    /// The KMS key for `sse-kms` (empty: the account's default key).
    pub s3_sse_kms_key_id: String,
    /// The local store only: a 32-byte key (base64) that seals every file stored from then on
    /// with AES-256-GCM, so a copied media folder is unreadable without it.
    pub encryption_key: Secret,
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
            store: MediaStore::Local,
            dir: String::new(),
            public_url: String::new(),
            url_ttl_secs: 3600,
            s3_bucket: String::new(),
            s3_region: "us-east-1".into(),
            s3_endpoint: String::new(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: Secret::default(),
            s3_session_token: Secret::default(),
            s3_path_style: true,
            s3_presign: true,
            s3_sse: S3Sse::None,
            s3_sse_kms_key_id: String::new(),
            encryption_key: Secret::default(),
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
        match self.store {
            MediaStore::S3 => Backend::S3 {
                bucket: self.s3_bucket.clone(),
                region: self.s3_region.clone(),
                endpoint: self.s3_endpoint.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.to_string(),
                session_token: self.s3_session_token.to_string(),
                path_style: self.s3_path_style,
                presign: self.s3_presign,
                sse: match self.s3_sse {
                    S3Sse::SseS3 => courier_actors::storage::Sse::S3,
                    S3Sse::SseKms => {
                        courier_actors::storage::Sse::Kms(self.s3_sse_kms_key_id.clone())
                    }
                    S3Sse::None => courier_actors::storage::Sse::None,
                },
            },
            MediaStore::Local => Backend::Local {
                dir: if self.dir.is_empty() {
                    data_dir.join("media")
                } else {
                    PathBuf::from(&self.dir)
                },
            },
        }
    }

    /// The key that seals local files, when one is set (checked by `validate`).
    pub fn sealing_key(&self) -> Option<[u8; 32]> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(self.encryption_key.trim())
            .ok()?;
        raw.try_into().ok()
    }

    /// When stored files no row refers to are removed.
    pub fn orphan_sweep(&self) -> courier_actors::storage::OrphanSweep {
        courier_actors::storage::OrphanSweep {
            every: std::time::Duration::from_secs(self.orphan_sweep_secs),
            grace: std::time::Duration::from_secs(self.orphan_grace_secs),
        }
    }
}

/// `[metrics]`: where `/metrics` is served, apart from the API.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address of the metrics listener (loopback by default: metrics say much about the
    /// traffic); empty: no metrics listener.
    pub bind: String,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            bind: "127.0.0.1:9464".into(),
        }
    }
}

/// `[log]`: how log lines are written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// `text` for people, `json` (one object per line) for log shippers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[cluster]`: several nodes as one, over Redis. Off while `redis_url` is empty.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// `redis://host:port/db`: turns cluster mode on.
    pub redis_url: String,
    /// This node's name among the others (letters, digits, `-`, `_`); empty: generated.
    pub node_id: String,
    /// Prefix of every Redis key and channel, so clusters can share one Redis.
    pub key_prefix: String,
    /// A node that has not renewed its lease for this long is dead: its users go offline
    /// and its chats move to the live nodes.
    pub node_ttl_ms: u64,
    /// How long a node waits for another to answer a forwarded command (else 503).
    pub forward_timeout_ms: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            redis_url: String::new(),
            node_id: String::new(),
            key_prefix: "courier".into(),
            node_ttl_ms: 3_000,
            forward_timeout_ms: 5_000,
        }
    }
}

impl ClusterSettings {
    /// Whether cluster mode is on.
    pub fn enabled(&self) -> bool {
        !self.redis_url.is_empty()
    }
}

/// `[web]`: the embedded web client served at `/`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// Serve the web client (`/` and `/web/…`); `false`: those paths answer 404.
    pub enabled: bool,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings { enabled: true }
    }
}
