-- Version 9: short-lived bearer tokens a person gets for "my data" after
-- proving an address with a one-time code. Only the keyed hash of the token
-- is kept, with the e-mail hash it answers for.
CREATE TABLE access_tokens (
    hash       TEXT   PRIMARY KEY,
    email_hash TEXT   NOT NULL,
    request_id TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);
