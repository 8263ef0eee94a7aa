-- Version 14: revoking and recovering console access. A failed-login row
-- is written before the password is checked (the attempt reserves its
-- place in the count) and names the attempt, so a login that succeeds can
-- take its own row back. An operator can be disabled; a machine token keeps
-- the first characters of its value so it can be named to revoke it.
ALTER TABLE operator_login_failures ADD COLUMN attempt TEXT NOT NULL DEFAULT '';
ALTER TABLE operators ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN prefix TEXT NOT NULL DEFAULT '';
CREATE INDEX api_tokens_name ON api_tokens (name);
-- Operator names are case-insensitive from this version on and stored in
-- lower case. A name stored with capitals becomes its lower case (with its
-- sessions and set-up links) unless that would make two operators one.
UPDATE operator_setup_tokens SET operator = lower(operator) WHERE operator IN (
    SELECT name FROM operators WHERE name <> lower(name)
      AND (SELECT COUNT(*) FROM operators o2 WHERE lower(o2.name) = lower(operators.name)) = 1);
UPDATE operator_sessions SET operator = lower(operator) WHERE operator IN (
    SELECT name FROM operators WHERE name <> lower(name)
      AND (SELECT COUNT(*) FROM operators o2 WHERE lower(o2.name) = lower(operators.name)) = 1);
UPDATE operators SET name = lower(name) WHERE name <> lower(name)
  AND (SELECT COUNT(*) FROM operators o2 WHERE lower(o2.name) = lower(operators.name)) = 1;
