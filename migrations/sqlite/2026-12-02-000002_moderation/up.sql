-- Moderation: users' reports, system admins, and the append-only audit log of what admins
-- (and the automatic defences) did. Keep in step with ../../postgres/2026-12-02-000002_moderation.

-- The first `reports` table was never used: it could not name a group, keep the reported
-- content, or record a resolution. It is replaced.
DROP TABLE reports;

CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- NULL: filed by the system (the content filter).
    reporter_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    -- 'message', 'user' or 'group'; target_id is the message, user or chat id.
    target_type TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    -- The user the report is about (a message's sender, the user), if any.
    reported_user_id BIGINT,
    -- The chat the report names (a message's chat, the group, the private chat it came from).
    chat_id BIGINT,
    message_id BIGINT,
    reason TEXT NOT NULL,
    note TEXT,
    -- A copy of the reported message, kept even if the message is deleted later.
    message_type TEXT,
    message_content TEXT,
    message_media_url TEXT,
    message_sent_at TIMESTAMP,
    -- 'open', 'resolved' or 'dismissed'.
    status TEXT NOT NULL DEFAULT 'open',
    resolved_by BIGINT,
    resolution_note TEXT,
    resolved_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
-- One report per reporter and target: a repeated report answers the first one.
CREATE UNIQUE INDEX idx_reports_reporter_target ON reports (reporter_id, target_type, target_id)
    WHERE reporter_id IS NOT NULL;
CREATE INDEX idx_reports_status ON reports (status, id);
CREATE INDEX idx_reports_reported_user ON reports (reported_user_id, created_at);
CREATE INDEX idx_reports_chat ON reports (chat_id);
CREATE INDEX idx_reports_message ON reports (message_id);
-- The orphan sweep keeps files a report refers to.
CREATE INDEX idx_reports_media ON reports (message_media_url);

-- Granted with `courier admin grant <phone>` only (or listed in moderation.admins).
CREATE TABLE system_admins (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    granted_at TIMESTAMP NOT NULL
);

-- Append-only: no code path updates or deletes it, and the database refuses to.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- NULL: the system (automatic defence) or an operator's command line.
    admin_id BIGINT,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    note TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_audit_log_created ON audit_log (id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
