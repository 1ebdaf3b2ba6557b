DROP INDEX idx_auth_sessions_revoked;
DROP INDEX idx_auth_sessions_expires;
DROP INDEX idx_otp_codes_expires;
ALTER TABLE users DROP COLUMN suspended_at;
