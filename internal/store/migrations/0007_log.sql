-- Version 7: the verifiable log. Every ledger entry is a leaf of an
-- RFC 6962 Merkle tree. log_hashes keeps the tree's stored hashes in the
-- layout of golang.org/x/mod/sumdb/tlog (idx = tlog.StoredHashIndex(level,
-- n)), written in the same transaction as the entry. log_head holds the tree
-- size those hashes cover and the latest signed checkpoint (a C2SP signed
-- note), re-signed in every write batch that appends, and the verifier key
-- of the key that signs it: a store refuses to be signed by another key.
CREATE TABLE log_hashes (
    idx  BIGINT PRIMARY KEY,
    hash BYTEA  NOT NULL
);
CREATE TABLE log_head (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    size       BIGINT NOT NULL,
    root       TEXT   NOT NULL DEFAULT '',
    checkpoint TEXT   NOT NULL DEFAULT '',
    signed_at  BIGINT NOT NULL DEFAULT 0,
    verifier   TEXT   NOT NULL DEFAULT ''
);
INSERT INTO log_head (id, size) VALUES (1, 0);
