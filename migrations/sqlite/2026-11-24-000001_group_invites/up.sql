-- Who may add a user to groups, and the invites sent to those who did not allow the adder.
-- SQLite flavour; keep in step with ../../postgres/2026-11-24-000001_group_invites/up.sql.

-- 'everyone', 'contacts' (those the user has in their contacts) or 'nobody'.
ALTER TABLE users ADD COLUMN privacy_groups TEXT NOT NULL DEFAULT 'contacts';

-- A pending invite to join a group: one per (group, user). Accepting or declining removes it;
-- an invite past expires_at is no longer shown or accepted, and is removed later.
CREATE TABLE group_invites (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    chat_id BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invited_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    UNIQUE (chat_id, user_id)
);
CREATE INDEX idx_group_invites_user ON group_invites (user_id, expires_at);
CREATE INDEX idx_group_invites_expires ON group_invites (expires_at);
