-- Version 15: the public ledger names operators by keyed pseudonym only
-- (its entries are served to anyone); this table resolves a pseudonym to
-- the name for whoever may see it, such as the evidence export an
-- authority receives. A row is written in the transaction of the first
-- entry that names the pseudonym.
CREATE TABLE operator_pseudonyms (
    pseudonym  TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    first_at   BIGINT NOT NULL
);

-- A report filed in answer to a request for more information names the
-- case it follows up; that case is then closed as superseded.
ALTER TABLE reports ADD COLUMN follows TEXT NOT NULL DEFAULT '';
