-- The credential life cycle (docs/security.md). Management sessions and refresh tokens obtained
-- with the password that were issued before `sessions_valid_after` (Unix ms) are void: a password
-- change and "sign out everywhere" move it. A refresh token obtained with a personal access token
-- names that token and dies when it is revoked (those issued before this migration could not be
-- traced to their token, so they go). Signed-out UI sessions are remembered until they expire.
ALTER TABLE users ADD COLUMN sessions_valid_after BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN access_token_id BIGINT REFERENCES access_tokens(id) ON DELETE CASCADE;
DELETE FROM refresh_tokens WHERE pat_scope IS NOT NULL;
CREATE TABLE revoked_sessions (
    jti         TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
