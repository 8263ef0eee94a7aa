-- Version 2: what the training-data filter needs.

-- Notes on objections that came in by letter, support e-mail or a previous system.
ALTER TABLE objections ADD COLUMN note TEXT NOT NULL DEFAULT '';

-- Consent (opt-in mode): given and withdrawn like objections.
CREATE TABLE consents (
    id            TEXT   PRIMARY KEY,
    email_hash    TEXT   NOT NULL DEFAULT '',
    scope         TEXT   NOT NULL,
    channel       TEXT   NOT NULL,
    given_at      BIGINT NOT NULL,
    withdrawn_at  BIGINT NOT NULL DEFAULT 0,
    ledger_seq    BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE consent_accounts (
    consent_id  TEXT NOT NULL,
    product     TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    PRIMARY KEY (consent_id, product, account_id)
);

-- Items kept out of every snapshot: take-downs, people without accounts.
CREATE TABLE item_exclusions (
    item_id     TEXT   PRIMARY KEY,
    reason      TEXT   NOT NULL DEFAULT '',
    added_at    BIGINT NOT NULL,
    ledger_seq  BIGINT NOT NULL DEFAULT 0
);

-- Training snapshots the filter built, with the manifest that proves them.
CREATE TABLE snapshots (
    id               TEXT   PRIMARY KEY,
    created_at       BIGINT NOT NULL,
    as_of            BIGINT NOT NULL,
    policy_sha256    TEXT   NOT NULL,
    eligibility_seq  BIGINT NOT NULL,   -- ledger head the eligibility was read at
    eligibility_hash TEXT   NOT NULL,
    records_read     BIGINT NOT NULL,
    records_kept     BIGINT NOT NULL,
    manifest         TEXT   NOT NULL,
    manifest_sha256  TEXT   NOT NULL,
    ledger_seq       BIGINT NOT NULL DEFAULT 0
);
