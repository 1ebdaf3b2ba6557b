-- Courier schema, SQLite flavour. Keep in step with ../../postgres/*/up.sql:
-- the same tables, columns and indexes, with SQLite's types.
-- Times are UTC, written by the server (never by a database default).

CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('change_seq', 0), ('message_id', 0);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    phone_number TEXT NOT NULL,
    phone_hash TEXT NOT NULL UNIQUE,
    country_code TEXT NOT NULL,
    name TEXT NOT NULL,
    avatar_url TEXT,
    about TEXT NOT NULL,
    last_seen_at TIMESTAMP,
    is_online BOOLEAN NOT NULL DEFAULT 0,
    privacy_last_seen TEXT NOT NULL DEFAULT 'everyone',
    privacy_profile_photo TEXT NOT NULL DEFAULT 'everyone',
    privacy_about TEXT NOT NULL DEFAULT 'everyone',
    phone_verified_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX idx_users_last_seen ON users (last_seen_at);

CREATE TABLE otp_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    phone_hash TEXT NOT NULL,
    country_code TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMP NOT NULL,
    consumed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_otp_codes_phone ON otp_codes (phone_hash, id);

CREATE TABLE auth_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_jti TEXT NOT NULL,
    user_agent TEXT,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_reason TEXT
);
CREATE INDEX idx_auth_sessions_user ON auth_sessions (user_id);

CREATE TABLE chats (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    chat_type TEXT NOT NULL,
    name TEXT,
    description TEXT,
    avatar_url TEXT,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    private_key TEXT UNIQUE,
    last_message_id BIGINT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX idx_chats_created_by ON chats (created_by);

CREATE TABLE chat_participants (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    chat_id BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'member',
    joined_at TIMESTAMP NOT NULL,
    left_at TIMESTAMP,
    -- A former member sees messages up to this id (the system message of their leaving).
    last_visible_message_id BIGINT,
    muted_until TIMESTAMP,
    last_delivered_message_id BIGINT NOT NULL DEFAULT 0,
    last_delivered_at TIMESTAMP,
    last_read_message_id BIGINT NOT NULL DEFAULT 0,
    last_read_at TIMESTAMP,
    UNIQUE (chat_id, user_id)
);
CREATE INDEX idx_chat_participants_user ON chat_participants (user_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY NOT NULL,
    chat_id BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    sender_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_msg_id TEXT,
    reply_to_message_id BIGINT REFERENCES messages (id) ON DELETE SET NULL,
    message_type TEXT NOT NULL,
    content TEXT,
    media_url TEXT,
    media_size BIGINT,
    media_duration INTEGER,
    media_mime_type TEXT,
    file_name TEXT,
    thumbnail_url TEXT,
    latitude DOUBLE,
    longitude DOUBLE,
    location_name TEXT,
    contact_data TEXT,
    -- For message_type 'system' (group changes): what happened, as JSON.
    system_data TEXT,
    seq BIGINT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    edited_at TIMESTAMP,
    deleted_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_messages_chat ON messages (chat_id, id);
CREATE INDEX idx_messages_chat_seq ON messages (chat_id, seq);
-- Also serves look-ups by sender alone (its leading column).
CREATE UNIQUE INDEX idx_messages_client_msg ON messages (sender_id, client_msg_id);

-- Messages a user hid for themself ("delete for me").
CREATE TABLE message_hides (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    hidden_at TIMESTAMP NOT NULL,
    PRIMARY KEY (message_id, user_id)
);

CREATE TABLE message_reactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (message_id, user_id, emoji)
);
CREATE INDEX idx_message_reactions_message ON message_reactions (message_id);

-- Moves of a member's delivered / read cursor: one row per move, not per message.
-- "delivered_at of message m for user u" is the time of u's first move to an id >= m.
CREATE TABLE receipt_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    chat_id BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    up_to_message_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX idx_receipt_events_chat ON receipt_events (chat_id, up_to_message_id);
CREATE INDEX idx_receipt_events_chat_seq ON receipt_events (chat_id, seq);

CREATE TABLE statuses (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    content TEXT,
    media_url TEXT,
    background_color TEXT,
    font_style TEXT,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_statuses_user ON statuses (user_id);
CREATE INDEX idx_statuses_expires ON statuses (expires_at);

CREATE TABLE status_views (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    viewer_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    viewed_at TIMESTAMP NOT NULL,
    UNIQUE (status_id, viewer_id)
);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_name TEXT NOT NULL,
    -- A row may record a block without a contact (is_contact false).
    is_contact BOOLEAN NOT NULL DEFAULT 1,
    is_blocked BOOLEAN NOT NULL DEFAULT 0,
    added_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, contact_user_id)
);
CREATE INDEX idx_contacts_contact_user ON contacts (contact_user_id);

CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    chat_id BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    caller_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    call_type TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TIMESTAMP,
    ended_at TIMESTAMP,
    duration INTEGER,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_calls_chat ON calls (chat_id);
CREATE INDEX idx_calls_caller ON calls (caller_id);
CREATE INDEX idx_calls_created ON calls (created_at);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    reporter_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reported_user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    message_id BIGINT REFERENCES messages (id) ON DELETE SET NULL,
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
