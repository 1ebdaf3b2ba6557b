ALTER INDEX idx_messages_fts RESET (gin_pending_list_limit);
DELETE FROM messages WHERE chat_id NOT IN (SELECT id FROM chats)
    OR sender_id NOT IN (SELECT id FROM users);
ALTER TABLE messages ADD CONSTRAINT messages_chat_id_fkey
    FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE;
ALTER TABLE messages ADD CONSTRAINT messages_sender_id_fkey
    FOREIGN KEY (sender_id) REFERENCES users (id) ON DELETE CASCADE;
