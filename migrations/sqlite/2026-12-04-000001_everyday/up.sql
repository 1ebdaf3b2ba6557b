-- Everyday features: starred messages, forwarding, disappearing messages, full-text search.
-- Keep in step with ../../postgres/2026-12-04-000001_everyday.

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

-- Full-text index over message text (FTS5, external content: the text stays in `messages`).
-- The triggers keep it in step with every insert, edit, deletion and purge. Prefix indexes of
-- 2 to 4 characters serve the word being typed (`"lun"*`) without merging every word it starts.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.content IS NOT NULL AND new.message_type <> 'system' BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.content IS NOT NULL AND old.message_type <> 'system' BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
WHEN old.message_type <> 'system' BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.content IS NOT NULL;
    INSERT INTO messages_fts (rowid, content)
        SELECT new.id, new.content WHERE new.content IS NOT NULL;
END;
INSERT INTO messages_fts (rowid, content)
    SELECT id, content FROM messages WHERE content IS NOT NULL AND message_type <> 'system';
