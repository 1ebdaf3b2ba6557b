-- Everyday features: starred messages, forwarding, disappearing messages, full-text search.
-- Keep in step with ../../sqlite/2026-12-04-000001_everyday.

-- Messages a user starred, newest first in their list.
CREATE TABLE message_stars (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    starred_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, message_id)
);
CREATE INDEX idx_message_stars_user ON message_stars (user_id, starred_at);
CREATE INDEX idx_message_stars_message ON message_stars (message_id);

-- How many times the content was forwarded to reach this message (0: not forwarded).
ALTER TABLE messages ADD COLUMN forward_count INTEGER NOT NULL DEFAULT 0;
-- A message sent under a disappearing-messages timer goes at this time.
ALTER TABLE messages ADD COLUMN expires_at TIMESTAMP;
CREATE INDEX idx_messages_expires ON messages (expires_at) WHERE expires_at IS NOT NULL;
-- The chat's disappearing-messages timer, in seconds (NULL: off).
ALTER TABLE chats ADD COLUMN disappearing_secs BIGINT;

-- Full-text index over message text. The 'simple' configuration (no stemming, no stop words)
-- suits a messenger's many languages; queries must use the same expression to use it.
CREATE INDEX idx_messages_fts ON messages USING GIN (to_tsvector('simple', content))
    WHERE content IS NOT NULL AND message_type <> 'system';
