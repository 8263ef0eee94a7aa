-- Version 13: consent given and withdrawn through the portal (policy mode
-- consent). A consent keeps the request that gave it, the language its
-- mails speak and the withdrawal that ended it; a withdrawal of consent is
-- its own record with its own reference, as an objection's withdrawal is.
ALTER TABLE consents ADD COLUMN lang TEXT NOT NULL DEFAULT '';
ALTER TABLE consents ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE consents ADD COLUMN withdrawal_ref TEXT NOT NULL DEFAULT '';
CREATE INDEX consents_email ON consents (email_hash);
CREATE TABLE consent_withdrawals (
    id            TEXT   PRIMARY KEY,          -- the reference number
    email_hash    TEXT   NOT NULL,
    request_id    TEXT   NOT NULL DEFAULT '',
    channel       TEXT   NOT NULL,
    withdrawn_at  BIGINT NOT NULL,
    ended         BIGINT NOT NULL,             -- consents it ended
    ledger_seq    BIGINT NOT NULL
);
