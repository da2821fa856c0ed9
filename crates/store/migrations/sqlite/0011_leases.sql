-- Leases (issue 12, SPEC 12): one instance at a time holds a named piece of work, renewing it while it
-- is alive. `send:<business_number_id>` is the right to send for one business number, so its
-- throughput limit and every customer's pair rate are kept by one process; `instance:<id>` is an
-- instance's heartbeat; `media` and `template-sync` keep those workers to one instance.
-- `generation` grows each time a lease changes hands: a claim is stamped with its number's generation
-- and a send starts only while that generation is still its owner's (fencing).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT,
    generation INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL DEFAULT 0
);
-- The generation of the `send:` lease the row was claimed under.
ALTER TABLE outbox ADD COLUMN claim_generation INTEGER;
-- From here on an attempt row is written when the request is about to leave, not when the row is
-- claimed: a recovered claim without an attempt row was never sent.
