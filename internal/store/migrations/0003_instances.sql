-- Version 3: what several instances on one database share.

-- Code requests per client address, behind --ip-rate-limit: kept in the
-- store so every instance counts the same requests.
CREATE TABLE client_events (
    client  TEXT   NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX client_events_lookup ON client_events (client, at);

-- Idempotency-Key: the first answer to a request, replayed for its repeats.
CREATE TABLE idempotency (
    key          TEXT   NOT NULL,
    route        TEXT   NOT NULL,
    fingerprint  TEXT   NOT NULL,   -- SHA-256 of the request
    state        TEXT   NOT NULL,   -- in_flight | done
    status       BIGINT NOT NULL DEFAULT 0,
    content_type TEXT   NOT NULL DEFAULT '',
    retry_after  TEXT   NOT NULL DEFAULT '',
    body         TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    lease_until  BIGINT NOT NULL,
    PRIMARY KEY (key, route)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
