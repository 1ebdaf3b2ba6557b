ALTER TABLE chat_participants DROP COLUMN pinned_at;
ALTER TABLE chat_participants DROP COLUMN archived_at;
DROP INDEX idx_messages_deleted;
DROP INDEX idx_users_deleted;
