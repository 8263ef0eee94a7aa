-- Version 19: the ids (jti) of the platform's signed assertions that have
-- been used. An assertion makes an objection without a code, so each one
-- may be used once, across every instance sharing the store: its id is
-- written in the transaction that records the objection. A row can be
-- dropped once its assertion has expired, since an expired assertion is
-- refused before its id is looked at.
CREATE TABLE assertion_ids (
    jti        TEXT   PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX assertion_ids_by_expiry ON assertion_ids (expires_at);
