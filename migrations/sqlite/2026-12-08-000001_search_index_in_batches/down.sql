-- Back to one trigger run per insert; messages not indexed yet are indexed first.
INSERT INTO messages_fts (rowid, content)
    SELECT id, content FROM messages
    WHERE id > (SELECT value FROM counters WHERE name = 'search_indexed')
        AND content IS NOT NULL AND message_type <> 'system';
DELETE FROM counters WHERE name = 'search_indexed';
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
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
