-- Version 18: a snapshot's lineage (what it kept of each account) is stored
-- as blobs of up to 4,096 accounts each instead of one row per account.
-- Rows cost 6 s per million accounts to insert on SQLite (and 170 bytes
-- each on PostgreSQL with their indexes), which made registering a large
-- snapshot slower than filtering it. Each blob holds a run of accounts in
-- ascending key order (product, a zero byte, account id) from first_key to
-- last_key, so an account is found in the blobs whose range holds its key
-- (see internal/store/lineage.go). The rows of snapshot_accounts written
-- before this version are still read.
CREATE TABLE snapshot_lineage (
    snapshot_id TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    first_key   BYTEA  NOT NULL,
    last_key    BYTEA  NOT NULL,
    accounts    BIGINT NOT NULL,
    data        BYTEA  NOT NULL,
    PRIMARY KEY (snapshot_id, seq)
);
CREATE INDEX snapshot_lineage_by_key ON snapshot_lineage (first_key);
