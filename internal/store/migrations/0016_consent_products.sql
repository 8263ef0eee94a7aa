-- Version 16: consent withdrawn for some products. A withdrawal for some
-- products ends each consent that covers an account of them and records, at
-- the same moment, a consent for the accounts it also covered (remainder_of
-- names the consent it continues); the withdrawal keeps its scope and what
-- it ended and left in force, for its confirmation.
ALTER TABLE consents ADD COLUMN remainder_of TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_withdrawals ADD COLUMN scope TEXT NOT NULL DEFAULT 'all';
ALTER TABLE consent_withdrawals ADD COLUMN products_ended TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_withdrawals ADD COLUMN products_kept TEXT NOT NULL DEFAULT '';
