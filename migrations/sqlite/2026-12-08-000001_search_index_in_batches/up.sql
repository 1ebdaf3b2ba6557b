-- New messages join the full-text index in batches, not one trigger run per insert: every
-- transaction that indexed a message wrote a new FTS5 segment (about half of the pages a lone
-- send wrote). The writer indexes every message above `search_indexed` (the highest id
-- indexed so far) at most every few hundred milliseconds, and before any search runs, so a
-- search still finds every message already acknowledged.
INSERT INTO counters (name, value)
    SELECT 'search_indexed', COALESCE(MAX(id), 0) FROM messages;
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
-- Edits and deletions change the index only for messages already in it; one not indexed yet
-- is indexed later as it then stands (or not at all, once gone).
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.content IS NOT NULL AND old.message_type <> 'system'
    AND old.id <= (SELECT value FROM counters WHERE name = 'search_indexed') BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
WHEN old.message_type <> 'system'
    AND old.id <= (SELECT value FROM counters WHERE name = 'search_indexed') BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.content IS NOT NULL;
    INSERT INTO messages_fts (rowid, content)
        SELECT new.id, new.content WHERE new.content IS NOT NULL;
END;
