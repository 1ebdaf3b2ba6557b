//! The checks a configuration must pass before anything starts: invalid values and
//! dangerous combinations are refused with a one-line reason.

use std::net::SocketAddr;

use courier_actors::store::Backend;

use super::sections::{MediaStore, S3Sse, SmsProvider};
use super::{ConfigError, Settings};

impl Settings {
    /// Refuses invalid and dangerous combinations, naming every problem at once (one line,
    /// the problems separated by `; `).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        self.check(&mut problems);
        self.validate_cluster(&mut problems);
        self.validate_deadlines(&mut problems);
        problems.into_result()
    }

    fn check(&self, p: &mut Problems) {
        if self.server.bind.parse::<SocketAddr>().is_err() {
            p.add("server.bind must be an address like 127.0.0.1:8080");
        }
        if self.server.tls_cert.is_empty() != self.server.tls_key.is_empty() {
            p.add("server.tls_cert and server.tls_key go together: set both or neither");
        }
        let m = &self.metrics.bind;
        if !m.is_empty() && m.parse::<SocketAddr>().is_err() {
            p.add("metrics.bind must be an address like 127.0.0.1:9464, or empty");
        }
        if let Err(e) = Backend::from_url(&self.database.url) {
            p.add(format!("database.url: {e}"));
        }
        p.take(self.moderation.check());
        p.take(self.privacy.check());
        p.take(self.push.check());
        if self.database.pool_size == 0 {
            p.add("database.pool_size must be at least 1");
        }
        let a = &self.auth;
        if a.access_ttl_secs == 0 || a.refresh_ttl_secs == 0 || a.otp_ttl_secs == 0 {
            p.add("auth: token and code lifetimes must be positive");
        }
        if a.refresh_ttl_secs < a.access_ttl_secs {
            p.add("auth.refresh_ttl_secs must not be shorter than auth.access_ttl_secs");
        }
        if a.otp_max_attempts == 0 {
            p.add("auth.otp_max_attempts must be at least 1");
        }
        let six_digits = a.fixed_otp.len() == 6 && a.fixed_otp.bytes().all(|b| b.is_ascii_digit());
        if !a.fixed_otp.is_empty() && !six_digits {
            p.add("auth.fixed_otp must be 6 digits (or empty)");
        }
        if !a.jwt_secret.is_empty() && a.jwt_secret.len() < 32 {
            p.add("auth.jwt_secret must be at least 32 characters");
        }
        match self.sms.provider {
            SmsProvider::Console => {}
            SmsProvider::Twilio => {
                let s = &self.sms;
                if s.twilio_account_sid.is_empty()
                    || s.twilio_auth_token.is_empty()
                    || s.twilio_from.is_empty()
                {
                    p.add("sms.provider = twilio needs twilio_account_sid, twilio_auth_token and twilio_from");
                }
                if !a.fixed_otp.is_empty() {
                    p.add("auth.fixed_otp with a real SMS provider would let anyone sign in as anyone");
                }
                if a.jwt_secret.is_empty() {
                    p.add("a real SMS provider needs an explicit auth.jwt_secret (shared by every node)");
                }
                if a.phone_hash_key.is_empty() {
                    p.add("a real SMS provider needs an explicit auth.phone_hash_key (shared by every node)");
                }
            }
        }
        let r = &self.realtime;
        if r.heartbeat_secs == 0 || r.client_timeout_secs <= r.heartbeat_secs {
            p.add("realtime.client_timeout_secs must be longer than realtime.heartbeat_secs (> 0)");
        }
        let m = &self.media;
        let s3 = m.store == MediaStore::S3;
        if s3 && m.s3_bucket.is_empty() {
            p.add("media.store = s3 needs media.s3_bucket");
        }
        if m.s3_access_key_id.is_empty() != m.s3_secret_access_key.is_empty() {
            p.add("media.s3_access_key_id and media.s3_secret_access_key go together (neither: credentials from the environment or an IAM role)");
        }
        if !m.s3_session_token.is_empty() && m.s3_access_key_id.is_empty() {
            p.add("media.s3_session_token goes with media.s3_access_key_id and media.s3_secret_access_key");
        }
        if !m.s3_sse_kms_key_id.is_empty() && m.s3_sse != S3Sse::SseKms {
            p.add("media.s3_sse_kms_key_id needs media.s3_sse = sse-kms");
        }
        if !m.encryption_key.is_empty() {
            if s3 {
                p.add("media.encryption_key seals the local store; for S3 use media.s3_sse");
            }
            if m.sealing_key().is_none() {
                p.add("media.encryption_key must be 32 bytes, base64 (openssl rand -base64 32)");
            }
        }
        if m.url_ttl_secs < 60 || m.uploads_per_minute == 0 {
            p.add("media.url_ttl_secs must be at least 60 and media.uploads_per_minute positive");
        }
        if m.orphan_grace_secs < 300 || m.orphan_sweep_secs < 60 {
            p.add("media.orphan_grace_secs must be at least 300 (uploads in progress must outlast it) and media.orphan_sweep_secs at least 60");
        }
        let c = &self.calls;
        if c.ring_timeout_secs == 0 || c.max_signal_bytes < 1024 || c.turn_ttl_secs == 0 {
            p.add("calls: ring_timeout_secs and turn_ttl_secs must be positive, max_signal_bytes at least 1024");
        }
        if !c.turn_urls.is_empty() && c.turn_secret.len() < 16 {
            p.add("calls.turn_urls needs calls.turn_secret (the TURN server's shared secret, at least 16 characters)");
        }
        let l = &self.limits;
        if l.refresh_per_minute == 0 || l.refresh_per_ip_per_minute == 0 {
            p.add(
                "limits.refresh_per_minute and limits.refresh_per_ip_per_minute must be positive",
            );
        }
        if l.max_group_size < 2 {
            p.add("limits.max_group_size must be at least 2");
        }
        if l.groups_per_hour == 0 || l.group_adds_per_hour == 0 || l.profile_lookups_per_minute == 0
        {
            p.add("limits.groups_per_hour, limits.group_adds_per_hour and limits.profile_lookups_per_minute must be positive");
        }
        if !(60..=30 * 24 * 3600).contains(&l.group_invite_ttl_secs) {
            p.add("limits.group_invite_ttl_secs must be between 60 and 2592000 (30 days)");
        }
        if r.outbound_queue == 0 || r.max_frame_bytes < 1024 {
            p.add("realtime.outbound_queue must be positive and realtime.max_frame_bytes at least 1024");
        }
        if r.max_frames_in_flight == 0
            || r.max_sockets_per_user == 0
            || r.connects_per_minute == 0
            || r.max_presence_watch == 0
        {
            p.add("realtime.max_frames_in_flight, realtime.max_sockets_per_user, realtime.connects_per_minute and realtime.max_presence_watch must be positive");
        }
        let f = r.frames_per_minute.limits();
        if f.per_minute.contains(&0) || f.refusals_per_minute == 0 {
            p.add("realtime.frames_per_minute: every allowance must be positive");
        }
        p.take(self.pusher.validate());
    }

    /// Cluster mode: every node must share what a user can reach through any of them.
    fn validate_cluster(&self, p: &mut Problems) {
        let c = &self.cluster;
        if !c.enabled() {
            return;
        }
        if !(c.redis_url.starts_with("redis://") || c.redis_url.starts_with("rediss://")) {
            p.add("cluster.redis_url must be a redis:// or rediss:// address");
        }
        let name_ok = |s: &str| {
            s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !name_ok(&c.node_id) || c.key_prefix.is_empty() || !name_ok(&c.key_prefix) {
            p.add("cluster.node_id and cluster.key_prefix: at most 64 letters, digits, - or _ (key_prefix not empty)");
        }
        if c.node_ttl_ms < 500 || c.forward_timeout_ms == 0 {
            p.add(
                "cluster.node_ttl_ms must be at least 500 and cluster.forward_timeout_ms positive",
            );
        }
        if !matches!(
            Backend::from_url(&self.database.url),
            Ok(Backend::Postgres(_))
        ) {
            p.add("cluster mode needs PostgreSQL: a SQLite file belongs to one node");
        }
        if self.media.store != MediaStore::S3 {
            p.add("cluster mode needs media.store = s3: a local media folder belongs to one node");
        }
        if self.auth.jwt_secret.is_empty() || self.auth.phone_hash_key.is_empty() {
            p.add("cluster mode needs explicit auth.jwt_secret and auth.phone_hash_key (generated ones differ per node)");
        }
        if self.pusher.enabled() && self.pusher.app_secret.is_empty() {
            p.add("cluster mode needs an explicit pusher.app_secret (a generated one differs per node)");
        }
    }

    /// Deadlines: none may be off, and each must leave room for the ones it contains.
    fn validate_deadlines(&self, p: &mut Problems) {
        let (s, db, media) = (&self.server, &self.database, &self.media);
        let all = [
            s.header_timeout_ms,
            s.body_timeout_ms,
            db.timeout_ms,
            media.upload_timeout_ms,
        ];
        if !all.iter().all(|ms| (100..=3_600_000).contains(ms)) {
            p.add("server.header_timeout_ms, server.body_timeout_ms, database.timeout_ms and media.upload_timeout_ms must be between 100 and 3600000");
        }
        if s.request_timeout_ms <= s.body_timeout_ms.max(db.timeout_ms) || s.keep_alive_secs > 3600
        {
            p.add("server.request_timeout_ms must be longer than server.body_timeout_ms and database.timeout_ms, and server.keep_alive_secs at most 3600");
        }
    }
}

/// The problems found so far in a configuration.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    /// Adds what a section's own check refused.
    fn take(&mut self, checked: Result<(), ConfigError>) {
        if let Err(e) = checked {
            self.0.push(e.0);
        }
    }

    fn into_result(self) -> Result<(), ConfigError> {
        match self.0.is_empty() {
            true => Ok(()),
            false => Err(ConfigError(self.0.join("; "))),
        }
    }
}
