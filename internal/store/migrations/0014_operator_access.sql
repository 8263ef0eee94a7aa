-- Version 14: revoking and recovering console access. A failed-login row
-- is written before the password is checked (the attempt reserves its
-- place in the count) and names the attempt, so a login that succeeds can
-- take its own row back. An operator can be disabled; a machine token keeps
-- the first characters of its value so it can be named to revoke it.
ALTER TABLE operator_login_failures ADD COLUMN attempt TEXT NOT NULL DEFAULT '';
ALTER TABLE operators ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN prefix TEXT NOT NULL DEFAULT '';
CREATE INDEX api_tokens_name ON api_tokens (name);
