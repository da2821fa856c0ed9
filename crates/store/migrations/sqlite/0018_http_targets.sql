-- HTTP targets (issue 14 item 4, SPEC 10): where the `call_http` action POSTs signed JSON, and the
-- durable queue of deliveries to them. A delivery keeps its webhook_id (the `webhook-id` header,
-- unique: enqueueing the same event twice queues it once) across every attempt, is retried with
-- backoff until it is delivered or given up, and is the target's delivery log.
--   failing_since: set by the first failed attempt after a success, cleared by the next success; a
--                  target failing for long is shown as needing attention.
CREATE TABLE http_targets (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    failing_since   INTEGER,
    last_success_at INTEGER
);

--   state: pending (next_attempt_at says when) | delivered | gave_up
CREATE TABLE http_deliveries (
    id              INTEGER PRIMARY KEY,
    target_id       INTEGER NOT NULL REFERENCES http_targets(id) ON DELETE CASCADE,
    webhook_id      TEXT    NOT NULL UNIQUE,
    ticket_id       INTEGER,
    event_type      TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_by      TEXT,
    claimed_until   INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX http_deliveries_due ON http_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX http_deliveries_by_target ON http_deliveries (target_id, id);
