-- Operating Courier: suspended accounts, and indexes for the purge of dead codes and sessions.
-- Keep in step with ../../sqlite/2026-12-02-000001_operations.

-- Set by `courier users suspend`: the account cannot sign in or refresh, its tokens stop working.
ALTER TABLE users ADD COLUMN suspended_at TIMESTAMP;

-- The purge deletes codes and sessions some time after they expired or ended; the server
-- also looks up sessions ended by another process (to close their sockets).
CREATE INDEX idx_otp_codes_expires ON otp_codes (expires_at);
CREATE INDEX idx_auth_sessions_expires ON auth_sessions (expires_at);
CREATE INDEX idx_auth_sessions_revoked ON auth_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
