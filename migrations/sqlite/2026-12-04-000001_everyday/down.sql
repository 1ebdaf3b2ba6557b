DROP TRIGGER messages_fts_update;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_insert;
DROP TABLE messages_fts;
ALTER TABLE chats DROP COLUMN disappearing_secs;
DROP INDEX idx_messages_expires;
ALTER TABLE messages DROP COLUMN expires_at;
ALTER TABLE messages DROP COLUMN forward_count;
DROP TABLE message_stars;
