-- Rules (issue 13, SPEC 10): triggers and automations, each kept as the JSON of the core's RuleDraft
-- as validated by the core before it is stored. name, enabled, position and event are copied out of
-- the JSON so lists and the rules worker can filter and order without parsing every rule.
CREATE TABLE rules (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    enabled    INTEGER NOT NULL,
    position   INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    rule       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT,
    updated_at INTEGER NOT NULL,
    updated_by TEXT
);
CREATE INDEX rules_by_event ON rules (event, position, id);

-- The shipped default rules are seeded once, into an empty table; this row records that it
-- happened, so a default an admin deleted is never re-created on the next start.
CREATE TABLE rules_seeded (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seeded_at INTEGER NOT NULL
);

-- The customer's window episode (core `WindowEpisode`): when the message that opened the current
-- window was sent. Kept beside the window and advanced in the same ingest transaction, because the
-- window alone cannot say when it opened; once-per-episode rules key their firings on it. NULL for a
-- customer who never wrote (or wrote before this column existed: the core then takes the last
-- inbound message as the start).
ALTER TABLE identities ADD COLUMN window_episode_at INTEGER;
