-- Version 8: what each snapshot kept of each account (so a person can be
-- told), the models trained on snapshots, and machine tokens.
CREATE TABLE snapshot_accounts (
    snapshot_id TEXT   NOT NULL,
    product     TEXT   NOT NULL,
    account_id  TEXT   NOT NULL,
    items       BIGINT NOT NULL,
    PRIMARY KEY (snapshot_id, product, account_id)
);
CREATE INDEX snapshot_accounts_by_account ON snapshot_accounts (product, account_id);

CREATE TABLE models (
    id            TEXT   PRIMARY KEY,
    name          TEXT   NOT NULL,
    trained_at    BIGINT NOT NULL DEFAULT 0,
    registered_at BIGINT NOT NULL,
    ledger_seq    BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE model_snapshots (
    model_id    TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    PRIMARY KEY (model_id, snapshot_id)
);
CREATE INDEX model_snapshots_by_snapshot ON model_snapshots (snapshot_id);

-- Bearer tokens for machines (scope "models", later "reviews"), kept only
-- as keyed hashes.
CREATE TABLE api_tokens (
    hash       TEXT   PRIMARY KEY,
    scope      TEXT   NOT NULL,
    name       TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
