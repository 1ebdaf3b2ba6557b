DROP INDEX idx_messages_fts;
ALTER TABLE chats DROP COLUMN disappearing_secs;
DROP INDEX idx_messages_expires;
ALTER TABLE messages DROP COLUMN expires_at;
ALTER TABLE messages DROP COLUMN forward_count;
DROP TABLE message_stars;
