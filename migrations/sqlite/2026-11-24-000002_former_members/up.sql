-- Former members, SQLite flavour. Keep in step with ../../postgres/2026-11-24-000002_former_members.

-- A former member sees the group as it was when they left: its settings and its members at
-- that moment. One row per former member, written with their departure, removed when they
-- are added back.
CREATE TABLE former_members (
    chat_id BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    left_at TIMESTAMP NOT NULL,
    name TEXT,
    description TEXT,
    avatar_url TEXT,
    -- The members right after the departure, as JSON:
    -- [{"id", "role", "joined_at", "delivered", "read"}], with their receipt cursors then.
    members TEXT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX idx_former_members_user ON former_members (user_id);
CREATE INDEX idx_former_members_avatar ON former_members (avatar_url) WHERE avatar_url IS NOT NULL;

-- The text a message had before an edit, kept when a former member had seen it: they go on
-- seeing the text as it was when they left.
CREATE TABLE message_edits (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    content TEXT,
    -- When that text was written by an edit (NULL: it was the original).
    edited_at TIMESTAMP,
    replaced_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_message_edits_message ON message_edits (message_id, replaced_at);

-- The orphan sweep asks which of a batch of stored keys rows still hold.
CREATE INDEX idx_messages_media_url ON messages (media_url) WHERE media_url IS NOT NULL;
CREATE INDEX idx_messages_thumbnail_url ON messages (thumbnail_url) WHERE thumbnail_url IS NOT NULL;
CREATE INDEX idx_statuses_media_url ON statuses (media_url) WHERE media_url IS NOT NULL;
CREATE INDEX idx_users_avatar_url ON users (avatar_url) WHERE avatar_url IS NOT NULL;
CREATE INDEX idx_chats_avatar_url ON chats (avatar_url) WHERE avatar_url IS NOT NULL;

-- Members who left before this migration: their group as well as it can be told now. The
-- members are those whose membership spanned the departure, with their receipt cursors as
-- the receipt log had them then; name, description and photo are the current ones.
INSERT INTO former_members (chat_id, user_id, left_at, name, description, avatar_url, members)
SELECT f.chat_id, f.user_id, f.left_at, c.name, c.description, c.avatar_url,
    (SELECT json_group_array(json_object(
        'id', p.user_id,
        'role', p.role,
        'joined_at', strftime('%Y-%m-%dT%H:%M:%f', p.joined_at),
        'delivered', COALESCE((SELECT MAX(r.up_to_message_id) FROM receipt_events r
            WHERE r.chat_id = p.chat_id AND r.user_id = p.user_id
              AND r.kind = 'delivered' AND r.at <= f.left_at), 0),
        'read', COALESCE((SELECT MAX(r.up_to_message_id) FROM receipt_events r
            WHERE r.chat_id = p.chat_id AND r.user_id = p.user_id
              AND r.kind = 'read' AND r.at <= f.left_at), 0)))
     FROM chat_participants p
     WHERE p.chat_id = f.chat_id AND p.user_id <> f.user_id AND p.joined_at <= f.left_at
       AND (p.left_at IS NULL OR p.left_at > f.left_at))
FROM chat_participants f
JOIN chats c ON c.id = f.chat_id
WHERE f.left_at IS NOT NULL AND c.chat_type = 'group';
