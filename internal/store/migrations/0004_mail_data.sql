-- Version 4: mails are stored as their template data and rendered when sent,
-- so queuing one writes a few hundred bytes inside the state change's
-- transaction instead of the rendered text and HTML.
ALTER TABLE outbox ADD COLUMN data TEXT NOT NULL DEFAULT '';
