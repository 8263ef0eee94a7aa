-- Version 18: a snapshot's lineage (what it kept of each account) is stored
-- as a few hundred blobs per snapshot instead of one row per account. Rows
-- cost 6 s per million accounts to insert on SQLite (and 170 bytes each on
-- PostgreSQL with their indexes), which made registering a large snapshot
-- slower than filtering it. An account's entry is found by hashing its key
-- to one of the snapshot's lineage_buckets (see internal/store/lineage.go);
-- the rows of snapshot_accounts written before this version are still read.
ALTER TABLE snapshots ADD COLUMN lineage_buckets BIGINT NOT NULL DEFAULT 0;
CREATE TABLE snapshot_lineage (
    snapshot_id TEXT   NOT NULL,
    bucket      BIGINT NOT NULL,
    accounts    BIGINT NOT NULL,
    data        BYTEA  NOT NULL,
    PRIMARY KEY (snapshot_id, bucket)
);
