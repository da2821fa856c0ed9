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

-- What rules did, so each fires at most once per triggering event (trigger_key, e.g. `message:42`),
-- and a once-per-episode rule at most once per ticket and episode (episode_key, the core's
-- `Episode::as_key`; NULL for rules without that limit, and NULLs never conflict). The rules
-- worker inserts the row before it runs the actions: a conflict means it already fired.
CREATE TABLE rule_firings (
    id          INTEGER PRIMARY KEY,
    rule_id     INTEGER  NOT NULL REFERENCES rules(id) ON DELETE CASCADE,
    ticket_id   INTEGER  NOT NULL,
    episode_key TEXT,
    trigger_key TEXT NOT NULL,
    fired_at    INTEGER  NOT NULL,
    UNIQUE (rule_id, ticket_id, episode_key),
    UNIQUE (rule_id, trigger_key)
);
