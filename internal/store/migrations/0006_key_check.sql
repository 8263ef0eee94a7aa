-- Version 6: a check value of the master key (a keyed hash of a constant),
-- so a store refuses a key other than the one its hashes were made with.
CREATE TABLE key_check (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
