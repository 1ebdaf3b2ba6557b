-- Push notifications: where each device session is reached when its app is asleep, and the
-- outbox of pushes not yet handed to their provider (written in the transaction of what they
-- announce, so a restart loses none). Keep in step with ../../postgres/2026-12-04-000002_push.

-- One push target per device session (the session's refresh token family); signing out
-- removes it with the session.
CREATE TABLE push_targets (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_session_id BIGINT NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    -- fcm, apns, webpush or webhook
    platform TEXT NOT NULL,
    -- FCM registration token, APNs device token, Web Push endpoint, or webhook subscriber id.
    token TEXT NOT NULL,
    -- Web Push only: the subscription's keys (base64url).
    p256dh TEXT,
    auth TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX idx_push_targets_session ON push_targets (auth_session_id);
CREATE UNIQUE INDEX idx_push_targets_token ON push_targets (platform, token);
CREATE INDEX idx_push_targets_user ON push_targets (user_id);

-- Pushes waiting for their provider; a row goes once sent, dropped or expired.
CREATE TABLE push_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    target_id BIGINT NOT NULL REFERENCES push_targets (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    -- message, call, missed_call or group_added
    kind TEXT NOT NULL,
    chat_id BIGINT NOT NULL,
    message_id BIGINT,
    call_id BIGINT,
    -- high or normal
    priority TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_push_outbox_due ON push_outbox (next_attempt_at);
CREATE INDEX idx_push_outbox_target ON push_outbox (target_id, chat_id);
