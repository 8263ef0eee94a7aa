-- Version 17: "my data" lists an address's reports by its keyed e-mail
-- hash (the address itself is blanked after the decision), so that lookup
-- gets an index as the consents' has.
CREATE INDEX reports_email ON reports (email_hash);
