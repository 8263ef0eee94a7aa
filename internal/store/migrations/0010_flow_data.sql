-- Version 10: code flows other packages own (reports, consent) keep what the
-- person asked for with the request until the code confirms it: JSON, read
-- only by the flow's own package. Blanked with the address when the flow ends.
ALTER TABLE code_requests ADD COLUMN data TEXT NOT NULL DEFAULT '';
