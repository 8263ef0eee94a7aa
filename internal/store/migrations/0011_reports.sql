-- Version 11: reports of content that shows someone ("content that shows
-- me"), filed with or without an account, and decided in the review queue.
-- The address is kept only until the decision mail is queued (the answer
-- Art. 12(4) GDPR requires), then blanked; the description is the person's
-- own words and never enters the ledger.
CREATE TABLE reports (
    id           TEXT   PRIMARY KEY,          -- the reference number
    request_id   TEXT   NOT NULL,
    email_hash   TEXT   NOT NULL,
    email        TEXT   NOT NULL DEFAULT '',
    lang         TEXT   NOT NULL,
    relation     TEXT   NOT NULL,             -- me | my_child | other
    description  TEXT   NOT NULL DEFAULT '',
    account      TEXT   NOT NULL DEFAULT '',  -- the account the person says they have
    channel      TEXT   NOT NULL,
    status       TEXT   NOT NULL,             -- in_review | info_requested | approved | rejected
    received_at  BIGINT NOT NULL,
    ledger_seq   BIGINT NOT NULL DEFAULT 0,   -- report.received
    decided_at   BIGINT NOT NULL DEFAULT 0,
    decided_by   TEXT   NOT NULL DEFAULT '',
    note         TEXT   NOT NULL DEFAULT '',  -- the reason the person was told
    decision_seq BIGINT NOT NULL DEFAULT 0    -- report.decided
);
CREATE INDEX reports_status ON reports (status, received_at);
CREATE INDEX reports_request ON reports (request_id);

CREATE TABLE report_items (
    report_id  TEXT    NOT NULL,
    pos        INTEGER NOT NULL,
    item_id    TEXT    NOT NULL,
    PRIMARY KEY (report_id, pos)
);
