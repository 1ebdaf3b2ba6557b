-- Data exports: a user asks for a copy of their data, a worker builds it as a ZIP in the
-- media store, the user downloads it through a signed link until it expires.
-- Keep in step with ../../postgres/2026-12-04-000003_exports.
CREATE TABLE data_exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- pending, ready or failed
    status TEXT NOT NULL,
    object_key TEXT,
    size BIGINT,
    error TEXT,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    expires_at TIMESTAMP
);
CREATE INDEX idx_data_exports_user ON data_exports (user_id, id);
CREATE INDEX idx_data_exports_expires ON data_exports (expires_at) WHERE expires_at IS NOT NULL;
