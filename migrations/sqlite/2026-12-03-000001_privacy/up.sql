-- Privacy operations: account deletion and its purge, the purge of messages deleted for
-- everyone, and each member's own chat settings (archive, pin; mute uses `muted_until`).
-- Keep in step with ../../postgres/2026-12-03-000001_privacy.

-- The purges look up accounts and messages deleted long enough ago.
CREATE INDEX idx_users_deleted ON users (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX idx_messages_deleted ON messages (deleted_at) WHERE deleted_at IS NOT NULL;

-- Set while the member keeps the chat archived / pinned to the top of their list.
ALTER TABLE chat_participants ADD COLUMN archived_at TIMESTAMP;
ALTER TABLE chat_participants ADD COLUMN pinned_at TIMESTAMP;
