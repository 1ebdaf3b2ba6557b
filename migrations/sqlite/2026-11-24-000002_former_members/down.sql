DROP INDEX idx_chats_avatar_url;
DROP INDEX idx_users_avatar_url;
DROP INDEX idx_statuses_media_url;
DROP INDEX idx_messages_thumbnail_url;
DROP INDEX idx_messages_media_url;
DROP TABLE message_edits;
DROP TABLE former_members;
