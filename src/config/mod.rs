//! Configuration: `config.toml` defaults, overridden by `COURIER__SECTION__KEY` environment
//! variables, checked before anything starts.
//!
//! The sections and their defaults are in `sections`, the checks that refuse a configuration
//! in `validate`, the commented `config.toml` printed from the defaults in `template`.

mod moderation;
mod notes;
mod privacy;
mod push;
mod realtime;
mod secret;
mod sections;
pub mod template;
mod validate;

pub use moderation::{FilterActionSetting, ModerationSettings};
pub use privacy::PrivacySettings;
pub use push::{ApnsSettings, FcmSettings, PushSettings, WebPushSettings, WebhookSettings};
pub use realtime::{FramesPerMinute, RealtimeSettings};
pub use secret::Secret;
pub use sections::*;

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Everything the server can be told. Every field has a default that runs with nothing
/// installed; `config.toml` documents each one.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
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
    pub metrics: MetricsSettings,
    pub log: LogSettings,
    pub pusher: crate::pusher::PusherSettings,
    pub moderation: ModerationSettings,
    pub cluster: ClusterSettings,
    pub privacy: PrivacySettings,
    pub push: PushSettings,
    pub web: WebSettings,
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
                // Lists from the environment are comma-separated (`a,b`). Content-filter
                // patterns, which may hold commas, come from the file only.
                .list_separator(",")
                .with_list_parse_key("moderation.admins")
                .with_list_parse_key("calls.stun_urls")
                .with_list_parse_key("calls.turn_urls")
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
    /// How this node joins its cluster (`[cluster]`, when `redis_url` is set).
    pub fn cluster_config(&self) -> courier_actors::cluster::ClusterConfig {
        use std::time::Duration;
        let c = &self.cluster;
        courier_actors::cluster::ClusterConfig {
            redis_url: c.redis_url.clone(),
            node_id: c.node_id.clone(),
            key_prefix: c.key_prefix.clone(),
            node_ttl: Duration::from_millis(c.node_ttl_ms),
            forward_timeout: Duration::from_millis(c.forward_timeout_ms),
        }
    }

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
            max_presence_watch: r.max_presence_watch,
            engine_threads: self.server.engine_threads,
            // Checked by `validate`: an invalid pattern never gets this far.
            moderation: std::sync::Arc::new(self.moderation.policy().unwrap_or_default()),
            privacy: self.privacy.policy(),
        }
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
            ("COURIER__SMS__TWILIO_FROM", "+14155551111"),
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

    #[test]
    fn every_problem_is_named_at_once_and_unknown_choices_are_refused() {
        let err = Settings::load_from(
            None,
            env(&[
                ("COURIER__SERVER__BIND", "nowhere"),
                ("COURIER__DATABASE__POOL_SIZE", "0"),
                ("COURIER__AUTH__FIXED_OTP", "12"),
                ("COURIER__MEDIA__URL_TTL_SECS", "5"),
            ]),
        )
        .unwrap_err();
        for says in ["server.bind", "pool_size", "fixed_otp", "url_ttl_secs"] {
            assert!(err.0.contains(says), "{says}: {err}");
        }
        assert_eq!(err.0.matches("; ").count(), 3, "{err}");
        for (key, value) in [
            ("COURIER__SMS__PROVIDER", "pigeon"),
            ("COURIER__MEDIA__STORE", "floppy"),
        ] {
            let err = Settings::load_from(None, env(&[(key, value)])).unwrap_err();
            assert!(err.0.contains(value), "{key}: {err}");
        }
        let s = Settings::load_from(None, env(&[("COURIER__MEDIA__S3_SSE", "sse-s3")])).unwrap();
        assert_eq!(s.media.s3_sse, S3Sse::SseS3);
    }

    #[test]
    fn s3_keys_go_together_or_come_from_the_environment() {
        let s3 = [
            ("COURIER__MEDIA__STORE", "s3"),
            ("COURIER__MEDIA__S3_BUCKET", "b"),
        ];
        let s = Settings::load_from(None, env(&s3)).unwrap();
        assert!(s.media.s3_access_key_id.is_empty(), "an IAM role, say");
        for extra in [
            ("COURIER__MEDIA__S3_ACCESS_KEY_ID", "k"),
            ("COURIER__MEDIA__S3_SECRET_ACCESS_KEY", "s"),
            ("COURIER__MEDIA__S3_SESSION_TOKEN", "t"),
        ] {
            let mut with = s3.to_vec();
            with.push(extra);
            let err = Settings::load_from(None, env(&with)).unwrap_err();
            assert!(err.0.contains("go"), "{extra:?}: {err}");
        }
        let mut temporary = s3.to_vec();
        temporary.extend([
            ("COURIER__MEDIA__S3_ACCESS_KEY_ID", "k"),
            ("COURIER__MEDIA__S3_SECRET_ACCESS_KEY", "s"),
            ("COURIER__MEDIA__S3_SESSION_TOKEN", "t"),
        ]);
        let s = Settings::load_from(None, env(&temporary)).unwrap();
        assert_eq!(&*s.media.s3_session_token, "t");
    }

    #[test]
    fn cluster_mode_refuses_what_belongs_to_one_node() {
        let full = [
            ("COURIER__CLUSTER__REDIS_URL", "redis://127.0.0.1:6379"),
            ("COURIER__DATABASE__URL", "postgres://u@h/db"),
            ("COURIER__MEDIA__STORE", "s3"),
            ("COURIER__MEDIA__S3_BUCKET", "b"),
            ("COURIER__MEDIA__S3_ACCESS_KEY_ID", "k"),
            ("COURIER__MEDIA__S3_SECRET_ACCESS_KEY", "s"),
            (
                "COURIER__AUTH__JWT_SECRET",
                "0123456789abcdef0123456789abcdef",
            ),
            ("COURIER__AUTH__PHONE_HASH_KEY", "phone-key"),
        ];
        let without = |key: &str, value: Option<&'static str>| {
            let mut e: Vec<(&str, &str)> =
                full.iter().copied().filter(|(k, _)| *k != key).collect();
            if let Some(v) = value {
                e.push((key, v));
            }
            Settings::load_from(None, env(&e))
        };
        assert!(Settings::load_from(None, env(&full)).is_ok());
        let err = without("COURIER__DATABASE__URL", None).unwrap_err();
        assert!(err.0.contains("needs PostgreSQL"), "{err}");
        let err = without("COURIER__MEDIA__STORE", None).unwrap_err();
        assert!(err.0.contains("media.store = s3"), "{err}");
        let err = without("COURIER__AUTH__JWT_SECRET", None).unwrap_err();
        assert!(err.0.contains("auth.jwt_secret"), "{err}");
        let err = without("COURIER__AUTH__PHONE_HASH_KEY", None).unwrap_err();
        assert!(err.0.contains("phone_hash_key"), "{err}");
        let err = without("COURIER__CLUSTER__REDIS_URL", Some("http://x")).unwrap_err();
        assert!(err.0.contains("redis://"), "{err}");
        let err = without("COURIER__CLUSTER__NODE_ID", Some("a b")).unwrap_err();
        assert!(err.0.contains("node_id"), "{err}");
        for e in [
            without("COURIER__DATABASE__URL", None),
            without("COURIER__MEDIA__STORE", None),
        ] {
            assert_eq!(e.unwrap_err().to_string().lines().count(), 1);
        }
    }

    #[test]
    fn media_encryption_and_push_settings_are_checked() {
        let load = |pairs: &[(&str, &str)]| Settings::load_from(None, env(pairs));
        let key = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
        let ok = load(&[("COURIER__MEDIA__ENCRYPTION_KEY", key)]).unwrap();
        assert_eq!(ok.media.sealing_key(), Some([42u8; 32]));
        for (pairs, says) in [
            (
                vec![("COURIER__MEDIA__ENCRYPTION_KEY", "c2hvcnQ=")],
                "32 bytes",
            ),
            (
                vec![("COURIER__MEDIA__ENCRYPTION_KEY", "not base64!")],
                "32 bytes",
            ),
            (
                vec![
                    ("COURIER__MEDIA__ENCRYPTION_KEY", key),
                    ("COURIER__MEDIA__STORE", "s3"),
                    ("COURIER__MEDIA__S3_BUCKET", "b"),
                    ("COURIER__MEDIA__S3_ACCESS_KEY_ID", "a"),
                    ("COURIER__MEDIA__S3_SECRET_ACCESS_KEY", "s"),
                ],
                "media.s3_sse",
            ),
            (vec![("COURIER__MEDIA__S3_SSE", "aes")], "media.s3_sse"),
            (vec![("COURIER__MEDIA__S3_SSE_KMS_KEY_ID", "k")], "sse-kms"),
            (vec![("COURIER__PUSH__POLL_MS", "5")], "poll_ms"),
            (
                vec![("COURIER__PUSH__WEBHOOK__URL", "ftp://x")],
                "webhook.url",
            ),
            (
                vec![
                    ("COURIER__PUSH__WEBHOOK__URL", "https://x"),
                    ("COURIER__PUSH__WEBHOOK__SECRET", "short"),
                ],
                "16 characters",
            ),
            (vec![("COURIER__PUSH__APNS__KEY_FILE", "/k.p8")], "key_id"),
            (
                vec![("COURIER__PUSH__WEBPUSH__VAPID_PRIVATE_KEY", "k")],
                "subject",
            ),
        ] {
            let err = load(&pairs).unwrap_err();
            assert!(err.0.contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn lists_come_from_the_environment_comma_separated() {
        let s = Settings::load_from(
            None,
            env(&[
                ("COURIER__MODERATION__ADMINS", "+14155550100,+14155550101"),
                (
                    "COURIER__CALLS__STUN_URLS",
                    "stun:a.example:3478,stun:b.example:3478",
                ),
                (
                    "COURIER__CALLS__TURN_URLS",
                    "turn:t.example:3478?transport=udp",
                ),
                ("COURIER__CALLS__TURN_SECRET", "a-turn-secret-of-length"),
            ]),
        )
        .unwrap();
        assert_eq!(s.moderation.admins, ["+14155550100", "+14155550101"]);
        assert_eq!(
            s.calls.stun_urls,
            ["stun:a.example:3478", "stun:b.example:3478"]
        );
        assert_eq!(s.calls.turn_urls, ["turn:t.example:3478?transport=udp"]);
        // Other settings keep their commas.
        let s = Settings::load_from(
            None,
            env(&[("COURIER__MEDIA__PUBLIC_URL", "https://cdn.example/a,b")]),
        )
        .unwrap();
        assert_eq!(s.media.public_url, "https://cdn.example/a,b");
    }
}
