-- Version 5: when mail backs up, codes (someone is waiting for them) go
-- before confirmations (which can wait). 0 = urgent, 1 = can wait.
ALTER TABLE outbox ADD COLUMN priority BIGINT NOT NULL DEFAULT 1;
CREATE INDEX outbox_due_priority ON outbox (priority, next_attempt_at) WHERE status = 'queued';
DROP INDEX outbox_due;
