-- notrain schema, version 1. Portable SQL: BIGINT and TEXT only, times as
-- Unix microseconds (UTC), 0 meaning "not set". Runs unchanged on SQLite
-- and PostgreSQL.

CREATE TABLE accounts (
    product     TEXT   NOT NULL,
    account_id  TEXT   NOT NULL,
    email_hash  TEXT   NOT NULL DEFAULT '',  -- keyed hash of the canonical address; '' = none
    birthdate   TEXT   NOT NULL DEFAULT '',  -- YYYY-MM-DD; '' = unknown
    handle      TEXT   NOT NULL DEFAULT '',
    link_group  TEXT   NOT NULL DEFAULT '',
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (product, account_id)
);
CREATE INDEX accounts_email ON accounts (email_hash);
CREATE INDEX accounts_group ON accounts (link_group);

-- A code flow: someone asked to object or withdraw and was sent a code.
CREATE TABLE code_requests (
    id            TEXT    PRIMARY KEY,
    kind          TEXT    NOT NULL,            -- objection | withdrawal
    email_hash    TEXT    NOT NULL,
    email         TEXT    NOT NULL,            -- delivery address; blanked when the flow ends
    known         BIGINT  NOT NULL,            -- 1 when an account used the address at the start
    lang          TEXT    NOT NULL,
    scope         TEXT    NOT NULL,            -- "all" or a comma-separated product list
    reason        TEXT    NOT NULL DEFAULT '',
    channel       TEXT    NOT NULL,            -- web | api
    code_hash     TEXT    NOT NULL,
    code_sent_at  BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    attempts      BIGINT  NOT NULL DEFAULT 0,
    used_at       BIGINT  NOT NULL DEFAULT 0,
    result_ref    TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL
);
CREATE INDEX code_requests_expiry ON code_requests (expires_at) WHERE email <> '';

CREATE TABLE objections (
    id              TEXT   PRIMARY KEY,        -- the reference number
    email_hash      TEXT   NOT NULL DEFAULT '',
    scope           TEXT   NOT NULL,
    reason          TEXT   NOT NULL DEFAULT '',
    channel         TEXT   NOT NULL,           -- web | api | email | letter | import …
    status          TEXT   NOT NULL,           -- accepted | in_review | rejected
    lang            TEXT   NOT NULL DEFAULT '',
    request_id      TEXT   NOT NULL DEFAULT '',
    received_at     BIGINT NOT NULL,
    effective_at    BIGINT NOT NULL DEFAULT 0,
    withdrawn_at    BIGINT NOT NULL DEFAULT 0,
    withdrawal_ref  TEXT   NOT NULL DEFAULT '',
    ledger_seq      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX objections_email ON objections (email_hash);

-- The accounts an objection covered when it was accepted (e-mail matches
-- plus their link groups, narrowed by scope).
CREATE TABLE objection_accounts (
    objection_id  TEXT NOT NULL,
    product       TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    PRIMARY KEY (objection_id, product, account_id)
);
CREATE INDEX objection_accounts_account ON objection_accounts (product, account_id);

CREATE TABLE withdrawals (
    id            TEXT   PRIMARY KEY,          -- the reference number
    email_hash    TEXT   NOT NULL,
    request_id    TEXT   NOT NULL DEFAULT '',
    channel       TEXT   NOT NULL,
    withdrawn_at  BIGINT NOT NULL,
    ended         BIGINT NOT NULL,             -- objections it ended
    ledger_seq    BIGINT NOT NULL
);

-- Per-address events behind the rate limits (code requests, notices).
CREATE TABLE address_events (
    email_hash  TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX address_events_lookup ON address_events (email_hash, kind, at);

-- Transactional outbox: written with the state change, sent by the dispatcher.
CREATE TABLE outbox (
    id               TEXT   PRIMARY KEY,
    message_id       TEXT   NOT NULL,
    kind             TEXT   NOT NULL,          -- code | no_account | objection_confirmed | withdrawal_confirmed
    request_id       TEXT   NOT NULL DEFAULT '',
    rcpt             TEXT   NOT NULL,
    lang             TEXT   NOT NULL,
    subject          TEXT   NOT NULL,
    text_body        TEXT   NOT NULL,
    html_body        TEXT   NOT NULL,
    status           TEXT   NOT NULL,          -- queued | sent | abandoned
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT   NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX outbox_request ON outbox (request_id);

CREATE TABLE ledger (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    prev_hash  TEXT   NOT NULL,
    hash       TEXT   NOT NULL
);

-- The chain's head, updated in the same transaction as every append: a cut-off
-- tail leaves the head pointing past the end of the chain.
CREATE TABLE ledger_head (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT   NOT NULL
);
INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
