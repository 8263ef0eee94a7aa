-- Version 12: the operator console's people. Passwords are argon2id hashes
-- (PHC strings), set-up links and sessions are kept only as keyed hashes of
-- their tokens, and failed logins are kept just long enough to lock a name
-- or a client address out for the rest of the window.
CREATE TABLE operators (
    name            TEXT   PRIMARY KEY,
    role            TEXT   NOT NULL,            -- reviewer | admin
    password_hash   TEXT   NOT NULL DEFAULT '', -- '' until the set-up link is used
    totp_secret     TEXT   NOT NULL DEFAULT '', -- base32; '' = no second factor
    totp_last_step  BIGINT NOT NULL DEFAULT 0,  -- the last time step accepted, so a code works once
    created_at      BIGINT NOT NULL,
    created_by      TEXT   NOT NULL DEFAULT '',
    setup_at        BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE operator_setup_tokens (
    hash        TEXT   PRIMARY KEY,
    operator    TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX operator_setup_tokens_operator ON operator_setup_tokens (operator);

CREATE TABLE operator_sessions (
    hash          TEXT   PRIMARY KEY,
    operator      TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL                -- absolute expiry
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator);

-- One row per failed login, under two keys: the name tried and the client
-- address, each hashed with the installation's key.
CREATE TABLE operator_login_failures (
    key  TEXT   NOT NULL,
    at   BIGINT NOT NULL
);
CREATE INDEX operator_login_failures_key ON operator_login_failures (key, at);
